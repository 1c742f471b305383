//! Ctrl-C and `kill` during long commands: the first SIGINT or SIGTERM asks the work to
//! stop where nothing is lost (a flag the library checks between steps or items); a
//! second one ends the process at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Result;

pub struct StopOnSignals {
    stop: Arc<AtomicBool>,
    which: Arc<AtomicUsize>,
}

impl StopOnSignals {
    pub fn register() -> Result<StopOnSignals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let (stop, which) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        for signal in [SIGINT, SIGTERM] {
            // The shutdown must be registered first: it fires only once the flag is set.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop))?;
            signal_hook::flag::register_usize(signal, Arc::clone(&which), signal as usize)?;
            signal_hook::flag::register(signal, Arc::clone(&stop))?;
        }
        Ok(StopOnSignals { stop, which })
    }

    /// Set by the first signal.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// Ends the process as a shell reports one that a signal ended: 130 after SIGINT, 143
    /// after SIGTERM.
    pub fn exit(&self) -> ! {
        std::process::exit(128 + self.which.load(Ordering::SeqCst) as i32)
    }
}
