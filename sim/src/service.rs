//! The service's per-job workers (protocol §3, §4.2): fill the upload queue, consume the
//! tile-index queue, hand complete chunks from the ingest queue to [`crate::assembly`], and run
//! the completion scan once `jobs::complete` has moved a job to COMPLETING.
//!
//! Each job has one worker task, which indexes tiles and assembles at most `ASSEMBLERS` chunks at
//! a time, so memory stays bounded by a few chunks' tiles, whatever the job's size.

use crate::assembly::{self, Outcome};
use crate::aws::AwsError;
use crate::parameters;
use crate::plan::JobPlan;
use crate::state::{JobQueues, Sim};
use boss_protocol::keys::{TileChunkKey, TileKey};
use boss_protocol::messages::{to_python_json, TileUploadMessage};
use boss_protocol::status::{IngestType, JobStatus};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// Starts the worker of a newly created job.
pub fn spawn_job(sim: Arc<Sim>, id: u64) {
    tokio::spawn(async move {
        if let Err(e) = fill(&sim, id).await {
            log::error!("job {id}: filling the upload queue failed: {e}");
            return;
        }
        if let Err(e) = consume(&sim, id).await {
            log::error!("job {id}: service worker stopped: {e}");
        }
    });
}

fn is_paused(sim: &Sim, id: u64) -> bool {
    sim.lock().jobs.get(&id).is_some_and(|j| j.paused)
}

fn is_open(sim: &Sim, id: u64) -> bool {
    sim.lock()
        .jobs
        .get(&id)
        .is_some_and(|j| !matches!(j.status, JobStatus::Complete | JobStatus::Deleted))
}

/// Sends every upload message in the service's order, 10 per batch.
async fn fill(sim: &Sim, id: u64) -> Result<(), AwsError> {
    let Some((plan, queues)) = sim
        .lock()
        .jobs
        .get(&id)
        .map(|j| (j.plan.clone(), j.queues.clone()))
    else {
        return Ok(());
    };
    let upload = &queues.upload;
    let ingest_url = queues
        .ingest
        .as_ref()
        .map(|q| q.public_url.clone())
        .unwrap_or_default();
    let bodies: Box<dyn Iterator<Item = String> + Send + '_> = match plan.ingest_type {
        IngestType::Tile => Box::new(
            plan.tile_messages(id, &upload.public_url, &ingest_url)
                .map(|m| to_python_json(&m)),
        ),
        IngestType::Volumetric => Box::new(plan.volumetric_messages().map(|m| to_python_json(&m))),
    };
    let mut batch = Vec::with_capacity(10);
    let mut sent = 0u64;
    for body in bodies {
        batch.push(body);
        if batch.len() == 10 {
            if !is_open(sim, id) {
                return Ok(());
            }
            sim.admin.send_batch(&upload.moto_url, &batch).await?;
            sent += batch.len() as u64;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        sim.admin.send_batch(&upload.moto_url, &batch).await?;
        sent += batch.len() as u64;
    }
    let expected = plan.expected_messages();
    if let Some(job) = sim.lock().jobs.get_mut(&id) {
        job.filled = true;
        // The service's VerifyCount step: fewer messages than counted fails the job's
        // preparation (a volumetric job over several time points gets t = 0 only).
        job.prepare_failed = sent < expected;
    }
    log::info!("job {id}: upload queue filled with {sent} messages");
    if sent < expected {
        log::warn!("job {id}: {sent} messages, {expected} counted: preparation failed");
    }
    Ok(())
}

/// Chunks of one job assembled at once. Each holds a chunk's tiles, its stacked voxels and its
/// cuboids (a few MiB), and spends much of its time waiting on S3 reads and writes, so several
/// in flight keep the assembly up with the uploads; behind them, tiles fall out of the page
/// cache and a 100,000-tile job waited on the disk for most of its assembly.
const ASSEMBLERS: usize = 6;

