//! Upload rounds and the complete procedure between them (spec §2.4). A round drains the upload
//! queue with the engine; when it is drained the service is asked to complete the job, which may
//! send the client back to upload (the scan re-queued missing tiles, or another client's tiles
//! reappeared). A round that ends for any other reason ends the run with its own words and code.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use boss_protocol::status::JobStatus;

use super::summary::summary;
use super::COMPLETING_POLL;
use crate::aws::Session;
use crate::backend::{Backend, CompleteAnswer};
use crate::cli::ProgressMode;
use crate::engine::quarantine::Quarantine;
use crate::engine::{self, End, Kind, Options, Stats, Unit};
use crate::exit::Code;
use crate::progress::{self, JobWide};
use crate::shutdown::Signals;

/// What every round of one job shares.
pub struct Round {
    pub job_id: u64,
    pub unit: Unit,
    pub session: Session,
    pub options: Options,
    pub stats: Arc<Stats>,
    /// The job's upload queue as the progress reporter last saw it.
    pub job_wide: Arc<JobWide>,
    pub quarantine: Arc<Quarantine>,
    pub progress: ProgressMode,
    pub manual_complete: bool,
    /// The command that resumes the job.
    pub resume: String,
    /// `--follow-timeout`, for the words of giving up.
    pub follow_timeout: Option<Duration>,
}

/// Uploads and completes until the job is COMPLETE, or the run ends otherwise.
pub async fn run<K: Kind>(
    r: &Round,
    backend: &Backend,
    kind: Arc<K>,
    signals: &Signals,
) -> anyhow::Result<Code> {
    let job_id = r.job_id;
    let progress_task = tokio::spawn(progress::report(
        r.progress,
        backend.clone(),
        job_id,
        r.stats.clone(),
        r.job_wide.clone(),
        progress::interval_from_env(),
    ));
    // The summary's time covers every upload round and the complete procedure.
    let started = std::time::Instant::now();
    let say = |stats: &engine::Snapshot| summary(r.unit, stats, started.elapsed(), &r.quarantine);
    let code = loop {
        let outcome = engine::run(
            kind.clone(),
            r.session.clone(),
            r.options.clone(),
            r.stats.clone(),
            r.quarantine.clone(),
            signals.first(),
        )
        .await;
        match outcome.end {
            End::Interrupted { abandoned } => {
                say(&outcome.stats);
                if abandoned == 0 {
                    println!(
                        "Interrupted. {} in flight were finished; resume with: {}",
                        r.unit.capitalised(),
                        r.resume
                    );
                } else {
                    println!(
                        "Interrupted. {abandoned} {} in flight were not finished within \
                         --drain-secs {} and stay on the queue (they come back after its \
                         visibility timeout); resume with: {}",
                        r.unit.plural(),
                        r.options.drain_grace.as_secs(),
                        r.resume
                    );
                }
                break signals.code().unwrap_or(Code::Interrupted);
            }
            End::JobGone => {
                say(&outcome.stats);
                return match backend.status(job_id).await {
                    Ok(st) if st.status == JobStatus::Complete => {
                        println!("job {job_id} was completed by another client");
                        Ok(Code::Ok)
                    }
                    _ => Err(anyhow!(
                        "the upload queue of job {job_id} is gone: the job was completed or \
                         cancelled elsewhere"
                    )),
                };
            }
            End::Fatal(why) => {
                say(&outcome.stats);
                // Keys that can no longer be renewed often just mean another client completed
                // the job; that is success, not an error.
                if let Ok(st) = backend.status(job_id).await {
                    if st.status == JobStatus::Complete {
                        println!("job {job_id} was completed by another client");
                        return Ok(Code::Ok);
                    }
                }
                return Err(anyhow!("job {job_id}: {why}"));
            }
            End::GaveUpWaiting(pending) => {
                say(&outcome.stats);
                let waited = r.follow_timeout.map_or(String::new(), |t| {
                    format!(" after {} without a new source", human_duration(t))
                });
                println!(
                    "Gave up{waited}: {}. Job {job_id} stays open; when the sources are there, \
                     resume with: {}",
                    pending
                        .describe()
                        .unwrap_or_else(|| "waiting for sources".into()),
                    r.resume
                );
                break Code::Quarantined;
            }
            End::Drained => {}
        }
        if !r.quarantine.is_empty() {
            say(&outcome.stats);
            println!(
                "{} {} were quarantined; the job stays open. Fix them (see {}) and resume with: {}",
                r.quarantine.len(),
                r.unit.plural(),
                r.quarantine.path().display(),
                r.resume
            );
            break Code::Quarantined;
        }
        if r.manual_complete {
            say(&outcome.stats);
            println!(
                "All {} uploaded; -m given, so job {job_id} is left for you to complete.",
                r.unit.plural()
            );
            break Code::Ok;
        }
        match complete(backend, job_id, signals).await? {
            Completion::Done => {
                say(&r.stats.snapshot());
                println!("Job {job_id} is COMPLETE.");
                break Code::Ok;
            }
            Completion::Interrupted(code) => {
                println!("Interrupted while completing; resume with: {}", r.resume);
                break code;
            }
            Completion::UploadAgain => {
                log::info!(
                    "the service has {} in the upload queue again; uploading them",
                    r.unit.plural()
                );
            }
        }
    };
    progress_task.abort();
    Ok(code)
}

/// `90s`, `30m`, `24h`: the largest unit that divides the duration, as `--follow-timeout` takes it.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

enum Completion {
    Done,
    UploadAgain,
    Interrupted(Code),
}

/// The client side of spec §2.4: POST complete, wait as told, poll while COMPLETING.
async fn complete(backend: &Backend, job: u64, signals: &Signals) -> anyhow::Result<Completion> {
    log::info!("the upload queue looks empty; asking the service to complete job {job}");
    loop {
        let answer = backend
            .complete(job)
            .await
            .context(format!("cannot complete job {job}"))?;
        let wait = match answer {
            CompleteAnswer::Complete => return Ok(Completion::Done),
            CompleteAnswer::UploadQueueNotEmpty => return Ok(Completion::UploadAgain),
            CompleteAnswer::Wait { secs } => {
                log::info!("the service asks to wait {secs:.0} s before completing job {job}");
                Duration::from_secs_f64(secs.clamp(0.5, 3600.0))
            }
            CompleteAnswer::Completing => loop {
                if let Some(s) = signals.sleep(COMPLETING_POLL).await {
                    return Ok(Completion::Interrupted(s.code()));
                }
                let st = backend
                    .status(job)
                    .await
                    .context(format!("cannot read the status of job {job}"))?;
                match st.status {
                    JobStatus::Complete => return Ok(Completion::Done),
                    JobStatus::Uploading => return Ok(Completion::UploadAgain),
                    JobStatus::WaitOnQueues => break Duration::ZERO,
                    JobStatus::Completing => continue,
                    other => {
                        return Err(anyhow!("job {job} became {other} while completing"));
                    }
                }
            },
        };
        if let Some(s) = signals.sleep(wait).await {
            return Ok(Completion::Interrupted(s.code()));
        }
    }
}
