//! Follow mode's view of sources (`--follow`): a source that does not exist yet, or a local file
//! that is still being written, is *not yet* there ([`ErrorKind::NotYet`]) rather than missing or
//! broken, and a half-written file is never handed to a plugin.
//!
//! This lives in the host's services, not in each plugin: every plugin, built in or a user's
//! library, reads through them, so one check covers all of them without any plugin knowing
//! about `--follow`, and a plugin only has to pass the error kind on.
//!
//! A local file is *settled* — safe to read — when its size and mtime have not changed for the
//! settle time (`--settle-secs`). Two clocks say so: the file's mtime (a file last written an hour
//! ago is settled at first sight, so following a job whose sources are all there reads them at
//! once), and, for a file seen changing, our own clock since we first saw its current size and
//! mtime (which also covers a file server whose clock runs ahead of ours). `s3://` and `http(s)://`
//! objects appear whole, so only their absence matters.
//!
//! Observations are kept only for files that were not settled at first sight, i.e. files written
//! while the run follows them; a file is forgotten once its mtime alone shows it settled.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use plugin_abi::{io_error, ErrorKind, PluginError};

/// What a local file looks like at one look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Look {
    pub size: u64,
    pub mtime: SystemTime,
}

/// A file's state the first time we saw it as it is now.
#[derive(Clone, Copy, Debug)]
struct Seen {
    look: Look,
    since: Instant,
    /// Settled by our clock (its mtime alone does not say so yet).
    settled: bool,
}

/// The verdict on a local file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Unchanged for at least the settle time: read it.
    Settled,
    /// Changed `ago` ago (by the later of its mtime and our own first sight of it as it is).
    Settling { ago: Duration },
}

/// Follow mode's source checks, shared by every processor of a run.
#[derive(Debug)]
pub struct Settle {
    settle: Duration,
    seen: Mutex<HashMap<String, Seen>>,
}

impl Settle {
    /// Files must be unchanged for `settle` before they are read (`Duration::ZERO` reads any file
    /// that exists, even one still being written).
    pub fn new(settle: Duration) -> Settle {
        Settle {
            settle,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `Ok` when the local file at `path` may be read now; else a [`ErrorKind::NotYet`] error
    /// naming it (missing, or still being written), or the I/O error of looking at it.
    pub fn check_local(&self, path: &str) -> Result<(), PluginError> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.forget(path);
                return Err(not_there(path));
            }
            Err(e) => return Err(io_error(path, &e)),
        };
        let look = Look {
            size: meta.len(),
            mtime: meta.modified().map_err(|e| io_error(path, &e))?,
        };
        match self.judge(path, look, SystemTime::now(), Instant::now()) {
            Verdict::Settled => Ok(()),
            Verdict::Settling { ago } => Err(PluginError::not_yet(format!(
                "{path}: still being written (size {} bytes, changed {:.1} s ago); it is read \
                 once unchanged for {} s (--settle-secs)",
                look.size,
                ago.as_secs_f64(),
                self.settle.as_secs()
            ))),
        }
    }

    /// The verdict on `path` looking like `look` at wall time `now` and monotonic time `mono`,
    /// remembering what it saw.
    pub fn judge(&self, path: &str, look: Look, now: SystemTime, mono: Instant) -> Verdict {
        // A file whose mtime lies in the future has no age by its mtime: only our clock counts.
        let by_mtime = now.duration_since(look.mtime).unwrap_or(Duration::ZERO);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if by_mtime >= self.settle {
            seen.remove(path);
            return Verdict::Settled;
        }
        let entry = seen
            .entry(path.to_string())
            .and_modify(|s| {
                if s.look != look {
                    *s = Seen {
                        look,
                        since: mono,
                        settled: false,
                    }
                }
            })
            .or_insert(Seen {
                look,
                since: mono,
                settled: false,
            });
        let ago = by_mtime.max(mono.saturating_duration_since(entry.since));
        entry.settled = ago >= self.settle;
        if entry.settled {
            Verdict::Settled
        } else {
            Verdict::Settling { ago }
        }
    }

    /// Whether the last look at `location` found it still being written.
    pub fn settling(&self, location: &str) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(location)
            .is_some_and(|s| !s.settled)
    }

    fn forget(&self, path: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(path);
    }
}

/// A source that does not exist yet.
pub fn not_there(location: &str) -> PluginError {
    PluginError::not_yet(format!("{location}: not there yet (--follow)"))
}

