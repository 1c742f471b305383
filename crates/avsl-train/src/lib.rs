//! All of training (docs/method.md §3–4b): the step engines — our CPU kernels
//! ([`trainable`], [`trunk_train`]), burn operations on any device ([`device_train`],
//! [`device_trunk`]) and data-parallel replicas ([`data_parallel`]) sharing one step
//! definition ([`step_graph`]) — the losses, Adam, dropout and initialisation, the
//! [`trainer::Trainer`] that seeds every source of randomness by (seed, step) so that a run
//! resumed from a checkpoint ([`state_file`]) continues the same trajectory, validation,
//! and SSL-align's neighbour mining.

pub mod adam;
pub mod config;
pub mod data_parallel;
pub mod device_train;
pub mod device_trunk;
pub mod dropout;
pub mod error;
pub mod init;
pub mod loss;
pub mod memory;
pub mod mining;
pub mod neighbour_file;
pub mod neighbours;
pub mod run;
pub mod run_log;
pub mod semi;
pub mod state_file;
pub mod step_graph;
pub mod trainable;
pub mod trainer;
pub mod trunk_train;
pub mod validate;

pub use error::TrainError;
