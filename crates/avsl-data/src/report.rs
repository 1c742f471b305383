//! How long jobs (training, mining, evaluation) tell the person running them what
//! happens: lines and phases of counted work, through callbacks the caller implements (the
//! CLI prints lines and draws progress bars; tests and other libraries stay silent with
//! [`Quiet`]).

use std::path::Path;

pub trait Report: Sync {
    /// A line for the person running the job.
    fn line(&self, text: &str);
    /// A warning or a note about what the job did on its own (the CLI writes it to stderr).
    fn note(&self, text: &str);
    /// A phase of `total` items starts, `done` of them already done.
    fn phase(&self, label: &str, total: usize, done: usize);
    /// `items` more done in the current phase, with a short status (`loss 0.1234`).
    fn advance(&self, items: usize, status: Option<&str>);
    /// The current phase is over.
    fn phase_end(&self);
    /// An epoch's log line and checkpoints are written in the run folder `run`.
    fn epoch_written(&self, _run: &Path) {}
}

/// Says nothing.
pub struct Quiet;

impl Report for Quiet {
    fn line(&self, _: &str) {}
    fn note(&self, _: &str) {}
    fn phase(&self, _: &str, _: usize, _: usize) {}
    fn advance(&self, _: usize, _: Option<&str>) {}
    fn phase_end(&self) {}
}