/// Under follow, a source a remote read found missing is not there *yet*.
pub fn missing_is_not_yet(e: PluginError, location: &str) -> PluginError {
    match e.kind {
        ErrorKind::NotFound => not_there(location),
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(10);

    fn look(size: u64, mtime: SystemTime) -> Look {
        Look { size, mtime }
    }

    #[test]
    fn an_old_file_is_settled_at_first_sight_and_not_remembered() {
        let s = Settle::new(SETTLE);
        let now = SystemTime::now();
        let mono = Instant::now();
        let old = look(100, now - Duration::from_secs(3600));
        assert_eq!(s.judge("a", old, now, mono), Verdict::Settled);
        assert!(!s.settling("a"));
        // Exactly the settle time old is old enough.
        let edge = look(100, now - SETTLE);
        assert_eq!(s.judge("b", edge, now, mono), Verdict::Settled);
    }

    #[test]
    fn a_growing_file_settles_only_once_unchanged_for_the_settle_time() {
        let s = Settle::new(SETTLE);
        let t0 = SystemTime::now();
        let m0 = Instant::now();
        let secs = Duration::from_secs;
        // Written 2 s ago: settling for 2 s.
        let first = look(100, t0 - secs(2));
        assert_eq!(
            s.judge("f", first, t0, m0),
            Verdict::Settling { ago: secs(2) }
        );
        assert!(s.settling("f"));
        // 5 s later it has grown: the clock starts again at its new mtime.
        let grown = look(200, t0 + secs(5));
        assert_eq!(
            s.judge("f", grown, t0 + secs(5), m0 + secs(5)),
            Verdict::Settling {
                ago: Duration::ZERO
            }
        );
        // 9 s after that, unchanged: still 1 s short.
        assert_eq!(
            s.judge("f", grown, t0 + secs(14), m0 + secs(14)),
            Verdict::Settling { ago: secs(9) }
        );
        // 10 s unchanged: settled, and forgotten.
        assert_eq!(
            s.judge("f", grown, t0 + secs(15), m0 + secs(15)),
            Verdict::Settled
        );
        assert!(!s.settling("f"));
    }

    #[test]
    fn a_size_change_with_the_same_mtime_restarts_our_clock() {
        // Coarse mtimes (1 s or 2 s on some file systems) can hide a write: size counts too.
        let s = Settle::new(SETTLE);
        let secs = Duration::from_secs;
        let (t0, m0) = (SystemTime::now(), Instant::now());
        let mtime = t0 + secs(60); // a file server clock a minute ahead of ours
        assert_eq!(
            s.judge("f", look(10, mtime), t0, m0),
            Verdict::Settling {
                ago: Duration::ZERO
            }
        );
        assert_eq!(
            s.judge("f", look(20, mtime), t0 + secs(8), m0 + secs(8)),
            Verdict::Settling {
                ago: Duration::ZERO
            }
        );
        assert_eq!(
            s.judge("f", look(20, mtime), t0 + secs(17), m0 + secs(17)),
            Verdict::Settling { ago: secs(9) }
        );
        assert_eq!(
            s.judge("f", look(20, mtime), t0 + secs(18), m0 + secs(18)),
            Verdict::Settled
        );
        assert!(!s.settling("f"));
    }

    #[test]
    fn zero_settle_reads_any_file_that_exists() {
        let s = Settle::new(Duration::ZERO);
        let now = SystemTime::now();
        let fresh = look(1, now + Duration::from_secs(5));
        assert_eq!(s.judge("f", fresh, now, Instant::now()), Verdict::Settled);
    }

    #[test]
    fn local_checks_name_the_file_and_say_what_to_wait_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.png");
        let path = path.to_str().unwrap();
        let s = Settle::new(SETTLE);
        let e = s.check_local(path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotYet);
        assert_eq!(e.message, format!("{path}: not there yet (--follow)"));
        std::fs::write(path, b"12345").unwrap();
        let e = s.check_local(path).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotYet);
        let expected = format!("{path}: still being written (size 5 bytes, changed ");
        assert!(e.message.starts_with(&expected), "{}", e.message);
        assert!(
            e.message
                .ends_with(" s ago); it is read once unchanged for 10 s (--settle-secs)"),
            "{}",
            e.message
        );
        assert!(Settle::new(Duration::ZERO).check_local(path).is_ok());
    }

    #[test]
    fn remote_missing_becomes_not_yet_and_other_errors_stay() {
        let e = missing_is_not_yet(
            PluginError::not_found("s3://b/k: file not found"),
            "s3://b/k",
        );
        assert_eq!(
            e,
            PluginError::not_yet("s3://b/k: not there yet (--follow)")
        );
        let denied = PluginError::denied("s3://b/k: AccessDenied");
        assert_eq!(missing_is_not_yet(denied.clone(), "s3://b/k"), denied);
    }
}
