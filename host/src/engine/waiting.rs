//! Follow mode's bookkeeping (`--follow`): the tiles or chunks whose source is not there yet.
//!
//! Such an item is not a failed attempt. Its message is left alone — not deleted, and its
//! visibility is not changed either, because the real service's job keys do not allow
//! ChangeMessageVisibility — so it comes back after the queue's visibility timeout and is tried
//! again. While any is expected back the queue is not drained, so the run keeps receiving; the
//! run gives up after the follow timeout passes without a new source.
//!
//! Quarantine counts deliveries (the message's ApproximateReceiveCount). Deliveries spent waiting
//! here are subtracted from that count, so a source that appears late still gets every attempt
//! `--max-attempts` allows. (Deliveries to *other* clients following the same job cannot be seen
//! from here; with many followers, raise `--max-attempts`.)
//!
//! Memory: one entry per item waited for, at most the job's number of messages, each forgotten
//! once its item is uploaded or quarantined, or when it stops coming back to this client.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Items waiting for their source, and when a source last turned up.
#[derive(Debug)]
pub struct Waiting {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// By item key: the missing source and when to stop expecting the item back.
    missing: HashMap<String, Missing>,
    /// By item key: deliveries spent waiting, not counted as attempts.
    spent: HashMap<String, u32>,
    /// The source most recently found not there.
    newest: Option<String>,
    /// When a source was last found (or the run started).
    last_found: Instant,
}

#[derive(Debug)]
struct Missing {
    due: Instant,
}

/// What progress shows: "waiting for N sources (newest missing: <file>)".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    pub sources: u64,
    pub newest: Option<String>,
}

impl Pending {
    /// The words progress and the end of a run use; `None` when nothing is waited for.
    pub fn describe(&self) -> Option<String> {
        match (self.sources, &self.newest) {
            (0, _) => None,
            (n, Some(file)) => Some(format!("waiting for {n} sources (newest missing: {file})")),
            (n, None) => Some(format!("waiting for {n} sources")),
        }
    }
}

impl Default for Waiting {
    fn default() -> Self {
        Waiting::new(Instant::now())
    }
}

impl Waiting {
    /// Nothing waited for; the follow timeout counts from `start`.
    pub fn new(start: Instant) -> Waiting {
        Waiting {
            state: Mutex::new(State {
                missing: HashMap::new(),
                spent: HashMap::new(),
                newest: None,
                last_found: start,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `key`'s source (`file`) is not there yet; its message is expected back by `due`.
    pub fn not_yet(&self, key: &str, file: Option<String>, due: Instant) {
        let mut s = self.state();
        s.missing.insert(key.to_string(), Missing { due });
        *s.spent.entry(key.to_string()).or_default() += 1;
        if file.is_some() {
            s.newest = file;
        }
    }

    /// `key`'s source is there (it was read, or failed to read for another reason).
    pub fn found(&self, key: &str, now: Instant) {
        let mut s = self.state();
        if s.missing.remove(key).is_some() {
            s.last_found = now;
        }
    }

    /// A source that was there was read: the follow timeout starts again.
    pub fn progressed(&self, now: Instant) {
        self.state().last_found = now;
    }

    /// `key` is done with (uploaded or quarantined): its waiting is forgotten.
    pub fn done(&self, key: &str) {
        let mut s = self.state();
        s.missing.remove(key);
        s.spent.remove(key);
    }

    /// The delivery count to quarantine by: `receives` less the deliveries spent waiting.
    pub fn attempt(&self, key: &str, receives: u32) -> u32 {
        let spent = self.state().spent.get(key).copied().unwrap_or(0);
        receives.saturating_sub(spent).max(1)
    }

    /// The items still expected back at `now` (others are forgotten: another client has them).
    pub fn pending(&self, now: Instant) -> Pending {
        let mut s = self.state();
        s.missing.retain(|_, m| m.due > now);
        if s.missing.is_empty() {
            s.newest = None;
        }
        Pending {
            sources: s.missing.len() as u64,
            newest: s.newest.clone(),
        }
    }

    /// How long since a source was last found.
    pub fn idle(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.state().last_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_is_not_an_attempt_and_progress_names_the_newest_missing_source() {
        let t0 = Instant::now();
        let w = Waiting::new(t0);
        let later = |s| t0 + Duration::from_secs(s);
        assert_eq!(w.pending(t0).describe(), None);
        w.not_yet("a", Some("/s/a.png".into()), later(60));
        w.not_yet("b", Some("/s/b.png".into()), later(60));
        assert_eq!(
            w.pending(later(1)).describe().as_deref(),
            Some("waiting for 2 sources (newest missing: /s/b.png)")
        );
        // "a" came back twice more, still missing; then it appears and fails for real on its
        // fourth delivery: that is its first attempt.
        w.not_yet("a", Some("/s/a.png".into()), later(70));
        w.not_yet("a", Some("/s/a.png".into()), later(80));
        assert_eq!(w.attempt("a", 4), 1);
        assert_eq!(w.attempt("a", 5), 2);
        assert_eq!(w.attempt("never-waited", 3), 3);
        assert_eq!(w.idle(later(5)), Duration::from_secs(5));
        w.found("a", later(6));
        assert_eq!(w.idle(later(10)), Duration::from_secs(4));
        assert_eq!(w.pending(later(10)).sources, 1);
        // "b" stops coming back (another client took it): forgotten once due.
        assert_eq!(
            w.pending(later(60)),
            Pending {
                sources: 0,
                newest: None
            }
        );
        w.done("a");
        assert_eq!(w.attempt("a", 5), 5);
    }
}
