//! What the SQLite engine knows about the health of its database file: whether it is still the
//! file at the configured path, whether it passed its integrity check, whether it is corrupt, and
//! whether it takes writes. Readiness reports it; reads and writes refuse to go on without it.

use std::io;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::storage::StorageError;

/// Which file a path names: its device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The file at `path` now. Reads the directory entry only: opening the database file from
    /// outside SQLite and closing it again would drop SQLite's POSIX locks on it.
    pub fn of(path: &Path) -> io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        })
    }
}

/// The path of a database's write-ahead log.
pub fn wal_path(path: &Path) -> PathBuf {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

pub struct Health {
    path: PathBuf,
    /// The integrity check at start-up passed.
    checked: AtomicBool,
    /// The file at the configured path is not the one open (removed, moved or replaced).
    detached: AtomicBool,
    corrupt: Mutex<Option<String>>,
    /// Why the last write failed, while writes keep failing.
    write_fault: Mutex<Option<String>>,
}

impl Health {
    pub fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            checked: AtomicBool::new(false),
            detached: AtomicBool::new(false),
            corrupt: Mutex::new(None),
            write_fault: Mutex::new(None),
        }
    }

    pub fn checked(&self) {
        self.checked.store(true, Ordering::Release);
    }

    pub fn corrupt(&self, why: &str) {
        let mut corrupt = lock(&self.corrupt);
        if corrupt.is_none() {
            tracing::error!(
                file = %self.path.display(),
                problem = why,
                "the database file is corrupt; not ready until it is repaired or restored and the server restarted"
            );
            *corrupt = Some(why.to_owned());
        }
    }

    pub fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    pub fn set_detached(&self, detached: bool) {
        if self.detached.swap(detached, Ordering::AcqRel) != detached {
            if detached {
                tracing::error!(
                    file = %self.path.display(),
                    "the database file open is no longer the file at this path (removed, moved or \
                     replaced): refusing reads and writes until it is back"
                );
            } else {
                tracing::warn!(file = %self.path.display(), "the database file is back at its path");
            }
        }
    }

    pub fn write_failed(&self, why: String) {
        let mut fault = lock(&self.write_fault);
        if fault.is_none() {
            tracing::warn!(file = %self.path.display(), error = why, "writes fail; not ready until one succeeds");
        }
        *fault = Some(why);
    }

    pub fn write_succeeded(&self) {
        if lock(&self.write_fault).take().is_some() {
            tracing::info!(file = %self.path.display(), "writes succeed again");
        }
    }

    pub fn has_write_fault(&self) -> bool {
        lock(&self.write_fault).is_some()
    }

    /// Refuses reads and writes of a file that is not at the path any more.
    pub fn attached(&self) -> Result<(), StorageError> {
        if self.is_detached() {
            return Err(StorageError::Unavailable(
                format!(
                    "the database file {} was removed or replaced",
                    self.path.display()
                )
                .into(),
            ));
        }
        Ok(())
    }

    /// Whether the database can serve requests, writes included.
    pub fn status(&self) -> Result<(), StorageError> {
        if let Some(why) = lock(&self.corrupt).as_ref() {
            return Err(StorageError::Internal(
                format!(
                    "the database file {} is corrupt: {why}",
                    self.path.display()
                )
                .into(),
            ));
        }
        self.attached()?;
        if !self.checked.load(Ordering::Acquire) {
            return Err(StorageError::Unavailable(
                "the database file's integrity check has not finished".into(),
            ));
        }
        if let Some(why) = lock(&self.write_fault).as_ref() {
            return Err(StorageError::Unavailable(
                format!("the database does not take writes: {why}").into(),
            ));
        }
        Ok(())
    }
}

// A poisoned lock only means a thread panicked while holding a message; the message is still
// whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
