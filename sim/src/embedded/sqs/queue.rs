//! One SQS standard queue in memory: messages, visibility timeouts, receipt handles and counts,
//! with no I/O and no clock of its own (callers pass `now`), so its semantics are unit-tested
//! exactly.
//!
//! moto keeps a queue as a list and scans it on every receive, which is what makes a receive
//! take ~0.4 s at a depth of 900. Here every operation costs O(log n) in the queue's depth:
//! visible messages sit in a set ordered by arrival, in-flight ones in a set ordered by when
//! they become visible again, and messages are found by sequence number. A receipt handle carries
//! the message's sequence number and receive count plus a check value keyed by a per-queue
//! secret, so any handle the queue ever issued is recognised without remembering it, as moto
//! recognises stale handles (a delete with an older handle of a re-received message deletes it;
//! a delete of an already deleted message succeeds; a handle never issued is invalid).
//!
//! Memory: one entry per message the queue holds. The simulator's queues hold what a job holds
//! (its upload messages, then its tile-index and chunk messages), so they are bounded by the
//! job's size; a standard queue also refuses more than [`MAX_IN_FLIGHT`] messages in flight, as
//! SQS does.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// SQS's limit of in-flight messages of a standard queue (receives beyond it fail `OverLimit`).
pub const MAX_IN_FLIGHT: usize = 120_000;

/// Settable queue attributes, with SQS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub visibility_timeout: u32,
    pub message_retention_period: u32,
    pub maximum_message_size: u32,
    pub delay_seconds: u32,
    pub receive_message_wait_time: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            visibility_timeout: 30,
            message_retention_period: 345_600,
            maximum_message_size: 262_144,
            delay_seconds: 0,
            receive_message_wait_time: 0,
        }
    }
}

/// Why an operation on a queue failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    InvalidHandle(String),
    #[error("Too many messages in flight (limit {MAX_IN_FLIGHT}).")]
    OverLimit,
}

/// A message handed out by a receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    pub receive_count: u32,
    /// Milliseconds since the Unix epoch.
    pub sent_timestamp: u64,
    pub first_receive_timestamp: u64,
}

#[derive(Debug)]
struct Message {
    id: String,
    body: String,
    md5: String,
    sent_ms: u64,
    first_receive_ms: Option<u64>,
    receive_count: u32,
    /// Set while in flight: when the message becomes visible again.
    invisible_until: Option<Instant>,
}

/// A queue's messages and settings.
#[derive(Debug)]
pub struct Queue {
    pub settings: Settings,
    secret: u64,
    next_seq: u64,
    messages: HashMap<u64, Message>,
    /// Sequence numbers of visible messages, oldest first (a message whose visibility timeout ran
    /// out goes back to its place by arrival, as moto hands out the oldest visible first).
    visible: BTreeSet<u64>,
    in_flight: BTreeSet<(Instant, u64)>,
}

/// MD5 of a message body in hex, as `MD5OfBody` / `MD5OfMessageBody`.
pub fn md5_hex(body: &str) -> String {
    use md5::Digest;
    crate::sigv4::hex(&md5::Md5::digest(body.as_bytes()))
}

impl Queue {
    pub fn new(settings: Settings) -> Queue {
        Queue {
            settings,
            secret: rand::random(),
            next_seq: 1,
            messages: HashMap::new(),
            visible: BTreeSet::new(),
            in_flight: BTreeSet::new(),
        }
    }

