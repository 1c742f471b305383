//! Advisory locks on what avsl writes (run folders, frame caches, neighbour files, every
//! output folder), so that two processes never write the same place at once.
//!
//! The lock is an OS file lock (`flock` on Unix) on a small file beside what it guards;
//! the OS releases it when the process ends, however it ends. The holder writes its pid
//! and start time into the file, so a second process can say who holds it, and empties
//! the file on release: a record found by the next holder means the last one died
//! holding it, which is said in a note.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{DataError, Result};
use crate::report::Report;

/// The lock file inside a folder it guards.
pub const FOLDER_LOCK: &str = ".avsl-lock";

/// Who holds (or last held) a lock, as its record says.
#[derive(Debug, Clone, PartialEq)]
pub struct Holder {
    pub pid: u32,
    /// UTC, RFC 3339 (`2026-12-06T21:04:05Z`).
    pub since: String,
}

impl Holder {
    fn parse(text: &str) -> Option<Holder> {
        let mut pid = None;
        let mut since = None;
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("pid", v)) => pid = v.trim().parse().ok(),
                Some(("since", v)) => since = Some(v.trim().to_string()),
                _ => {}
            }
        }
        Some(Holder { pid: pid?, since: since? })
    }
}

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct Lock {
    file: File,
    /// What is guarded, as messages name it.
    guarded: PathBuf,
    exclusive: bool,
}

/// A time in UTC, RFC 3339 to the second (`2026-12-06T21:04:05Z`).
pub fn utc(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Now, as [`utc`] writes it.
pub fn utc_now() -> String {
    utc(SystemTime::now())
}

impl Lock {
    /// The exclusive lock on folder `dir` for a process that writes it. Another holder
    /// (writer or reader) is an error at once: "`dir` is in use by process N since T".
    pub fn folder(dir: &Path, report: &dyn Report) -> Result<Lock> {
        Lock::exclusive(&dir.join(FOLDER_LOCK), dir, report)
    }

    /// The exclusive lock on file `path` (held in `.<name>.avsl-lock` beside it: the file
    /// itself is replaced by atomic writes).
    pub fn file(path: &Path, report: &dyn Report) -> Result<Lock> {
        let name = path.file_name().ok_or_else(|| DataError::invalid(path, "no file name"))?;
        let lock = path.with_file_name(format!(".{}.avsl-lock", name.to_string_lossy()));
        Lock::exclusive(&lock, path, report)
    }

    /// A shared lock on folder `dir` for a process that reads it (a cache): many readers
    /// at once; while a writer holds it, waits for the writer to finish, saying so.
    pub fn folder_shared(dir: &Path, report: &dyn Report) -> Result<Lock> {
        let lock_path = dir.join(FOLDER_LOCK);
        let file = open(&lock_path)?;
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                report.line(&format!("{}; waiting for it", in_use(dir, read_holder(&file, &lock_path)?)));
                file.lock_shared().map_err(|e| DataError::io(&lock_path, e))?;
            }
            Err(TryLockError::Error(e)) => return Err(DataError::io(&lock_path, e)),
        }
        Ok(Lock { file, guarded: dir.to_path_buf(), exclusive: false })
    }

    /// Turns a shared lock into the exclusive one (to rebuild what it guards); another
    /// holder is an error at once, as in [`Lock::folder`].
    pub fn upgrade(self, report: &dyn Report) -> Result<Lock> {
        let guarded = self.guarded.clone();
        // Released first: two readers upgrading at once would otherwise wait on each other.
        drop(self);
        Lock::exclusive(&guarded.join(FOLDER_LOCK), &guarded, report)
    }

    /// Keeps the lock as a reader's (after writing, so that others may read).
    pub fn downgrade(mut self) -> Result<Lock> {
        if self.exclusive {
            self.clear()?;
            self.file.lock_shared().map_err(|e| DataError::io(&self.guarded, e))?;
            self.exclusive = false;
        }
        Ok(self)
    }

    fn exclusive(lock_path: &Path, guarded: &Path, report: &dyn Report) -> Result<Lock> {
        let mut file = open(lock_path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let message = in_use(guarded, read_holder(&file, lock_path)?);
                return Err(DataError::InUse { path: guarded.to_path_buf(), message });
            }
            Err(TryLockError::Error(e)) => return Err(DataError::io(lock_path, e)),
        }
        if let Some(dead) = read_holder(&file, lock_path)? {
            report.note(&format!(
                "note: {} was locked by process {} since {}, which ended without releasing it; taking it over",
                guarded.display(),
                dead.pid,
                dead.since
            ));
        }
        let record = format!("pid {}\nsince {}\n", std::process::id(), utc_now());
        let written = file.set_len(0).and_then(|()| file.seek(SeekFrom::Start(0))).and_then(|_| {
            file.write_all(record.as_bytes())?;
            file.flush()
        });
        written.map_err(|e| DataError::io(lock_path, e))?;
        Ok(Lock { file, guarded: guarded.to_path_buf(), exclusive: true })
    }

    fn clear(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(|e| DataError::io(&self.guarded, e))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // An empty record tells the next holder that this one let go (closing the file,
        // right after, releases the lock itself).
        if self.exclusive {
            let _ = self.clear();
        }
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| DataError::io(path, e))
}

