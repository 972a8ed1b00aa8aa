//! Counters the pipeline stages bump and the progress display and final summary read. Plain
//! atomics: stages never wait on each other to count.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one upload run (this process only).
#[derive(Debug, Default)]
pub struct Stats {
    uploaded: AtomicU64,
    bytes: AtomicU64,
    redelivered: AtomicU64,
    failed_attempts: AtomicU64,
    quarantined: AtomicU64,
    black: AtomicU64,
    delete_failures: AtomicU64,
    cuboids: AtomicU64,
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
    /// Attempts that failed and were left for redelivery.
    pub failed_attempts: u64,
    /// Tiles given up on and written to the failure report.
    pub quarantined: u64,
    /// Tiles the plugin replaced by black (e.g. `fail_gracefully`); for a volumetric job, chunks
    /// smaller than the extent covers, whose rest was uploaded as zeros.
    pub black: u64,
    /// Stored and indexed tiles whose upload message could not be deleted (they will be redone).
    pub delete_failures: u64,
    /// Volumetric jobs: cuboids of the uploaded chunks.
    pub cuboids: u64,
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

    pub(crate) fn failed_attempt(&self) {
        self.failed_attempts.fetch_add(1, Ordering::Relaxed);
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

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            uploaded: self.uploaded.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            duplicates: self.redelivered.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            quarantined: self.quarantined.load(Ordering::Relaxed),
            black: self.black.load(Ordering::Relaxed),
            delete_failures: self.delete_failures.load(Ordering::Relaxed),
            cuboids: self.cuboids.load(Ordering::Relaxed),
        }
    }
}