    /// Adds a message; returns its message id and the MD5 of its body.
    pub fn send(&mut self, body: String, now_ms: u64) -> (String, String) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = message_id();
        let md5 = md5_hex(&body);
        self.messages.insert(
            seq,
            Message {
                id: id.clone(),
                body,
                md5: md5.clone(),
                sent_ms: now_ms,
                first_receive_ms: None,
                receive_count: 0,
                invisible_until: None,
            },
        );
        self.visible.insert(seq);
        (id, md5)
    }

    /// Makes messages whose visibility timeout ran out visible again.
    fn expire(&mut self, now: Instant) {
        while let Some(&(until, seq)) = self.in_flight.first() {
            if until > now {
                break;
            }
            self.in_flight.pop_first();
            if let Some(m) = self.messages.get_mut(&seq) {
                m.invisible_until = None;
                self.visible.insert(seq);
            }
        }
    }

    /// Receives up to `max` visible messages, hiding each for `visibility` (the queue's timeout if
    /// `None`). A visibility of 0 leaves them visible.
    pub fn receive(
        &mut self,
        max: usize,
        visibility: Option<u32>,
        now: Instant,
        now_ms: u64,
    ) -> Result<Vec<Delivery>, QueueError> {
        self.expire(now);
        if self.in_flight.len() >= MAX_IN_FLIGHT && !self.visible.is_empty() {
            return Err(QueueError::OverLimit);
        }
        let hide = Duration::from_secs(u64::from(
            visibility.unwrap_or(self.settings.visibility_timeout),
        ));
        let mut out = Vec::with_capacity(max.min(self.visible.len()));
        let mut stay_visible = Vec::new();
        while out.len() < max {
            let Some(seq) = self.visible.pop_first() else {
                break;
            };
            let Some(m) = self.messages.get_mut(&seq) else {
                continue;
            };
            m.receive_count += 1;
            let first = *m.first_receive_ms.get_or_insert(now_ms);
            if hide.is_zero() {
                stay_visible.push(seq);
            } else {
                let until = now + hide;
                m.invisible_until = Some(until);
                self.in_flight.insert((until, seq));
            }
            out.push(Delivery {
                message_id: m.id.clone(),
                receipt_handle: handle(self.secret, seq, m.receive_count),
                body: m.body.clone(),
                md5_of_body: m.md5.clone(),
                receive_count: m.receive_count,
                sent_timestamp: m.sent_ms,
                first_receive_timestamp: first,
            });
        }
        self.visible.extend(stay_visible);
        Ok(out)
    }

    /// Deletes the message a receipt handle was issued for (any of its handles, as moto).
    /// Deleting an already deleted message succeeds; a handle this queue never issued fails.
    pub fn delete(&mut self, receipt_handle: &str) -> Result<(), QueueError> {
        let invalid = || QueueError::InvalidHandle(receipt_handle.to_string());
        let (seq, count) = parse_handle(self.secret, receipt_handle).ok_or_else(invalid)?;
        if seq >= self.next_seq || count == 0 {
            return Err(invalid());
        }
        if let Some(m) = self.messages.remove(&seq) {
            match m.invisible_until {
                Some(until) => self.in_flight.remove(&(until, seq)),
                None => self.visible.remove(&seq),
            };
        }
        Ok(())
    }

    /// Removes every message.
    pub fn purge(&mut self) {
        self.messages.clear();
        self.visible.clear();
        self.in_flight.clear();
    }

    /// (visible, in flight) at `now`.
    pub fn counts(&mut self, now: Instant) -> (usize, usize) {
        self.expire(now);
        (self.visible.len(), self.in_flight.len())
    }

    /// When the next in-flight message becomes visible (a long poll wakes up then).
    pub fn next_expiry(&self) -> Option<Instant> {
        self.in_flight.first().map(|&(until, _)| until)
    }
}

