//! `boss-ingest <config> [-j ID]`: the whole life of a tile or volumetric job, as the Python client
//! runs it and spec §2 describes it: validate, show the job, confirm, create (or resume with
//! `-j`), join (waiting while the service prepares), upload with the engine, then the complete
//! procedure — going back to uploading whenever the service says work is still, or again, in the
//! queue.
//!
//! Questions are asked only on a terminal: without one and without `-f` the command fails at
//! once, because a scheduler's job waiting for an answer nobody will type is worse than an error.
//! The first Ctrl-C stops taking tiles and finishes those in flight; the second exits at once.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use boss_protocol::config::{ChunkSize, IngestType};
use boss_protocol::status::JobStatus;
use plugin_abi::{Dtype, NoteKind};

use crate::aws::{Endpoints, JobCredentials, RefreshPolicy, Rejoin, Session};
use crate::backend::{token, Backend, BackendError, CompleteAnswer};
use crate::cli::IngestSettings;
use crate::commands::chunks::PluginChunks;
use crate::config::{self, JobConfig, ProcessorKind};
use crate::engine::quarantine::Quarantine;
use crate::engine::{self, End, Job, Options, Produced, Source, Stats, TileFailure, TileSource};
use crate::exit::{with_code, Code, ResultExt};
use crate::plugins::{PathHandle, Plugins, SearchPath, TileHandle};
use crate::progress;

/// How often to ask again while the service prepares the job or completes it.
const PREPARING_POLL: Duration = Duration::from_secs(5);
const COMPLETING_POLL: Duration = Duration::from_secs(3);

