//! `boss-ingest <config> [-j ID]`: the whole life of a tile or volumetric job, as the Python client
//! runs it and spec §2 describes it: validate, show the job, confirm, create (or resume with
//! `-j`), join (waiting while the service prepares), upload with the engine, then the complete
//! procedure — going back to uploading whenever the service says work is still, or again, in the
//! queue.
//!
//! Questions are asked only on a terminal: without one and without `-f` the command fails at
//! once, because a scheduler's job waiting for an answer nobody will type is worse than an error.
//! The first SIGINT or SIGTERM stops taking tiles and finishes those in flight for up to
//! `--drain-secs`; a second exits at once (see [`crate::shutdown`]). Signals are watched from the
//! start, so one during job creation still prints the new job's id ([`start`]). With
//! `--metrics-addr`, the endpoint is bound first of all, so that an address in use fails the
//! command before a job exists (see [`crate::metrics`]).
//!
//! # Layout
//! - [`start`]: create the job or resume it, and join it.
//! - [`session`]: what an upload needs from the join — the engine's job kind, the AWS session
//!   that keeps its keys fresh, the run options.
//! - [`rounds`]: upload rounds and the complete procedure between them.
//! - [`summary`]: the words of the end of a run.

mod rounds;
mod session;
mod start;
mod summary;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::cli::IngestSettings;
use crate::exit::{Code, ResultExt};
use crate::metrics::{self, Metrics};
use crate::prepared::{self, Prepared};
use crate::processors::Processors;
use crate::shutdown::Signals;
use crate::sources::settle::Settle;
use start::Start;

/// How often to ask again while the service prepares the job or completes it.
const PREPARING_POLL: Duration = Duration::from_secs(5);
const COMPLETING_POLL: Duration = Duration::from_secs(3);
/// How long the runtime waits, once the run is over, for tasks still running: a plugin call
/// abandoned at the end of the drain or a question nobody answered must not keep the process
/// alive (dropping a runtime would wait for them without end).
const RUNTIME_SHUTDOWN: Duration = Duration::from_secs(1);

/// Runs the ingest command.
pub fn run(s: &IngestSettings) -> anyhow::Result<Code> {
    prepared::log_to_file(s.log_file.as_deref(), s.log_level)?;
    let settle = s.follow.map(|f| Arc::new(Settle::new(f.settle)));
    let prepared = Prepared::load(&s.config, settle)?;
    let backend = prepared.backend(s.api_token.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Plugin calls run on blocking threads: one per worker, plus room for the runtime's own.
        .max_blocking_threads(s.processes + 4)
        .build()
        .context("cannot start the async runtime")?;
    let unit = match prepared.processors {
        Processors::Tiles(_) => "tiles",
        Processors::Chunks(_) => "chunks",
    };
    let outcome = runtime.block_on(async {
        // Bound before the job is created: an address in use must not leave a job behind.
        let metrics = match &s.metrics_addr {
            Some(addr) => {
                let m = Metrics::serve(addr).await.exit_code(Code::Usage)?;
                println!(
                    "Serving metrics at http://{}{}",
                    m.local_addr(),
                    metrics::PATH
                );
                Some(m)
            }
            None => None,
        };
        let signals = Signals::start(unit, Duration::from_secs(s.drain_secs));
        let job_id = match start::create_or_resume(s, &prepared, &backend, &signals).await? {
            Start::Upload(id) => id,
            Start::End(code) => return Ok(code),
        };
        // A join only waits while the service prepares: giving it up loses nothing.
        let joined = tokio::select! {
            joined = start::join(&backend, job_id) => joined?,
            _ = signals.first() => {
                println!(
                    "Stopped before uploading; resume with: {}",
                    start::resume_command(s, job_id)
                );
                return Ok(signals.code().unwrap_or(Code::Interrupted));
            }
        };
        let Some(join) = joined else {
            return Ok(Code::Ok);
        };
        let upload = session::Upload::new(s, prepared, &backend, job_id, &join)?;
        if let Some(m) = &metrics {
            m.observe(upload.observed());
        }
        upload.run(&backend, &signals).await
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    outcome
}
