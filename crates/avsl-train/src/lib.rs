//! Training SLAVC and EZ-VSL (METHOD §3–4): one optimisation step at a time
//! ([`trainer::Trainer`]), with every source of randomness seeded by (seed, step) so that a
//! run resumed from a checkpoint ([`state_file`]) continues the same trajectory.

pub mod config;
pub mod dropout;
pub mod init;
pub mod semi;
pub mod state_file;
pub mod trainer;
pub mod validate;
