//! What an upload needs once the job is joined: the engine's job kind (the processors behind a
//! tile or chunk source, the queues and buckets of the join), the AWS session whose keys a
//! refresher re-joins for, the run's options, counters and failure report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;
use plugin_abi::Dtype;

use super::rounds::{self, Round};
use super::start;
use super::PREPARING_POLL;
use crate::aws::{Endpoints, JobCredentials, RefreshPolicy, Rejoin, Session};
use crate::backend::{Backend, Join};
use crate::cli::IngestSettings;
use crate::engine::quarantine::Quarantine;
use crate::engine::{self, Chunks, Options, Stats, Tiles, Unit};
use crate::exit::{Code, ResultExt};
use crate::logging;
use crate::metrics;
use crate::prepared::Prepared;
use crate::processors::Processors;
use crate::progress::JobWide;
use crate::shutdown::Signals;

/// A joined job, ready to upload.
pub struct Upload {
    kind: JobKind,
    round: Round,
}

/// The engine's kind of this job.
enum JobKind {
    Tiles(Arc<Tiles>),
    Chunks(Arc<Chunks>),
}

impl Upload {
    /// Builds the job kind from the join and the processors, and starts the key refresher.
    pub fn new(
        s: &IngestSettings,
        prepared: Prepared,
        backend: &Backend,
        job_id: u64,
        join: &Join,
    ) -> anyhow::Result<Upload> {
        let Prepared { job, processors } = prepared;
        let dtype = join.response.datatype().and_then(Dtype::from_name);
        let ij = &job.config.ingest_job;
        let mut chunks_in_flight = 0;
        let (kind, unit) = match processors {
            Processors::Tiles(tiles) => {
                let ts = ij
                    .tile_size
                    .ok_or_else(|| anyhow!("{}: the config has no tile_size", job.path.display()))
                    .exit_code(Code::Usage)?;
                let source = Arc::new(tiles.with_dtype(dtype));
                let kind = Tiles::from_join(join, (ts.x, ts.y), source)?;
                (JobKind::Tiles(Arc::new(kind)), Unit::Tiles)
            }
            Processors::Chunks(chunks) => {
                let cs = chunks.chunk_size();
                let voxel = dtype.map_or(1, |d| d.size() as u64);
                let chunk_bytes = cs.x * cs.y * cs.z * voxel;
                chunks_in_flight = s
                    .chunks_in_flight
                    .unwrap_or_else(|| engine::default_chunks_in_flight(s.processes, chunk_bytes));
                log::info!(
                    "{chunks_in_flight} chunks in flight, each up to {:.1} MiB of voxels",
                    chunk_bytes as f64 / (1 << 20) as f64
                );
                let kind = Chunks::from_join(join, Arc::new(chunks.with_dtype(dtype)))?;
                (JobKind::Chunks(Arc::new(kind)), Unit::Chunks)
            }
        };
        let report = logging::state_dir().join(format!(
            "failed_{}_job{job_id}_{}_pid{}.jsonl",
            unit.plural(),
            logging::timestamp(),
            std::process::id()
        ));
        let round = Round {
            job_id,
            unit,
            session: session(backend, job_id, join)?,
            options: Options {
                workers: s.processes,
                chunks_in_flight,
                max_attempts: s.max_attempts,
                receive_wait: Duration::from_secs(s.receive_wait_secs.into()),
                ramp: Duration::from_secs(s.ramp_seconds.unwrap_or(0)),
                drain_confirm: engine::DRAIN_CONFIRM,
                drain_grace: Duration::from_secs(s.drain_secs),
                follow: s.follow.map(|f| f.timeout),
            },
            stats: Arc::new(Stats::default()),
            job_wide: Arc::new(JobWide::default()),
            quarantine: Arc::new(Quarantine::new(report)),
            progress: s.progress,
            manual_complete: s.manual_complete,
            resume: start::resume_command(s, job_id),
            follow_timeout: s.follow.map(|f| f.timeout),
        };
        Ok(Upload { kind, round })
    }

    /// Where the metrics endpoint reads this upload's numbers.
    pub fn observed(&self) -> metrics::Run {
        let r = &self.round;
        metrics::Run {
            job_id: r.job_id,
            unit: r.unit,
            stats: r.stats.clone(),
            renewals: r.session.renewals(),
            job_wide: r.job_wide.clone(),
        }
    }

    /// Uploads until the job is complete, interrupted, or cannot go on.
    pub async fn run(self, backend: &Backend, signals: &Signals) -> anyhow::Result<Code> {
        match self.kind {
            JobKind::Tiles(kind) => rounds::run(&self.round, backend, kind, signals).await,
            JobKind::Chunks(kind) => rounds::run(&self.round, backend, kind, signals).await,
        }
    }
}

/// The job's AWS session: keys from this join, renewed by re-joining.
fn session(backend: &Backend, job_id: u64, join: &Join) -> anyhow::Result<Session> {
    let creds = credentials(join).map_err(|e| anyhow!("joining job {job_id}: {e}"))?;
    let rejoin: Rejoin = {
        let backend = backend.clone();
        Arc::new(move || {
            let backend = backend.clone();
            Box::pin(async move {
                let join = backend
                    .join_when_ready(job_id, PREPARING_POLL)
                    .await
                    .map_err(|e| e.to_string())?;
                credentials(&join)
            })
        })
    };
    Ok(Session::start(
        creds,
        Endpoints::from_env(),
        RefreshPolicy::default(),
        rejoin,
    ))
}

fn credentials(join: &Join) -> Result<JobCredentials, String> {
    let c = join
        .response
        .credentials
        .as_ref()
        .ok_or_else(|| "the service sent no AWS credentials".to_string())?;
    Ok(JobCredentials {
        access_key: c.access_key.clone(),
        secret_key: c.secret_key.clone(),
        session_token: c.security_token.clone(),
    })
}
