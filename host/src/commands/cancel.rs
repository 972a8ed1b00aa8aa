//! `boss-ingest -c -j ID [config]`: cancel a job (spec §2.5). The queues are deleted and the keys
//! revoked; data already ingested stays. Without a config it cancels on the production Boss, as
//! the original client does. Cancelling cannot be undone, so it asks first (unless `-f`).

use anyhow::{anyhow, Context};

use crate::backend::BackendError;
use crate::cli::{CancelSettings, PRODUCTION_HOST, PRODUCTION_PROTOCOL};
use crate::commands::confirm::confirm;
use crate::exit::Code;
use crate::{config, prepared};

/// Runs the cancel command.
pub fn run(s: &CancelSettings) -> anyhow::Result<Code> {
    prepared::log_to_file(s.log_file.as_deref(), s.log_level)?;
    let base = match &s.config {
        Some(path) => config::load(path)?.api_base_url(),
        None => format!("{PRODUCTION_PROTOCOL}://{PRODUCTION_HOST}"),
    };
    let backend = prepared::backend(&base, s.api_token.as_deref())?;
    if !confirm(
        &format!(
            "Cancel ingest job {} on {base}? Its upload queue is deleted and it cannot be resumed.",
            s.job_id
        ),
        s.force,
    )? {
        println!("Job {} was not cancelled.", s.job_id);
        return Ok(Code::Ok);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(backend.cancel(s.job_id)) {
        Ok(()) => println!("Job {} is cancelled (DELETED).", s.job_id),
        // Cancelling is idempotent: the job is in the state asked for.
        Err(BackendError::JobDeleted { job }) => println!("Job {job} was already cancelled."),
        Err(BackendError::AlreadyComplete { job }) => {
            return Err(anyhow!(
                "job {job} is already complete and cannot be cancelled; its data stays in the Boss"
            ))
        }
        Err(e) => return Err(e).context(format!("cannot cancel job {}", s.job_id)),
    }
    Ok(Code::Ok)
}
