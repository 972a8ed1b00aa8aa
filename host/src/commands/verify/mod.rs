//! `boss-ingest verify <config> [-j ID]`: reads the job's extent back through the cutout API and
//! compares it, tile by tile (or chunk by chunk), with what the configured processors produce
//! from the source. It is the proof a user can run after an ingest that the Boss holds exactly
//! their data.
//!
//! `-p N` tiles or chunks are compared at once (the source read and the comparison on blocking
//! threads, the cutouts concurrently); each holds one tile or chunk and its cutout, so memory is
//! bounded by `-p`, not by the volume. Lines about differing tiles come in the order the
//! comparisons finish.
//!
//! Only the part of each tile inside the extent is compared (edge tiles are padded to full size on
//! upload). Cutouts read time point 0; a job with more time points is refused for now. A
//! volumetric chunk's array (checked as an upload checks it) is compared with the cutout of the
//! chunk's box clipped to the extent, with zeros where the chunk ends early.

mod compare;

use std::future::Future;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use boss_protocol::config::TileIndex;
use boss_protocol::cutout::Region;
use plugin_abi::Dtype;
use tokio::task::JoinSet;

use crate::backend::{Backend, BackendError, Joined};
use crate::cli::VerifySettings;
use crate::config::JobConfig;
use crate::exit::{with_code, Code};
use crate::prepared::{self, Prepared};
use crate::processors::{describe, ChunkProcessors, Processors, TileProcessors};
use compare::{differing_chunk_voxels, differing_voxels};

/// How one tile or chunk compared.
enum Verdict {
    Same,
    /// What differs, as a line for the user.
    Differs(String),
}

/// Runs the verify command.
pub fn run(s: &VerifySettings) -> anyhow::Result<Code> {
    prepared::log_to_file(s.log_file.as_deref(), s.log_level)?;
    let prepared = Prepared::load(&s.config, None)?;
    let ij = &prepared.job.config.ingest_job;
    if ij.extent.t.len() > 1 || ij.extent.t.start != 0 {
        return Err(with_code(
            Code::Usage,
            anyhow!(
                "{}: verify reads time point 0 only, and this job's t extent is [{}, {})",
                s.config.display(),
                ij.extent.t.start,
                ij.extent.t.stop
            ),
        ));
    }
    let backend = prepared.backend(s.api_token.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(s.processes + 2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let dtype = match s.job_id {
            Some(id) => job_dtype(&backend, id).await?,
            None => None,
        };
        let Prepared { job, processors } = prepared;
        let job = Arc::new(job);
        match processors {
            Processors::Tiles(tiles) => {
                let tiles = Arc::new(tiles.with_dtype(dtype));
                let items = job.config.ingest_job.tiles();
                let check = |t| verify_tile(job.clone(), backend.clone(), tiles.clone(), t);
                let (checked, bad) = compare_all(items, s.processes, check).await?;
                Ok(say(checked, bad, "tiles"))
            }
            Processors::Chunks(chunks) => {
                let chunks = Arc::new(chunks.with_dtype(dtype));
                let items = job.config.ingest_job.volumetric_chunks();
                let check = |c| verify_chunk(job.clone(), backend.clone(), chunks.clone(), c);
                let (checked, bad) = compare_all(items, s.processes, check).await?;
                Ok(say(checked, bad, "chunks"))
            }
        }
    })
}

/// With a job id, the channel's dtype from its join (every tile must have it). A finished job
/// joins without keys, or not at all; its data is what verify came to read, and the cutouts
/// tell their dtype themselves.
async fn job_dtype(backend: &Backend, id: u64) -> anyhow::Result<Option<Dtype>> {
    match backend.join(id).await {
        Ok(Joined::Ready(join)) => Ok(join.response.datatype().and_then(Dtype::from_name)),
        Ok(Joined::Preparing) => Ok(None),
        Err(BackendError::AlreadyComplete { .. }) => Ok(None),
        Err(BackendError::JobDeleted { job }) => {
            println!("job {job} was cancelled; comparing what it stored before");
            Ok(None)
        }
        Err(e) => Err(e).context(format!("cannot join job {id}")),
    }
}

fn say(checked: u64, bad: u64, unit: &str) -> Code {
    if bad == 0 {
        println!("All {checked} {unit} are identical to the source.");
        Code::Ok
    } else {
        println!("{bad} of {checked} {unit} differ from the source.");
        Code::Quarantined
    }
}

