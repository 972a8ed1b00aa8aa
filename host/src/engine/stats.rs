//! Counters the pipeline stages bump and the progress display, the final summary and the
//! metrics endpoint read: one count of each thing, so the three never disagree. Plain atomics:
//! stages never wait on each other to count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::waiting::Waiting;

/// Live counters of one upload run (this process only).
#[derive(Debug, Default)]
pub struct Stats {
    uploaded: AtomicU64,
    bytes: AtomicU64,
    redelivered: AtomicU64,
    failures: [AtomicU64; FailureClass::ALL.len()],
    retries: AtomicU64,
    quarantined: AtomicU64,
    black: AtomicU64,
    delete_failures: AtomicU64,
    cuboids: AtomicU64,
    in_flight: AtomicU64,
    plugin: Timings,
    upload: Timings,
    /// `--follow`: what waits for its source.
    waiting: Waiting,
}

/// Where a failed attempt failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// The tile or chunk processor failed or panicked (or its output could not be encoded).
    Processor,
    /// S3 refused or lost a PutObject of the tile or of one of the chunk's cuboids.
    Upload,
    /// The tile-index message was refused or not acknowledged.
    Index,
}

impl FailureClass {
    /// Every class, in the order of [`Snapshot::failures`].
    pub const ALL: [FailureClass; 3] = [
        FailureClass::Processor,
        FailureClass::Upload,
        FailureClass::Index,
    ];

    /// The class as a label value.
    pub fn name(self) -> &'static str {
        match self {
            FailureClass::Processor => "processor",
            FailureClass::Upload => "upload",
            FailureClass::Index => "index",
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// Tiles stored, indexed and deleted from the upload queue; for a volumetric job, chunks
    /// whose cuboids were all stored, deleted from the upload queue.
    pub uploaded: u64,
    /// Bytes of those tiles (or compressed cuboids).
    pub bytes: u64,
    /// Uploaded tiles whose message had been received before (by us or another client): the
    /// tile may have been stored twice, which the service tolerates.
    pub duplicates: u64,
    /// Attempts that failed: the sum of [`Snapshot::failures`].
    pub failed_attempts: u64,
    /// Failed attempts by class, in the order of [`FailureClass::ALL`].
    pub failures: [u64; FailureClass::ALL.len()],
    /// Failed attempts left on the queue for another delivery (the others were quarantined).
    pub retries: u64,
    /// Tiles given up on and written to the failure report.
    pub quarantined: u64,
    /// Tiles the plugin replaced by black (e.g. `fail_gracefully`); for a volumetric job, chunks
    /// smaller than the extent covers, whose rest was uploaded as zeros.
    pub black: u64,
    /// Stored and indexed tiles whose upload message could not be deleted (they will be redone).
    pub delete_failures: u64,
    /// Volumetric jobs: cuboids of the uploaded chunks.
    pub cuboids: u64,
    /// Messages received and not yet deleted or abandoned.
    pub in_flight: u64,
    /// Time of the plugin stage per tile or chunk (processor call, encoding, compression).
    pub plugin: TimingSnapshot,
    /// Time of each PutObject, from the first try to success or failure.
    pub upload: TimingSnapshot,
}

impl Stats {
    pub(crate) fn uploaded(&self, bytes: u64, redelivered: bool, black: bool) {
        self.uploaded.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if redelivered {
            self.redelivered.fetch_add(1, Ordering::Relaxed);
        }
        if black {
            self.black.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An attempt failed; `retried` when its message is left for another delivery.
    pub(crate) fn failed_attempt(&self, class: FailureClass, retried: bool) {
        self.failures[class as usize].fetch_add(1, Ordering::Relaxed);
        if retried {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn quarantined(&self) {
        self.quarantined.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn cuboids(&self, n: u64) {
        self.cuboids.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn delete_failed(&self) {
        self.delete_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn plugin_time(&self, took: Duration) {
        self.plugin.observe(took);
    }

    pub(crate) fn upload_time(&self, took: Duration) {
        self.upload.observe(took);
    }

    /// The tiles or chunks waiting for their source (`--follow`).
    pub fn waiting(&self) -> &Waiting {
        &self.waiting
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let failures = std::array::from_fn(|i| self.failures[i].load(Ordering::Relaxed));
        Snapshot {
            uploaded: self.uploaded.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            duplicates: self.redelivered.load(Ordering::Relaxed),
            failed_attempts: failures.iter().sum(),
            failures,
            retries: self.retries.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            black: self.black.load(Ordering::Relaxed),
            delete_failures: self.delete_failures.load(Ordering::Relaxed),
            cuboids: self.cuboids.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            plugin: self.plugin.snapshot(),
            upload: self.upload.snapshot(),
        }
    }
}

/// A received message counted in flight until it is dropped (deleted, failed or abandoned).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Stats>);

impl InFlight {
    pub(crate) fn start(stats: Arc<Stats>) -> InFlight {
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(stats)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Upper bounds, in seconds, of the timing buckets: from a few milliseconds (a cached tile, a
/// loopback PutObject) to a minute (a large chunk read from a network file system).
pub const TIMING_BOUNDS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A histogram of durations: a count per bucket of [`TIMING_BOUNDS`] (plus one past the last),
/// their count and sum. Atomics, so that observing never waits.
#[derive(Debug, Default)]
struct Timings {
    buckets: [AtomicU64; TIMING_BOUNDS.len() + 1],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Timings {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let bucket = TIMING_BOUNDS
            .iter()
            .position(|&upper| secs <= upper)
            .unwrap_or(TIMING_BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> TimingSnapshot {
        TimingSnapshot {
            buckets: std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            count: self.count.load(Ordering::Relaxed),
            sum_nanos: self.sum_nanos.load(Ordering::Relaxed),
        }
    }
}

/// A copy of a duration histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TimingSnapshot {
    /// Observations per bucket (not cumulative): `buckets[i]` took at most `TIMING_BOUNDS[i]`
    /// and more than the bound before; the last one took longer than every bound.
    pub buckets: [u64; TIMING_BOUNDS.len() + 1],
    pub count: u64,
    pub sum_nanos: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_sum_by_class_and_retries_count_only_what_is_left_for_redelivery() {
        let stats = Stats::default();
        stats.failed_attempt(FailureClass::Upload, true);
        stats.failed_attempt(FailureClass::Upload, false);
        stats.failed_attempt(FailureClass::Index, true);
        let s = stats.snapshot();
        assert_eq!(
            (s.failures, s.failed_attempts, s.retries),
            ([0, 2, 1], 3, 2)
        );
    }

    #[test]
    fn timings_fall_in_the_first_bucket_that_holds_them() {
        let stats = Stats::default();
        stats.plugin_time(Duration::from_millis(5));
        stats.plugin_time(Duration::from_millis(6));
        stats.plugin_time(Duration::from_secs(61));
        let t = stats.snapshot().plugin;
        let mut want = [0; TIMING_BOUNDS.len() + 1];
        want[0] = 1;
        want[1] = 1;
        want[TIMING_BOUNDS.len()] = 1;
        assert_eq!(t.buckets, want);
        assert_eq!((t.count, t.sum_nanos), (3, 61_011_000_000));
    }

    #[test]
    fn in_flight_counts_live_messages() {
        let stats = Arc::new(Stats::default());
        let a = InFlight::start(stats.clone());
        let b = InFlight::start(stats.clone());
        assert_eq!(stats.snapshot().in_flight, 2);
        drop(a);
        assert_eq!(stats.snapshot().in_flight, 1);
        drop(b);
        assert_eq!(stats.snapshot().in_flight, 0);
    }
}