/// Runs the ingest command.
pub fn run(s: &IngestSettings) -> anyhow::Result<Code> {
    let log_path = progress::init_logging(s.log_file.as_deref(), s.log_level)
        .context("cannot open the log file")
        .exit_code(Code::Usage)?;
    log::info!("logging to {}", log_path.display());
    let job_cfg = config::load(&s.config)?;
    let token = token::lookup(s.api_token.as_deref()).exit_code(Code::Usage)?;
    let backend = Backend::new(&job_cfg.api_base_url(), &token.value)
        .context("cannot set up the HTTP client")?;
    let processors = match job_cfg.config.ingest_job.ingest_type {
        IngestType::Tile => Processors::Tiles(PluginTiles::new(&job_cfg).exit_code(Code::Usage)?),
        IngestType::Volumetric => {
            Processors::Chunks(PluginChunks::new(&job_cfg).exit_code(Code::Usage)?)
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Plugin calls run on blocking threads: one per worker, plus room for the runtime's own.
        .max_blocking_threads(s.processes + 4)
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(lifecycle(s, &job_cfg, backend, processors))
}

/// The job's processors, loaded before anything is created so a bad class fails at once.
enum Processors {
    Tiles(PluginTiles),
    Chunks(PluginChunks),
}

async fn lifecycle(
    s: &IngestSettings,
    job_cfg: &JobConfig,
    backend: Backend,
    processors: Processors,
) -> anyhow::Result<Code> {
    let job_id = match s.job_id {
        Some(id) => {
            println!("Resuming ingest job {id} on {}", backend.base());
            id
        }
        None => {
            println!("{}", job_cfg.summary());
            if !confirm("Create a new ingest job?", s.force)? {
                println!("No job created.");
                return Ok(Code::Ok);
            }
            let created = backend
                .create(&job_cfg.raw)
                .await
                .context("cannot create the ingest job")?;
            let unit = match processors {
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
                return Ok(Code::Ok);
            }
            created.id
        }
    };

    let join = match backend.join_when_ready(job_id, PREPARING_POLL).await {
        Ok(join) => join,
        Err(BackendError::AlreadyComplete { job }) => {
            println!("job {job} is already complete");
            return Ok(Code::Ok);
        }
        Err(e) => return Err(e).context(format!("cannot join job {job_id}")),
    };
    let channel_dtype = join.response.datatype().and_then(dtype_of);
    let ij = &job_cfg.config.ingest_job;
    let mut chunks_in_flight = 0;
    let (job, source, unit) = match processors {
        Processors::Tiles(tiles) => {
            let ts = ij
                .tile_size
                .ok_or_else(|| anyhow!("{}: the config has no tile_size", job_cfg.path.display()))
                .exit_code(Code::Usage)?;
            let job = Job::from_join(&join, (ts.x, ts.y))?;
            let source = Source::Tiles(Arc::new(tiles.with_dtype(channel_dtype)));
            (job, source, Unit::Tiles)
        }
        Processors::Chunks(chunks) => {
            let job = Job::volumetric_from_join(&join)?;
            let cs = ij.chunk_size.unwrap_or(ChunkSize { x: 0, y: 0, z: 0 });
            let voxel = channel_dtype.map_or(1, |d| d.size() as u64);
            let chunk_bytes = cs.x * cs.y * cs.z * voxel;
            chunks_in_flight = s
                .chunks_in_flight
                .unwrap_or_else(|| engine::default_chunks_in_flight(s.processes, chunk_bytes));
            log::info!(
                "{chunks_in_flight} chunks in flight, each up to {:.1} MiB of voxels",
                chunk_bytes as f64 / (1 << 20) as f64
            );
            let source = Source::Chunks(Arc::new(chunks.with_dtype(channel_dtype)));
            (job, source, Unit::Chunks)
        }
    };
    let creds = credentials(&join.response).context(format!("joining job {job_id}"))?;
    let rejoin: Rejoin = {
        let backend = backend.clone();
        Arc::new(move || {
            let backend = backend.clone();
            Box::pin(async move {
                let join = backend
                    .join_when_ready(job_id, PREPARING_POLL)
                    .await
                    .map_err(|e| e.to_string())?;
                credentials(&join.response).map_err(|e| e.to_string())
            })
        })
    };
    let session = Session::start(
        creds,
        Endpoints::from_env(),
        RefreshPolicy::default(),
        rejoin,
    );

    let stats = Arc::new(Stats::default());
    let report = progress::state_dir().join(format!(
        "failed_{}_job{job_id}_{}_pid{}.jsonl",
        unit.plural(),
        progress::timestamp(),
        std::process::id()
    ));
    let quarantine = Arc::new(Quarantine::new(report));
    let options = Options {
        workers: s.processes,
        chunks_in_flight,
        max_attempts: s.max_attempts,
        receive_wait: Duration::from_secs(s.receive_wait_secs.into()),
        ramp: Duration::from_secs(s.ramp_seconds.unwrap_or(0)),
    };
    let interrupts = Interrupts::start();
    let progress_task = tokio::spawn(progress::report(
        s.progress,
        backend.clone(),
        job_id,
        stats.clone(),
        progress::interval_from_env(),
    ));
    let resume = format!("boss-ingest {} -j {job_id}", s.config.display());

    // The summary's time covers every upload round and the complete procedure.
    let started = std::time::Instant::now();
    let code = loop {
        let outcome = engine::run(
            job.clone(),
            session.clone(),
            source.clone(),
            options.clone(),
            stats.clone(),
            quarantine.clone(),
            interrupts.first(),
        )
        .await;
        match outcome.end {
            End::Interrupted => {
                summary(unit, &outcome.stats, started.elapsed(), &quarantine);
                println!(
                    "Interrupted. {} in flight were finished; resume with: {resume}",
                    unit.capitalised()
                );
                break Code::Interrupted;
            }
            End::JobGone => {
                summary(unit, &outcome.stats, started.elapsed(), &quarantine);
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
                summary(unit, &outcome.stats, started.elapsed(), &quarantine);
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
            End::Drained => {}
        }
        if !quarantine.is_empty() {
            summary(unit, &outcome.stats, started.elapsed(), &quarantine);
            println!(
                "{} {} were quarantined; the job stays open. Fix them (see {}) and resume with: {resume}",
                quarantine.len(),
                unit.plural(),
                quarantine.path().display()
            );
            break Code::Quarantined;
        }
        if s.manual_complete {
            summary(unit, &outcome.stats, started.elapsed(), &quarantine);
            println!(
                "All {} uploaded; -m given, so job {job_id} is left for you to complete.",
                unit.plural()
            );
            break Code::Ok;
        }
        match complete(&backend, job_id, &interrupts).await? {
            Completion::Done => {
                summary(unit, &stats.snapshot(), started.elapsed(), &quarantine);
                println!("Job {job_id} is COMPLETE.");
                break Code::Ok;
            }
            Completion::Interrupted => {
                println!("Interrupted while completing; resume with: {resume}");
                break Code::Interrupted;
            }
            Completion::UploadAgain => {
                log::info!(
                    "the service has {} in the upload queue again; uploading them",
                    unit.plural()
                );
            }
        }
    };
    progress_task.abort();
    Ok(code)
}

enum Completion {
    Done,
    UploadAgain,
    Interrupted,
}

/// The client side of spec §2.4: POST complete, wait as told, poll while COMPLETING.
async fn complete(
    backend: &Backend,
    job: u64,
    interrupts: &Interrupts,
) -> anyhow::Result<Completion> {
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
                if interrupts.sleep(COMPLETING_POLL).await {
                    return Ok(Completion::Interrupted);
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
        if interrupts.sleep(wait).await {
            return Ok(Completion::Interrupted);
        }
    }
}

fn credentials(join: &boss_protocol::api::JoinResponse) -> anyhow::Result<JobCredentials> {
    let c = join
        .credentials
        .as_ref()
        .ok_or_else(|| anyhow!("the service sent no AWS credentials"))?;
    Ok(JobCredentials {
        access_key: c.access_key.clone(),
        secret_key: c.secret_key.clone(),
        session_token: c.security_token.clone(),
    })
}

/// What a job's upload messages are, for the words of the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Tiles,
    Chunks,
}

impl Unit {
    fn plural(self) -> &'static str {
        match self {
            Unit::Tiles => "tiles",
            Unit::Chunks => "chunks",
        }
    }

    fn capitalised(self) -> &'static str {
        match self {
            Unit::Tiles => "Tiles",
            Unit::Chunks => "Chunks",
        }
    }
}

