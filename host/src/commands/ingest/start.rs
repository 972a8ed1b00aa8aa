//! The start of a job's life on this client: create it (after showing it and asking) or resume
//! the one `-j` names, then join it, waiting while the service prepares its upload queue.

use anyhow::Context;

use super::PREPARING_POLL;
use crate::backend::{Backend, BackendError, Join};
use crate::cli::IngestSettings;
use crate::commands::confirm::confirm;
use crate::prepared::Prepared;
use crate::processors::Processors;

/// The job to upload: the one `-j` names, or a new one. `None` when the user declined.
pub async fn create_or_resume(
    s: &IngestSettings,
    prepared: &Prepared,
    backend: &Backend,
) -> anyhow::Result<Option<u64>> {
    if let Some(id) = s.job_id {
        println!("Resuming ingest job {id} on {}", backend.base());
        return Ok(Some(id));
    }
    let job = &prepared.job;
    println!("{}", job.summary());
    if !confirm("Create a new ingest job?", s.force)? {
        println!("No job created.");
        return Ok(None);
    }
    let created = backend
        .create(&job.raw)
        .await
        .context("cannot create the ingest job")?;
    let unit = match prepared.processors {
        Processors::Tiles(_) => "tiles",
        Processors::Chunks(_) => "chunks",
    };
    println!(
        "Created ingest job {} ({} {unit}); keep this id to resume: boss-ingest {} -j {}",
        created.id,
        created.tile_count,
        s.config.display(),
        created.id
    );
    if !confirm("Start uploading now?", s.force)? {
        println!(
            "Not uploading. Resume with: boss-ingest {} -j {}",
            s.config.display(),
            created.id
        );
        return Ok(None);
    }
    Ok(Some(created.id))
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
