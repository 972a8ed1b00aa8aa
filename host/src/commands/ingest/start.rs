//! The start of a job's life on this client: create it (after showing it and asking) or resume
//! the one `-j` names, then join it, waiting while the service prepares its upload queue.
//!
//! A signal before the create request is sent creates nothing; once it is sent the request runs
//! to its answer (a job may exist from then on) and its id is printed before the run stops, so no
//! job is left behind that nobody can name. A question waits on a blocking thread, so a signal
//! ends the wait too.

use anyhow::{anyhow, Context};

use super::PREPARING_POLL;
use crate::backend::{Backend, BackendError, Join};
use crate::cli::IngestSettings;
use crate::commands::confirm::confirm;
use crate::exit::Code;
use crate::prepared::Prepared;
use crate::processors::Processors;
use crate::shutdown::Signals;

/// What to do after the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Upload this job.
    Upload(u64),
    /// End the run with this code (declined, or stopped by a signal; already said so).
    End(Code),
}

/// The command that resumes job `id`.
pub fn resume_command(s: &IngestSettings, id: u64) -> String {
    let follow = if s.follow.is_some() { " --follow" } else { "" };
    format!("boss-ingest {} -j {id}{follow}", s.config.display())
}

/// The job to upload: the one `-j` names, or a new one.
pub async fn create_or_resume(
    s: &IngestSettings,
    prepared: &Prepared,
    backend: &Backend,
    signals: &Signals,
) -> anyhow::Result<Start> {
    if let Some(id) = s.job_id {
        println!("Resuming ingest job {id} on {}", backend.base());
        return Ok(Start::Upload(id));
    }
    let job = &prepared.job;
    println!("{}", job.summary());
    match ask("Create a new ingest job?", s.force, signals).await? {
        Some(true) if signals.received().is_none() => {}
        answer => {
            println!("No job created.");
            return Ok(Start::End(match answer {
                Some(false) => Code::Ok,
                _ => signals.code().unwrap_or(Code::Interrupted),
            }));
        }
    }
    // Not raced with the signals: once sent, the job may exist and its id must be printed.
    let created = backend
        .create(&job.raw)
        .await
        .context("cannot create the ingest job")?;
    let unit = match prepared.processors {
        Processors::Tiles(_) => "tiles",
        Processors::Chunks(_) => "chunks",
    };
    let resume = resume_command(s, created.id);
    println!(
        "Created ingest job {} ({} {unit}); keep this id to resume: {resume}",
        created.id, created.tile_count,
    );
    if let Some(signal) = signals.received() {
        println!("Not uploading ({}). Resume with: {resume}", signal.name());
        return Ok(Start::End(signal.code()));
    }
    match ask("Start uploading now?", s.force, signals).await? {
        Some(true) if signals.received().is_none() => Ok(Start::Upload(created.id)),
        answer => {
            println!("Not uploading. Resume with: {resume}");
            Ok(Start::End(match answer {
                Some(false) => Code::Ok,
                _ => signals.code().unwrap_or(Code::Interrupted),
            }))
        }
    }
}

/// Asks `question` (`-f` answers yes). `None` when a signal came before the answer.
async fn ask(question: &str, force: bool, signals: &Signals) -> anyhow::Result<Option<bool>> {
    if force {
        return Ok(Some(true));
    }
    let q = question.to_string();
    // Reading the terminal blocks; on its own thread it cannot hold up the signal.
    let answer = tokio::task::spawn_blocking(move || confirm(&q, false));
    tokio::select! {
        answer = answer => answer
            .map_err(|e| anyhow!("asking \"{question}\" ended abnormally: {e}"))?
            .map(Some),
        _ = signals.first() => Ok(None),
    }
}

/// Joins the job once it is ready. `None` when it is already complete (said so: nothing to do).
pub async fn join(backend: &Backend, job_id: u64) -> anyhow::Result<Option<Box<Join>>> {
    match backend.join_when_ready(job_id, PREPARING_POLL).await {
        Ok(join) => Ok(Some(join)),
        Err(BackendError::AlreadyComplete { job }) => {
            println!("job {job} is already complete");
            Ok(None)
        }
        Err(e) => Err(e).context(format!("cannot join job {job_id}")),
    }
}