/// A random message id in UUID form, as SQS's.
fn message_id() -> String {
    let v: u128 = rand::random();
    let hex = format!("{v:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn check(secret: u64, seq: u64, count: u32) -> u64 {
    // DefaultHasher::new() has fixed keys, so the value is stable within the process; the
    // per-queue secret keeps another queue's (or a deleted namesake's) handles from matching.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (secret, seq, count).hash(&mut h);
    h.finish()
}

/// How long a receipt handle is. Real SQS handles run to 350–400 characters (moto's have 185),
/// and a tile carries its handle in its 2 KiB of S3 metadata: at production length, a client
/// whose metadata would not fit on AWS fails here too.
pub const RECEIPT_HANDLE_LEN: usize = 384;

fn handle(secret: u64, seq: u64, count: u32) -> String {
    let tag = check(secret, seq, count);
    let mut text = format!("boss-sim.{seq:x}.{count:x}.{tag:016x}.");
    // Filler derived from the tag, so the whole handle is checked on the way back.
    let filler = format!("{:016x}", tag.rotate_left(29) ^ 0x5bd1_e995_5bd1_e995);
    while text.len() < RECEIPT_HANDLE_LEN {
        text.push_str(&filler);
    }
    text.truncate(RECEIPT_HANDLE_LEN);
    text
}

fn parse_handle(secret: u64, text: &str) -> Option<(u64, u32)> {
    let mut parts = text.strip_prefix("boss-sim.")?.split('.');
    let seq = u64::from_str_radix(parts.next()?, 16).ok()?;
    let count = u32::from_str_radix(parts.next()?, 16).ok()?;
    (text == handle(secret, seq, count)).then_some((seq, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(visibility: u32) -> Queue {
        Queue::new(Settings {
            visibility_timeout: visibility,
            ..Settings::default()
        })
    }

    fn bodies(d: &[Delivery]) -> Vec<&str> {
        d.iter().map(|m| m.body.as_str()).collect()
    }

    #[test]
    fn receives_oldest_first_and_hides_for_the_visibility_timeout() {
        let mut q = queue(30);
        let t0 = Instant::now();
        for b in ["a", "b", "c"] {
            q.send(b.into(), 1000);
        }
        let got = q.receive(2, None, t0, 2000).unwrap();
        assert_eq!(bodies(&got), ["a", "b"]);
        assert_eq!(q.counts(t0), (1, 2));
        assert_eq!(bodies(&q.receive(10, None, t0, 2000).unwrap()), ["c"]);
        assert!(q.receive(10, None, t0, 2000).unwrap().is_empty());
        // One second before the timeout nothing is back; at the timeout all three are, in order.
        assert_eq!(q.counts(t0 + Duration::from_secs(29)), (0, 3));
        assert_eq!(q.next_expiry(), Some(t0 + Duration::from_secs(30)));
        let again = q
            .receive(10, None, t0 + Duration::from_secs(30), 3000)
            .unwrap();
        assert_eq!(bodies(&again), ["a", "b", "c"]);
    }

    #[test]
    fn counts_receives_and_keeps_the_first_receive_time() {
        let mut q = queue(5);
        let t0 = Instant::now();
        let (id, md5) = q.send("hello".into(), 1000);
        let first = q.receive(1, None, t0, 2000).unwrap().remove(0);
        assert_eq!(
            (first.receive_count, first.first_receive_timestamp),
            (1, 2000)
        );
        let second = q
            .receive(1, None, t0 + Duration::from_secs(5), 7000)
            .unwrap()
            .remove(0);
        assert_eq!(second.message_id, id);
        assert_eq!(second.md5_of_body, md5);
        assert_eq!(md5, "5d41402abc4b2a76b9719d911017c592");
        assert_eq!(
            (
                second.receive_count,
                second.first_receive_timestamp,
                second.sent_timestamp
            ),
            (2, 2000, 1000)
        );
        assert_ne!(first.receipt_handle, second.receipt_handle);
    }

    #[test]
    fn a_per_receive_visibility_overrides_the_queue_default_and_zero_leaves_it_visible() {
        let mut q = queue(120);
        let t0 = Instant::now();
        q.send("a".into(), 0);
        q.receive(1, Some(2), t0, 0).unwrap();
        assert_eq!(q.counts(t0 + Duration::from_secs(1)), (0, 1));
        assert_eq!(q.counts(t0 + Duration::from_secs(2)), (1, 0));
        let zero = q
            .receive(1, Some(0), t0 + Duration::from_secs(2), 0)
            .unwrap();
        assert_eq!(zero[0].receive_count, 2);
        assert_eq!(q.counts(t0 + Duration::from_secs(2)), (1, 0));
    }

    #[test]
    fn deletes_with_current_stale_and_repeated_handles_like_moto() {
        let mut q = queue(1);
        let t0 = Instant::now();
        q.send("a".into(), 0);
        q.send("b".into(), 0);
        let old = q.receive(1, None, t0, 0).unwrap().remove(0);
        let t1 = t0 + Duration::from_secs(1);
        let new = q.receive(1, None, t1, 0).unwrap().remove(0);
        assert_eq!(new.body, "a");
        // The stale handle of a re-received message still deletes it.
        q.delete(&old.receipt_handle).unwrap();
        assert_eq!(q.counts(t1), (1, 0));
        // Deleting it again (with either handle) succeeds and changes nothing.
        q.delete(&new.receipt_handle).unwrap();
        q.delete(&old.receipt_handle).unwrap();
        assert_eq!(q.counts(t1), (1, 0));
        assert_eq!(bodies(&q.receive(10, None, t1, 0).unwrap()), ["b"]);
    }

    #[test]
    fn refuses_handles_it_never_issued() {
        let mut q = queue(30);
        let other = queue(30);
        let t0 = Instant::now();
        q.send("a".into(), 0);
        let h = q.receive(1, None, t0, 0).unwrap().remove(0).receipt_handle;
        assert_eq!(h.len(), RECEIPT_HANDLE_LEN);
        let forged = h.replace("boss-sim.1.1.", "boss-sim.1.2.");
        let truncated = &h[..h.len() - 1];
        for bad in [
            "",
            "garbage",
            forged.as_str(),
            truncated,
            &handle(other.secret, 1, 1),
        ] {
            assert_eq!(
                q.delete(bad),
                Err(QueueError::InvalidHandle(bad.to_string())),
                "{bad:?}"
            );
        }
        assert_eq!(q.counts(t0), (0, 1));
        q.delete(&h).unwrap();
        assert_eq!(q.counts(t0), (0, 0));
    }

    #[test]
    fn purge_empties_visible_and_in_flight() {
        let mut q = queue(30);
        let t0 = Instant::now();
        for b in ["a", "b", "c"] {
            q.send(b.into(), 0);
        }
        let h = q.receive(1, None, t0, 0).unwrap().remove(0).receipt_handle;
        q.purge();
        assert_eq!(q.counts(t0 + Duration::from_secs(60)), (0, 0));
        assert!(q.receive(10, None, t0, 0).unwrap().is_empty());
        // A handle from before the purge is one the queue issued: deleting succeeds.
        q.delete(&h).unwrap();
        q.send("d".into(), 0);
        assert_eq!(bodies(&q.receive(10, None, t0, 0).unwrap()), ["d"]);
    }

    #[test]
    fn serves_a_hundred_thousand_messages_once_each_in_order() {
        // Every operation is O(log n); this checks the answers at that depth, not the time.
        let mut q = queue(30);
        let t0 = Instant::now();
        for i in 0..100_000 {
            q.send(i.to_string(), 0);
        }
        let mut seen = 0;
        loop {
            let got = q.receive(10, None, t0, 0).unwrap();
            if got.is_empty() {
                break;
            }
            for m in &got {
                assert_eq!(m.body, seen.to_string());
                seen += 1;
                q.delete(&m.receipt_handle).unwrap();
            }
        }
        assert_eq!(seen, 100_000);
        assert_eq!(q.counts(t0), (0, 0));
    }
}