fn summary(unit: Unit, stats: &engine::Snapshot, elapsed: Duration, quarantine: &Quarantine) {
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

/// Asks a yes/no question on the terminal; `-f` answers yes. Without a terminal, fails at once.
pub fn confirm(question: &str, force: bool) -> anyhow::Result<bool> {
    if force {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(with_code(
            Code::Usage,
            anyhow!("cannot ask \"{question}\": standard input is not a terminal; pass -f to proceed without questions"),
        ));
    }
    loop {
        print!("{question} (y/n) ");
        std::io::stdout().flush().ok();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(false);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => continue,
        }
    }
}

/// Ctrl-C handling: the first press resolves [`Interrupts::first`]; a second exits at once.
#[derive(Clone)]
struct Interrupts {
    pressed: tokio::sync::watch::Receiver<bool>,
}

impl Interrupts {
    fn start() -> Interrupts {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            eprintln!(
                "Stopping: finishing the tiles in flight (press Ctrl-C again to quit at once)"
            );
            tx.send_replace(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "Quitting at once; tiles in flight will be redone when the job is resumed"
                );
                std::process::exit(Code::Interrupted.as_i32());
            }
        });
        Interrupts { pressed: rx }
    }

    /// Resolves on the first Ctrl-C.
    fn first(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.pressed.clone();
        async move {
            let _ = rx.wait_for(|p| *p).await;
        }
    }

    /// Sleeps; returns true if interrupted instead.
    async fn sleep(&self, d: Duration) -> bool {
        if *self.pressed.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = self.first() => true,
        }
    }
}

pub(crate) fn dtype_of(name: &str) -> Option<Dtype> {
    match name {
        "uint8" => Some(Dtype::U8),
        "uint16" => Some(Dtype::U16),
        "uint32" => Some(Dtype::U32),
        "uint64" => Some(Dtype::U64),
        _ => None,
    }
}

/// The config's path and tile processors as the engine's tile source.
pub(crate) struct PluginTiles {
    path: PathHandle,
    tile: TileHandle,
    expected: crate::tile::Expected,
}

impl PluginTiles {
    pub(crate) fn new(job: &JobConfig) -> anyhow::Result<PluginTiles> {
        let plugins = Plugins::new(SearchPath::from_env());
        let spec = |kind: ProcessorKind| {
            job.processor_spec(kind).ok_or_else(|| {
                anyhow!(
                    "{}: the config has no {}",
                    job.path.display(),
                    kind.config_key()
                )
            })
        };
        let path = plugins.path_processor(&spec(ProcessorKind::Path)?)?;
        let tile = plugins.tile_processor(&spec(ProcessorKind::Tile)?)?;
        let ts = job
            .config
            .ingest_job
            .tile_size
            .ok_or_else(|| anyhow!("{}: the config has no tile_size", job.path.display()))?;
        Ok(PluginTiles {
            path,
            tile,
            expected: crate::tile::Expected {
                width: ts.x as u32,
                height: ts.y as u32,
                dtype: None,
            },
        })
    }

    pub(crate) fn with_dtype(mut self, dtype: Option<Dtype>) -> PluginTiles {
        self.expected.dtype = dtype;
        self
    }
}

impl TileSource for PluginTiles {
    fn tile(&self, x: u64, y: u64, z: u64, t: u64) -> Result<Produced, TileFailure> {
        let file = self.path.path(x, y, z, t).map_err(|e| TileFailure {
            file: None,
            error: e.to_string(),
        })?;
        let out = self.tile.tile(&file, x, y, z, t).map_err(|e| TileFailure {
            file: Some(file.clone()),
            error: e.to_string(),
        })?;
        let mut black = false;
        for note in &out.notes {
            black |= note.kind == NoteKind::BlackTile;
            log::info!("tile x{x} y{y} z{z} t{t} ({file}): {}", note.message);
        }
        let encoded = crate::tile::prepare(out.image, &self.expected).map_err(|e| TileFailure {
            file: Some(file.clone()),
            error: format!("tile x{x} y{y} z{z} t{t} from {file}: {e}"),
        })?;
        Ok(Produced {
            bytes: encoded.bytes,
            file: Some(file),
            black,
        })
    }
}
