//! An exclusive lock on a file, for PortMapper's journal (`lib/portmapper/journal.ts`):
//! processes sharing a journal take turns to read and rewrite it, so neither loses what the
//! other wrote. The lock is the system's own (flock(2) on Unix, LockFileEx on Windows): a
//! process that dies holding it (SIGKILL, a power cut) never leaves it held. Node has no file
//! locks, hence this.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::{Duration, Instant};

use napi::{Error, Result, Status};
use napi_derive::napi;

/// How soon a lock another process holds is tried again (it holds it for one read and write).
const RETRY: Duration = Duration::from_millis(2);

/// A held lock; released by `release()` or when collected.
#[napi]
pub struct FileLock {
    file: Option<File>,
}

#[napi]
impl FileLock {
    /// Opens `path` (created when missing, readable by this user only; never written) and
    /// locks it, waiting at most `timeout_ms` for another holder. Blocks the calling thread
    /// meanwhile: a holder keeps it only for milliseconds.
    #[napi(factory)]
    pub fn acquire(path: String, timeout_ms: u32) -> Result<FileLock> {
        let fail = |why: String| Error::new(Status::GenericFailure, format!("{path}: {why}"));
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| fail(e.to_string()))?;
        let give_up = Instant::now() + Duration::from_millis(timeout_ms.into());
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { file: Some(file) }),
                Err(TryLockError::WouldBlock) if Instant::now() < give_up => {
                    std::thread::sleep(RETRY)
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(fail(format!(
                        "locked by another process for more than {timeout_ms} ms"
                    )))
                }
                Err(TryLockError::Error(e)) => return Err(fail(e.to_string())),
            }
        }
    }

    /// Unlocks (closing the file). Idempotent.
    #[napi]
    pub fn release(&mut self) {
        self.file = None;
    }
}

#[cfg(test)]
mod tests {
    use super::FileLock;

    #[test]
    fn a_second_holder_waits_until_the_first_releases() {
        let dir = std::env::temp_dir().join(format!("upnp-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal.lock").to_string_lossy().into_owned();
        let mut first = FileLock::acquire(path.clone(), 0).unwrap();
        // flock(2) locks belong to the open file: a second open conflicts, even in-process.
        let refused = FileLock::acquire(path.clone(), 30).err().unwrap();
        assert!(refused
            .reason
            .contains("locked by another process for more than 30 ms"));
        first.release();
        assert!(FileLock::acquire(path, 0).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
