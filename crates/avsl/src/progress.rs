//! Progress on the console: bars with rate and ETA (hidden when stderr is not a
//! terminal), and the libraries' progress callbacks drawn with them.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};

pub fn bar(len: usize, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {per_sec} ETA {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Training's and mining's reports: lines printed, phases drawn as bars.
#[derive(Default)]
pub struct Console {
    bar: Mutex<Option<ProgressBar>>,
}

impl avsl_data::report::Report for Console {
    fn line(&self, text: &str) {
        match self.bar.lock().expect("progress bar lock").as_ref() {
            Some(bar) => bar.println(text),
            None => println!("{text}"),
        }
    }

    fn note(&self, text: &str) {
        match self.bar.lock().expect("progress bar lock").as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn phase(&self, label: &str, total: usize, done: usize) {
        let new = bar(total, label);
        new.set_position(done as u64);
        *self.bar.lock().expect("progress bar lock") = Some(new);
    }

    fn advance(&self, items: usize, status: Option<&str>) {
        if let Some(bar) = self.bar.lock().expect("progress bar lock").as_ref() {
            if let Some(status) = status {
                bar.set_message(status.to_string());
            }
            bar.inc(items as u64);
        }
    }

    fn phase_end(&self) {
        if let Some(bar) = self.bar.lock().expect("progress bar lock").take() {
            bar.finish_and_clear();
        }
    }
}