fn read_holder(mut file: &File, path: &Path) -> Result<Option<Holder>> {
    let mut text = String::new();
    let read = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_string(&mut text));
    read.map_err(|e| DataError::io(path, e))?;
    Ok(Holder::parse(&text))
}

fn in_use(guarded: &Path, holder: Option<Holder>) -> String {
    match holder {
        Some(h) => format!("{} is in use by process {} since {}", guarded.display(), h.pid, h.since),
        None => format!("{} is in use by another process (reading it)", guarded.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Quiet;

    /// Records what the lock said.
    #[derive(Default)]
    struct Notes(std::sync::Mutex<Vec<String>>);

    impl Report for Notes {
        fn line(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_string());
        }
        fn note(&self, text: &str) {
            self.0.lock().unwrap().push(text.to_string());
        }
        fn phase(&self, _: &str, _: usize, _: usize) {}
        fn advance(&self, _: usize, _: Option<&str>) {}
        fn phase_end(&self) {}
    }

    #[test]
    fn a_second_writer_is_refused_naming_the_holder_and_a_released_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let held = Lock::folder(dir.path(), &Quiet).unwrap();
        let err = Lock::folder(dir.path(), &Quiet).unwrap_err().to_string();
        let expected = format!("{} is in use by process {} since ", dir.path().display(), std::process::id());
        assert!(err.starts_with(&expected), "{err}");
        assert!(err.ends_with('Z'), "{err}");
        drop(held);
        let notes = Notes::default();
        let again = Lock::folder(dir.path(), &notes).unwrap();
        assert!(notes.0.lock().unwrap().is_empty(), "a released lock is taken without a note");
        drop(again);
    }

    #[test]
    fn readers_share_and_keep_writers_out() {
        let dir = tempfile::tempdir().unwrap();
        let a = Lock::folder_shared(dir.path(), &Quiet).unwrap();
        let b = Lock::folder_shared(dir.path(), &Quiet).unwrap();
        let err = Lock::folder(dir.path(), &Quiet).unwrap_err().to_string();
        assert!(err.ends_with("is in use by another process (reading it)"), "{err}");
        drop(b);
        let writer = a.upgrade(&Quiet).unwrap();
        let reader = writer.downgrade().unwrap();
        assert!(Lock::folder_shared(dir.path(), &Quiet).is_ok(), "a downgraded lock lets readers in");
        drop(reader);
    }

    #[test]
    fn a_reader_waits_for_the_writer_saying_so() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Lock::folder(dir.path(), &Quiet).unwrap();
        let notes = std::sync::Arc::new(Notes::default());
        let reader = {
            let (dir, notes) = (dir.path().to_path_buf(), std::sync::Arc::clone(&notes));
            std::thread::spawn(move || Lock::folder_shared(&dir, &*notes).map(drop))
        };
        // The writer lets go only once the reader has said that it waits.
        while notes.0.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        let said = notes.0.lock().unwrap().join("\n");
        let expected = format!("is in use by process {} since", std::process::id());
        assert!(said.contains(&expected) && said.ends_with("; waiting for it"), "{said}");
        drop(writer);
        reader.join().unwrap().unwrap();
    }

    #[test]
    fn the_record_of_a_holder_that_died_is_taken_over_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        // What a process killed while holding the lock leaves: its record, no lock.
        std::fs::write(dir.path().join(FOLDER_LOCK), "pid 4242\nsince 2026-12-06T10:00:00Z\n").unwrap();
        let notes = Notes::default();
        let _lock = Lock::folder(dir.path(), &notes).unwrap();
        let said = notes.0.lock().unwrap().join("\n");
        assert!(said.contains("locked by process 4242 since 2026-12-06T10:00:00Z, which ended"), "{said}");
    }

    #[test]
    fn a_file_lock_lies_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("neighbours.safetensors");
        let _lock = Lock::file(&target, &Quiet).unwrap();
        assert!(dir.path().join(".neighbours.safetensors.avsl-lock").is_file());
        let err = Lock::file(&target, &Quiet).unwrap_err().to_string();
        assert!(err.contains("neighbours.safetensors is in use by process"), "{err}");
    }
}
