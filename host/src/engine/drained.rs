//! How a run proves the upload queue drained, without waiting out a long poll on an empty queue.
//!
//! The old proof was one empty 20 s long poll with nothing in flight here: every run ended with
//! 20 s of waiting, most of a small job's wall time. Now, when a receive comes back with nothing to
//! do, the queue's approximate counts are read ([`attributes::counts`]): visible messages mean
//! receive again; messages in flight (ours, or another client's: they reappear if that client
//! dies) mean wait with short polls; and when both are zero (not counting what this run
//! quarantined, which is left on the queue on purpose) with nothing in flight here, they are read
//! again [`Options::drain_confirm`] later. Zero twice, then one receive without waiting that is
//! empty too: drained. The counts are approximate, so this can be wrong in the rare case a
//! message is hidden from both reads and the last poll; the service then answers the complete
//! call with "upload queue not empty" and the client uploads again, so no tile is skipped.
//!
//! When the job's keys may not read the counts, the run falls back to the long-poll proof.
//!
//! [`Options::drain_confirm`]: super::Options::drain_confirm

use std::time::Duration;

use tokio::sync::watch;

use super::attributes::{self, AttributesError};
use super::Ctx;

/// The longest wait of a receive while the queue is nearly or apparently empty: long enough not
/// to spin, short enough that the end of a run is noticed at once.
const SHORT_WAIT: Duration = Duration::from_secs(1);

/// The next receive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Next {
    /// Its long-poll wait.
    pub wait: Duration,
    /// Whether it coming back with nothing to do, with nothing in flight here, proves the queue
    /// drained.
    pub proves: bool,
}

/// What the last receive brought.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Last {
    /// As many messages as asked for: there are likely more.
    Full,
    /// Fewer: the queue may be nearly empty.
    Partial,
    /// Nothing to do.
    Empty,
}

/// The state of the proof over one run's receives.
pub(super) struct Proof {
    /// The counts can be read (false once the keys were refused them).
    counts: bool,
    full_wait: Duration,
    confirm: Duration,
    last: Last,
}

impl Proof {
    /// `counts`: whether the job's keys may read the queue's counts, as far as is known.
    pub fn new(full_wait: Duration, confirm: Duration, counts: bool) -> Proof {
        Proof {
            counts,
            full_wait,
            confirm,
            // A run may start on a queue that is already empty (a resumed job): ask first.
            last: Last::Empty,
        }
    }

    /// Records a receive that asked for `asked` messages and took `taken` of them as work.
    pub fn received(&mut self, taken: usize, asked: usize) {
        self.last = match taken {
            0 => Last::Empty,
            n if n < asked => Last::Partial,
            _ => Last::Full,
        };
    }

    /// Decides the next receive, reading the counts when the last one was empty. `idle` says
    /// whether nothing is in flight here (and no failed tile is due back). `None`: stopped while
    /// waiting.
    pub async fn next(
        &mut self,
        ctx: &Ctx,
        idle: impl Fn() -> bool,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<Next> {
        let long_poll_proof = Next {
            wait: self.full_wait,
            proves: true,
        };
        let short = Next {
            wait: self.full_wait.min(SHORT_WAIT),
            proves: false,
        };
        if !self.counts {
            return Some(long_poll_proof);
        }
        match self.last {
            Last::Full => {
                return Some(Next {
                    wait: self.full_wait,
                    proves: false,
                })
            }
            Last::Partial => return Some(short),
            Last::Empty => {}
        }
        let mut zero_once = false;
        loop {
            // Our own messages in flight are counted as in flight anyway: no need to ask.
            if !idle() {
                return Some(short);
            }
            let counts = match attributes::counts(ctx).await {
                Ok(c) => c,
                Err(AttributesError::Refused(why)) => {
                    self.refused(&why);
                    return Some(long_poll_proof);
                }
                Err(AttributesError::Failed(why)) => {
                    log::debug!("reading the upload queue's counts failed: {why}");
                    return Some(long_poll_proof);
                }
            };
            // What this run quarantined stays on the queue on purpose.
            let left_on_purpose = ctx.quarantine.len() as u64;
            if counts.visible + counts.in_flight > left_on_purpose {
                log::debug!(
                    "the upload queue has {} messages waiting and {} in flight",
                    counts.visible,
                    counts.in_flight
                );
                return Some(short);
            }
            if zero_once {
                log::debug!("the upload queue read empty twice; one last receive");
                return Some(Next {
                    wait: Duration::ZERO,
                    proves: true,
                });
            }
            zero_once = true;
            log::debug!(
                "the upload queue reads empty; reading it again in {:.1} s",
                self.confirm.as_secs_f64()
            );
            tokio::select! {
                _ = tokio::time::sleep(self.confirm) => {}
                _ = stop.wait_for(|s| *s) => return None,
            }
        }
    }

    /// The keys may not read the counts: use the long-poll proof for the rest of the run.
    pub fn refused(&mut self, why: &str) {
        if self.counts {
            log::info!(
                "the job's keys may not read the upload queue's counts ({why}); an empty {} s \
                 receive proves it drained instead",
                self.full_wait.as_secs()
            );
        }
        self.counts = false;
    }
}
