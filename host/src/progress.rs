//! What a person (or a script) sees while tiles upload, and where the log goes.
//!
//! Progress comes from two places: this process's counters (tiles/s, MB/s, failures) and the
//! job's status endpoint (tiles still queued, job-wide), so that each of many clients on one job
//! shows the progress of the whole job. On a terminal it is a bar; without one, a log line every
//! 30 s; with `--progress json`, one JSON object per interval on stdout for scripts.
//!
//! `BOSS_INGEST_PROGRESS_SECS` overrides the interval (scripts that want denser JSON, tests).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::cli::ProgressMode;
use crate::engine::Stats;

/// The interval set in `BOSS_INGEST_PROGRESS_SECS`, if any (positive seconds).
pub fn interval_from_env() -> Option<Duration> {
    std::env::var("BOSS_INGEST_PROGRESS_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
}

/// The job's upload queue as the status endpoint last showed it, for the metrics endpoint: the
/// progress reporter is the one place that polls the status during an upload.
#[derive(Debug)]
pub struct JobWide {
    /// Messages still in the upload queue; [`UNSEEN`] until the first reading.
    remaining: AtomicU64,
}

/// No status reading yet.
const UNSEEN: u64 = u64::MAX;

impl Default for JobWide {
    fn default() -> Self {
        JobWide {
            remaining: AtomicU64::new(UNSEEN),
        }
    }
}

impl JobWide {
    /// Messages in the job's upload queue at the last reading, if there was one.
    pub fn queue_depth(&self) -> Option<u64> {
        Some(self.remaining.load(Ordering::Relaxed)).filter(|&n| n != UNSEEN)
    }

    pub(crate) fn seen(&self, remaining: u64) {
        self.remaining
            .store(remaining.min(UNSEEN - 1), Ordering::Relaxed);
    }
}

/// One progress reading.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reading {
    pub job: u64,
    /// Job-wide: tiles in the job and tiles still waiting in the upload queue (from the service).
    pub total: Option<u64>,
    pub remaining: Option<u64>,
    /// This process.
    pub uploaded: u64,
    pub bytes: u64,
    pub tiles_per_sec: f64,
    pub mb_per_sec: f64,
    pub failed_attempts: u64,
    pub quarantined: u64,
    pub elapsed_secs: f64,
    /// `--follow`: sources this client waits for, and the one most recently found missing.
    pub waiting_for: u64,
    pub newest_missing: Option<String>,
}

/// Runs until dropped/aborted: reports progress every `interval` in the chosen mode, and keeps
/// the last job-wide reading in `job_wide`.
pub async fn report(
    mode: ProgressMode,
    backend: Backend,
    job: u64,
    stats: Arc<Stats>,
    job_wide: Arc<JobWide>,
    interval: Option<Duration>,
) {
    let mode = match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
        ProgressMode::Auto => ProgressMode::Log,
        m => m,
    };
    let interval = interval.unwrap_or(match mode {
        ProgressMode::Bar => Duration::from_secs(2),
        _ => Duration::from_secs(30),
    });
    let started = Instant::now();
    let bar = (mode == ProgressMode::Bar).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} tiles (job-wide)  {msg}  ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let snap = stats.snapshot();
        let pending = stats.waiting().pending(Instant::now());
        let status = backend.status(job).await.ok();
        if let Some(st) = &status {
            job_wide.seen(st.current_message_count);
        }
        let elapsed = started.elapsed().as_secs_f64().max(0.001);
        let reading = Reading {
            job,
            total: status.as_ref().map(|s| s.total_message_count),
            remaining: status.as_ref().map(|s| s.current_message_count),
            uploaded: snap.uploaded,
            bytes: snap.bytes,
            tiles_per_sec: snap.uploaded as f64 / elapsed,
            mb_per_sec: snap.bytes as f64 / 1e6 / elapsed,
            failed_attempts: snap.failed_attempts,
            quarantined: snap.quarantined,
            elapsed_secs: elapsed,
            waiting_for: pending.sources,
            newest_missing: pending.newest.clone(),
        };
        match (&bar, mode) {
            (Some(bar), _) => {
                if let (Some(total), Some(remaining)) = (reading.total, reading.remaining) {
                    bar.set_length(total);
                    bar.set_position(total.saturating_sub(remaining));
                }
                bar.set_message(format!(
                    "{:.1} tiles/s {:.1} MB/s, {} failed attempts, {} quarantined{}",
                    reading.tiles_per_sec,
                    reading.mb_per_sec,
                    reading.failed_attempts,
                    reading.quarantined,
                    waiting(&reading)
                ));
            }
            (None, ProgressMode::Json) => {
                if let Ok(line) = serde_json::to_string(&reading) {
                    println!("{line}");
                }
            }
            _ => log::info!("{}", describe(&reading)),
        }
    }
}

/// The log-line form of a reading.
pub fn describe(r: &Reading) -> String {
    let job_wide = match (r.total, r.remaining) {
        (Some(total), Some(remaining)) => format!(
            "job {}: {} of {total} tiles done job-wide; ",
            r.job,
            total.saturating_sub(remaining)
        ),
        _ => format!("job {}: ", r.job),
    };
    format!(
        "{job_wide}this client uploaded {} tiles ({:.1} MB) at {:.1} tiles/s, {:.1} MB/s; {} failed \
         attempts, {} quarantined{}",
        r.uploaded,
        r.bytes as f64 / 1e6,
        r.tiles_per_sec,
        r.mb_per_sec,
        r.failed_attempts,
        r.quarantined,
        waiting(r)
    )
}

/// "; waiting for N sources (newest missing: <file>)" under `--follow`, else nothing.
fn waiting(r: &Reading) -> String {
    let pending = crate::engine::Pending {
        sources: r.waiting_for,
        newest: r.newest_missing.clone(),
    };
    pending
        .describe()
        .map_or(String::new(), |words| format!("; {words}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_line_names_job_wide_and_local_progress() {
        let r = Reading {
            job: 9,
            total: Some(100),
            remaining: Some(40),
            uploaded: 30,
            bytes: 3_000_000,
            tiles_per_sec: 1.5,
            mb_per_sec: 0.15,
            failed_attempts: 2,
            quarantined: 1,
            elapsed_secs: 20.0,
            waiting_for: 0,
            newest_missing: None,
        };
        assert_eq!(
            describe(&r),
            "job 9: 60 of 100 tiles done job-wide; this client uploaded 30 tiles (3.0 MB) at 1.5 \
             tiles/s, 0.1 MB/s; 2 failed attempts, 1 quarantined"
        );
        let following = Reading {
            waiting_for: 3,
            newest_missing: Some("/data/s039.png".into()),
            ..r
        };
        assert_eq!(
            describe(&following),
            "job 9: 60 of 100 tiles done job-wide; this client uploaded 30 tiles (3.0 MB) at 1.5 \
             tiles/s, 0.1 MB/s; 2 failed attempts, 1 quarantined; waiting for 3 sources (newest \
             missing: /data/s039.png)"
        );
    }
}
