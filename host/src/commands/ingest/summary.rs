//! The words of the end of a run: what was uploaded, in tiles or chunks.

use std::time::Duration;

use crate::engine::{self, quarantine::Quarantine, Unit};

pub fn summary(unit: Unit, stats: &engine::Snapshot, elapsed: Duration, quarantine: &Quarantine) {
    match unit {
        Unit::Tiles => println!(
            "Uploaded {} tiles ({:.1} MB) in {:.1} s; {} duplicates, {} quarantined, {} black tiles, {} failed attempts retried.",
            stats.uploaded,
            stats.bytes as f64 / 1e6,
            elapsed.as_secs_f64(),
            stats.duplicates,
            stats.quarantined,
            stats.black,
            stats.failed_attempts
        ),
        Unit::Chunks => println!(
            "Uploaded {} chunks as {} cuboids ({:.1} MB compressed) in {:.1} s; {} duplicates, {} quarantined, {} chunks zero-filled past their source, {} failed attempts retried.",
            stats.uploaded,
            stats.cuboids,
            stats.bytes as f64 / 1e6,
            elapsed.as_secs_f64(),
            stats.duplicates,
            stats.quarantined,
            stats.black,
            stats.failed_attempts
        ),
    }
    if !quarantine.is_empty() {
        println!("Failure report: {}", quarantine.path().display());
    }
}