/// Consumes the tile-index and ingest queues of a tile job until it is complete or deleted.
///
/// Indexing and assembly run as two loops side by side, as they are separate services in the
/// Boss: indexing a tile is cheap bookkeeping, assembling a chunk decodes and compresses, and
/// pacing the first by the second capped a whole job at a few dozen tiles per second.
async fn consume(sim: &Arc<Sim>, id: u64) -> Result<(), AwsError> {
    let Some(queues) = sim.lock().jobs.get(&id).map(|j| j.queues.clone()) else {
        return Ok(());
    };
    let (Some(index), Some(ingest)) = (queues.tile_index, queues.ingest) else {
        return Ok(()); // volumetric: uploads are handled as they arrive at the front door
    };
    let (indexed, assembled) = tokio::join!(
        index_loop(sim, id, &index.moto_url, &ingest.moto_url),
        assemble_loop(sim, id, &ingest.moto_url),
    );
    indexed.and(assembled)
}

/// Runs one round of a consuming loop until the job closes; a round returns whether it found
/// work, and an idle round is followed by a short pause.
async fn until_closed<F, Fut>(sim: &Sim, id: u64, mut round: F) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, AwsError>>,
{
    while is_open(sim, id) {
        if is_paused(sim, id) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        match round().await {
            Ok(true) => {}
            Ok(false) => tokio::time::sleep(Duration::from_millis(100)).await,
            // The queues are deleted when the job completes or is cancelled under us.
            Err(_) if !is_open(sim, id) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Tile-index messages → chunk sets; a complete chunk goes to the ingest queue.
async fn index_loop(sim: &Sim, id: u64, index_url: &str, ingest_url: &str) -> Result<(), AwsError> {
    until_closed(sim, id, || async {
        let messages = sim.admin.receive(index_url, 10).await?;
        let busy = !messages.is_empty();
        for m in &messages {
            index_tile(sim, id, &m.body, ingest_url).await;
        }
        let handles: Vec<String> = messages.into_iter().map(|m| m.receipt_handle).collect();
        sim.admin.delete_batch(index_url, &handles).await?;
        Ok(busy)
    })
    .await
}

/// Ingest-queue messages → assembled cuboids, up to [`ASSEMBLERS`] chunks at a time: a new
/// message is received as soon as one finishes, and each message is deleted once its chunk is.
async fn assemble_loop(sim: &Arc<Sim>, id: u64, ingest_url: &str) -> Result<(), AwsError> {
    let mut work: JoinSet<Option<String>> = JoinSet::new();
    let mut done: Vec<String> = Vec::new();
    let finished = |joined: Option<Result<Option<String>, tokio::task::JoinError>>,
                    done: &mut Vec<String>| {
        // A chunk that failed keeps its message: it comes back after the visibility timeout.
        if let Some(Ok(Some(handle))) = joined {
            done.push(handle);
        }
    };
    while is_open(sim, id) {
        while let Some(joined) = work.try_join_next() {
            finished(Some(joined), &mut done);
        }
        if !done.is_empty() {
            match sim.admin.delete_batch(ingest_url, &done).await {
                Ok(()) => done.clear(),
                // The queues are deleted when the job completes or is cancelled under us.
                Err(_) if !is_open(sim, id) => break,
                Err(e) => return Err(e),
            }
        }
        if is_paused(sim, id) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let free = ASSEMBLERS - work.len();
        if free == 0 {
            finished(work.join_next().await, &mut done);
            continue;
        }
        let messages = match sim.admin.receive(ingest_url, free.min(10) as i32).await {
            Ok(m) => m,
            Err(_) if !is_open(sim, id) => break,
            Err(e) => return Err(e),
        };
        if messages.is_empty() {
            let idle = Duration::from_millis(100);
            if work.is_empty() {
                tokio::time::sleep(idle).await;
            } else if let Ok(joined) = tokio::time::timeout(idle, work.join_next()).await {
                finished(joined, &mut done);
            }
            continue;
        }
        for m in messages {
            let sim = sim.clone();
            work.spawn(async move {
                match assembly::ingest(&sim, id, &m.body).await {
                    Outcome::Done => Some(m.receipt_handle),
                    Outcome::Failed => None,
                }
            });
        }
    }
    // A job closed under running chunks: let them end (their writes are whole or not made).
    while work.join_next().await.is_some() {}
    Ok(())
}

/// The fields of a tile-index message the indexing lambda reads, or why it would fail on it.
fn index_entry(id: u64, body: &str) -> Result<(String, TileChunkKey, TileKey), String> {
    let message: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let job = assembly::python_int(&message["ingest_job"]).ok_or("no integer ingest_job")?;
    if job != id {
        return Err(format!(
            "ingest_job is {job}: indexed under that job, not this one"
        ));
    }
    let chunk_key = message["chunk_key"].as_str().ok_or("no chunk_key")?;
    let tile_key = message["tile_key"].as_str().ok_or("no tile_key")?;
    let chunk = TileChunkKey::parse(chunk_key).map_err(|e| format!("chunk_key: {e}"))?;
    let tile = TileKey::parse(tile_key).map_err(|e| format!("tile_key: {e}"))?;
    Ok((chunk_key.to_string(), chunk, tile))
}

/// One tile-index message, as boss-tools `tile_uploaded_lambda` handles it: the tile joins its
/// chunk's row in the tile index; a complete chunk's message goes on to the ingest queue as it
/// came (the tile-ingest lambda then reads its `parameters`). The tile object is not looked at.
async fn index_tile(sim: &Sim, id: u64, body: &str, ingest_url: &str) {
    let (chunk_key, chunk, tile) = match index_entry(id, body) {
        Ok(entry) => entry,
        Err(why) => {
            // On BossDB the lambda fails on it three times and it goes to a dead-letter queue
            // nobody reads: the tile is never indexed.
            log::warn!("job {id}: tile-index message refused ({why}): {body}");
            if let Some(job) = sim.lock().jobs.get_mut(&id) {
                job.stats.tile_index_rejected += 1;
            }
            return;
        }
    };
    let mut delete_duplicate = false;
    let mut complete = false;
    {
        let mut inner = sim.lock();
        let Some(job) = inner.jobs.get_mut(&id) else {
            return;
        };
        if job.assembled.contains(&chunk_key) {
            job.stats.tiles_indexed += 1;
            job.stats.duplicate_tiles += 1;
            delete_duplicate = true;
        } else {
            job.stats.tiles_indexed += 1;
            let pending = job.pending.entry(chunk_key.clone()).or_default();
            if !pending.slices.insert(tile.z) {
                job.stats.duplicate_tiles += 1;
            }
            if pending.slices.len() as u64 >= chunk.num_tiles && !pending.queued {
                pending.queued = true;
                complete = true;
            }
        }
    }
    if delete_duplicate {
        let _ = sim.admin.delete_object(&sim.tile_bucket, &tile.key()).await;
    }
    if complete {
        if let Err(e) = sim.admin.send(ingest_url, body.to_string()).await {
            log::error!("job {id}: queueing chunk {chunk_key} for ingest: {e}");
            if let Some(p) = sim
                .lock()
                .jobs
                .get_mut(&id)
                .and_then(|j| j.pending.get_mut(&chunk_key))
            {
                p.queued = false;
            }
        }
    }
}

/// Starts the completion scan of a job that just became COMPLETING; a scan that fails sends the
/// job back to UPLOADING.
pub fn start_scan(sim: Arc<Sim>, id: u64) {
    tokio::spawn(async move {
        if let Err(e) = scan(&sim, id).await {
            log::error!("job {id}: completion scan failed: {e}; back to UPLOADING");
            if let Some(job) = sim.lock().jobs.get_mut(&id) {
                job.status = JobStatus::Uploading;
            }
        }
    });
}

/// COMPLETING, as boss-tools `ChunkScanner` and `IngestCleaner` run it. Tile jobs: every chunk
/// that still has a row in the tile index is checked — missing tiles go back on the upload queue
/// (→ UPLOADING), a complete chunk is re-sent to the ingest queue with the service's own
/// parameters (→ WAIT_ON_QUEUES, the timer's start unchanged). A chunk none of whose tiles was
/// ever indexed has no row and is not seen: the job completes without it (counted as
/// `chunks_lost_on_bossdb`). With nothing found the queues are deleted, the keys revoked, and
/// the job is COMPLETE.
async fn scan(sim: &Sim, id: u64) -> Result<(), AwsError> {
    let Some((plan, queues, channel)) = sim
        .lock()
        .jobs
        .get(&id)
        .map(|j| (j.plan.clone(), j.queues.clone(), j.channel.clone()))
    else {
        return Ok(());
    };
    while is_paused(sim, id) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut reenqueued = 0u64;
    let mut resent = 0u64;
    if plan.ingest_type == IngestType::Tile {
        let ingest_url = queues
            .ingest
            .as_ref()
            .map(|q| q.public_url.clone())
            .unwrap_or_default();
        let rows: Vec<(String, BTreeSet<u64>)> = {
            let inner = sim.lock();
            let Some(job) = inner.jobs.get(&id) else {
                return Ok(());
            };
            let mut rows: Vec<_> = job
                .pending
                .iter()
                .map(|(key, row)| (key.clone(), row.slices.clone()))
                .collect();
            rows.sort();
            rows
        };
        let resend = ResentChunk {
            chunk_key: String::new(),
            ingest_job: id,
            parameters: parameters::service_parameters(&channel),
            x_size: plan.step_x,
            y_size: plan.step_y,
        };
        let mut batch = Vec::with_capacity(10);
        for (key, have) in rows {
            // Indexed keys always parse (index_tile checked them).
            let Ok(chunk) = TileChunkKey::parse(&key) else {
                continue;
            };
            let missing: Vec<TileKey> = JobPlan::scanned_tiles(&chunk)
                .filter(|t| !have.contains(&t.z))
                .collect();
            if missing.is_empty() {
                if let Some(q) = &queues.ingest {
                    let body = to_python_json(&ResentChunk {
                        chunk_key: key.clone(),
                        ..resend.clone()
                    });
                    sim.admin.send(&q.moto_url, body).await?;
                    resent += 1;
                }
                continue;
            }
            for tile in missing {
                batch.push(to_python_json(&TileUploadMessage {
                    job_id: id,
                    upload_queue_arn: queues.upload.public_url.clone(),
                    ingest_queue_arn: ingest_url.clone(),
                    chunk_key: key.clone(),
                    tile_key: tile.key(),
                }));
                if batch.len() == 10 {
                    sim.admin
                        .send_batch(&queues.upload.moto_url, &batch)
                        .await?;
                    reenqueued += 10;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            sim.admin
                .send_batch(&queues.upload.moto_url, &batch)
                .await?;
            reenqueued += batch.len() as u64;
        }
    }
    if sim.lock().jobs.get(&id).map(|j| j.status) != Some(JobStatus::Completing) {
        return Ok(()); // cancelled meanwhile
    }
    let finished = reenqueued == 0 && resent == 0;
    if finished {
        delete_queues(sim, &queues).await;
    }
    let mut inner = sim.lock();
    if finished {
        Sim::revoke(&mut inner, id);
    }
    if let Some(job) = inner.jobs.get_mut(&id) {
        job.stats.tiles_reenqueued += reenqueued;
        job.stats.chunks_resent += resent;
        job.status = if reenqueued > 0 {
            JobStatus::Uploading
        } else if resent > 0 {
            // Set by raw SQL in the scanner: `wait_on_queues_ts` keeps its old value.
            JobStatus::WaitOnQueues
        } else {
            if plan.ingest_type == IngestType::Tile {
                job.stats.chunks_lost_on_bossdb = plan
                    .tile_chunks()
                    .filter(|c| !job.assembled.contains(&c.key()))
                    .count() as u64;
            }
            job.stats.completed();
            JobStatus::Complete
        };
        log::info!(
            "job {id}: scan re-enqueued {reenqueued} tiles, re-sent {resent} chunks: {}",
            job.status
        );
        if job.stats.chunks_lost_on_bossdb > 0 {
            log::warn!(
                "job {id}: {} chunks had no tile indexed; BossDB completes without them",
                job.stats.chunks_lost_on_bossdb
            );
        }
    }
    Ok(())
}

/// The message `ChunkScanner.enqueue_chunk` puts on the ingest queue.
#[derive(Debug, Clone, serde::Serialize)]
struct ResentChunk {
    chunk_key: String,
    ingest_job: u64,
    parameters: parameters::Parameters,
    x_size: u64,
    y_size: u64,
}

/// Deletes a job's upload and internal queues (the tile-error queue stays for inspection).
pub async fn delete_queues(sim: &Sim, queues: &JobQueues) {
    for q in [
        Some(&queues.upload),
        queues.tile_index.as_ref(),
        queues.ingest.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if let Err(e) = sim.admin.delete_queue(&q.moto_url).await {
            log::warn!("deleting queue {}: {e}", q.name);
        }
    }
}