/// Runs `check` on every item, `workers` at once; prints each difference as it is found.
/// Returns (checked, differing).
async fn compare_all<F, Fut>(
    items: impl Iterator<Item = TileIndex>,
    workers: usize,
    check: F,
) -> anyhow::Result<(u64, u64)>
where
    F: Fn(TileIndex) -> Fut,
    Fut: Future<Output = anyhow::Result<Verdict>> + Send + 'static,
{
    let (mut checked, mut bad) = (0u64, 0u64);
    let mut running = JoinSet::new();
    let mut tally = |verdict: anyhow::Result<Verdict>| -> anyhow::Result<()> {
        checked += 1;
        if let Verdict::Differs(line) = verdict? {
            bad += 1;
            println!("{line}");
        }
        if checked % 500 == 0 {
            log::info!("verified {checked}, {bad} differ");
        }
        Ok(())
    };
    for item in items {
        if running.len() >= workers.max(1) {
            if let Some(done) = running.join_next().await {
                tally(done.context("a comparison ended abnormally")?)?;
            }
        }
        running.spawn(check(item));
    }
    while let Some(done) = running.join_next().await {
        tally(done.context("a comparison ended abnormally")?)?;
    }
    Ok((checked, bad))
}

/// The voxels the Boss holds in `region` of the job's channel.
async fn stored(
    backend: &Backend,
    job: &JobConfig,
    region: Region,
    what: &str,
) -> anyhow::Result<Vec<u8>> {
    let db = &job.config.database;
    let res = u64::try_from(job.config.ingest_job.resolution).unwrap_or(0);
    let voxels = backend
        .cutout(&db.collection, &db.experiment, &db.channel, res, region)
        .await
        .with_context(|| format!("reading {what} back"))?;
    Ok(voxels.bytes)
}

async fn verify_tile(
    job: Arc<JobConfig>,
    backend: Backend,
    tiles: Arc<TileProcessors>,
    idx: TileIndex,
) -> anyhow::Result<Verdict> {
    let ij = &job.config.ingest_job;
    let ts = ij.tile_size.map_or((0, 0), |ts| (ts.x, ts.y));
    let (x0, y0) = (idx.x * ts.0, idx.y * ts.1);
    let (x1, y1) = (
        (x0 + ts.0).min(ij.extent.x.stop),
        (y0 + ts.1).min(ij.extent.y.stop),
    );
    let where_ = format!("tile x{} y{} z{} t{}", idx.x, idx.y, idx.z, idx.t);
    let source = tokio::task::spawn_blocking(move || tiles.make(idx.x, idx.y, idx.z, idx.t));
    let region = Region {
        x: (x0, x1),
        y: (y0, y1),
        z: (idx.z, idx.z + 1),
    };
    let stored = stored(&backend, &job, region, &where_).await?;
    let made = match source.await.context("a plugin call ended abnormally")? {
        Ok(made) => made,
        Err(problem) => {
            let why = match problem {
                crate::processors::TileProblem::Plugin { message, .. } => message,
                crate::processors::TileProblem::Unusable { file, error, .. } => {
                    format!("{file}: {error}")
                }
            };
            return Ok(Verdict::Differs(format!(
                "{where_}: the source cannot be read: {why}"
            )));
        }
    };
    let diff = tokio::task::spawn_blocking(move || {
        let file = made.file.clone();
        (
            file,
            differing_voxels(&made.encoded.bytes, &stored, (x1 - x0, y1 - y0)),
        )
    })
    .await
    .context("a comparison ended abnormally")?;
    Ok(match diff {
        (_, Ok(0)) => Verdict::Same,
        (file, Ok(n)) => Verdict::Differs(format!(
            "{where_} ({file}): {n} of {} voxels differ",
            (x1 - x0) * (y1 - y0)
        )),
        (file, Err(why)) => Verdict::Differs(format!("{where_} ({file}): {why}")),
    })
}

async fn verify_chunk(
    job: Arc<JobConfig>,
    backend: Backend,
    chunks: Arc<ChunkProcessors>,
    c: TileIndex,
) -> anyhow::Result<Verdict> {
    let g = chunks.geometry(c.x, c.y, c.z);
    let source = tokio::task::spawn_blocking(move || chunks.read(c.x, c.y, c.z));
    let region = Region {
        x: (g.origin.x, g.origin.x + g.max.x),
        y: (g.origin.y, g.origin.y + g.max.y),
        z: (g.origin.z, g.origin.z + g.max.z),
    };
    let name = format!("chunk x{} y{} z{}", c.x, c.y, c.z);
    let stored = stored(&backend, &job, region, &name).await?;
    let read = match source.await.context("a plugin call ended abnormally")? {
        Ok(read) => read,
        Err(f) => return Ok(Verdict::Differs(f.message)),
    };
    let diff = tokio::task::spawn_blocking(move || {
        let name = describe(&read.geometry);
        let name = if read.file.is_empty() {
            name
        } else {
            format!("{name} from {}", read.file)
        };
        (
            name,
            differing_chunk_voxels(&read.chunk, &stored, read.geometry.max),
        )
    })
    .await
    .context("a comparison ended abnormally")?;
    let voxels = g.max.x * g.max.y * g.max.z;
    Ok(match diff {
        (_, Ok(0)) => Verdict::Same,
        (name, Ok(n)) => Verdict::Differs(format!("{name}: {n} of {voxels} voxels differ")),
        (name, Err(why)) => Verdict::Differs(format!("{name}: {why}")),
    })
}
