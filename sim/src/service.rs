//! The service side of a job (protocol §2.4, §3, §4.2): fill the upload queue, consume the
//! tile-index queue, assemble complete chunks from the ingest queue into cuboids, and run the
//! complete/scan state machine.
//!
//! Each job has one worker task, which indexes tiles and assembles at most `ASSEMBLERS` chunks at
//! a time, so memory stays bounded by a few chunks' tiles, whatever the job's size.

use crate::aws::AwsError;
use crate::rest::CompleteAnswer;
use crate::state::{JobQueues, Sim};
use crate::store::Region;
use axum::http::StatusCode;
use boss_protocol::api::CompleteBody;
use boss_protocol::cuboid::{Dtype, CUBOID_Z};
use boss_protocol::keys::{TileChunkKey, TileKey};
use boss_protocol::messages::{to_python_json, TileErrorMessage, TileUploadMessage};
use boss_protocol::status::{IngestType, JobStatus};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    if let Some(job) = sim.lock().jobs.get_mut(&id) {
        job.filled = true;
    }
    log::info!("job {id}: upload queue filled with {sent} messages");
    Ok(())
}

/// Chunks of one job assembled at once (decoding is CPU-bound; the machine is small).
const ASSEMBLERS: i32 = 2;

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

/// Ingest-queue messages → assembled cuboids, [`ASSEMBLERS`] chunks at a time.
async fn assemble_loop(sim: &Arc<Sim>, id: u64, ingest_url: &str) -> Result<(), AwsError> {
    until_closed(sim, id, || async {
        let messages = sim.admin.receive(ingest_url, ASSEMBLERS).await?;
        let busy = !messages.is_empty();
        let mut work = tokio::task::JoinSet::new();
        for m in messages {
            let sim = sim.clone();
            work.spawn(async move {
                let chunk_key = serde_json::from_str::<Value>(&m.body)
                    .ok()
                    .and_then(|v| v["chunk_key"].as_str().map(str::to_string));
                if let Some(chunk_key) = chunk_key {
                    if let Err(e) = assemble(&sim, id, &chunk_key).await {
                        // Keep the message: it comes back after the visibility timeout.
                        log::error!("job {id}: assembling chunk {chunk_key}: {e}");
                        return None;
                    }
                }
                Some(m.receipt_handle)
            });
        }
        let mut done = Vec::new();
        while let Some(result) = work.join_next().await {
            if let Ok(Some(handle)) = result {
                done.push(handle);
            }
        }
        sim.admin.delete_batch(ingest_url, &done).await?;
        Ok(busy)
    })
    .await
}

/// One tile-index message: add the tile to its chunk; a complete chunk goes to the ingest queue.
async fn index_tile(sim: &Sim, id: u64, body: &str, ingest_url: &str) {
    let parsed = serde_json::from_str::<Value>(body).ok().and_then(|v| {
        Some((
            v["chunk_key"].as_str()?.to_string(),
            v["tile_key"].as_str()?.to_string(),
        ))
    });
    let Some((chunk_key, tile_key)) = parsed else {
        log::warn!("job {id}: ignoring tile-index message without chunk_key/tile_key: {body}");
        return;
    };
    let (Ok(chunk), Ok(tile)) = (TileChunkKey::parse(&chunk_key), TileKey::parse(&tile_key)) else {
        log::warn!("job {id}: ignoring tile-index message with malformed keys: {body}");
        return;
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
        } else if !job.uploaded_tiles.contains(&tile_key) {
            // Stored without message_id/receipt_handle (or never stored): the service cannot
            // index it, so it stays missing until the completion scan re-enqueues it.
            log::warn!(
                "job {id}: tile {tile_key} indexed but not validly uploaded; treated as missing"
            );
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
        let _ = sim.admin.delete_object(&sim.tile_bucket, &tile_key).await;
    }
    if complete {
        let body = to_python_json(&json!({"chunk_key": chunk_key, "ingest_job": id}));
        if let Err(e) = sim.admin.send(ingest_url, body).await {
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

/// Decodes one tile into `dtype` little-endian bytes of `width × height`.
fn decode_tile(bytes: &[u8], width: u64, height: u64, dtype: Dtype) -> Result<Vec<u8>, String> {
    if bytes.is_empty() {
        return Err("tile is empty".into());
    }
    let image = image::load_from_memory(bytes).map_err(|e| format!("cannot decode tile: {e}"))?;
    if (image.width() as u64, image.height() as u64) != (width, height) {
        return Err(format!(
            "tile is {}x{}, expected {width}x{height}",
            image.width(),
            image.height()
        ));
    }
    // numpy's astype: values wrap to the channel type, as the service's cast does.
    let mut out = Vec::with_capacity((width * height) as usize * dtype.size());
    let mut push = |v: u64| match dtype {
        Dtype::U8 => out.push(v as u8),
        Dtype::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
        Dtype::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        Dtype::U64 => out.extend_from_slice(&v.to_le_bytes()),
    };
    match image {
        image::DynamicImage::ImageLuma8(img) => img.pixels().for_each(|p| push(p.0[0].into())),
        image::DynamicImage::ImageLuma16(img) => img.pixels().for_each(|p| push(p.0[0].into())),
        other => {
            return Err(format!(
                "tile is {:?}, not a single-channel 8 or 16 bit image",
                other.color()
            ))
        }
    }
    Ok(out)
}

/// Builds the cuboids of a complete chunk from its tiles, then deletes the tiles.
async fn assemble(sim: &Sim, id: u64, chunk_key: &str) -> Result<(), String> {
    let chunk = TileChunkKey::parse(chunk_key).map_err(|e| e.to_string())?;
    let Some((plan, dtype, error_queue)) = sim.lock().jobs.get(&id).map(|j| {
        (
            j.plan.clone(),
            j.channel.datatype,
            j.queues.tile_error.as_ref().map(|q| q.moto_url.clone()),
        )
    }) else {
        return Ok(());
    };
    let (width, height) = (plan.step_x, plan.step_y);
    let tiles: Vec<TileKey> = plan.chunk_tiles(&chunk).collect();
    let mut encoded = Vec::with_capacity(tiles.len());
    for tile in &tiles {
        let key = tile.key();
        let bytes = sim
            .admin
            .get_object(&sim.tile_bucket, &key)
            .await
            .map_err(|e| e.to_string())?;
        encoded.push((key, bytes));
    }
    let region = Region {
        x: (chunk.x * width, (chunk.x + 1) * width),
        y: (chunk.y * height, (chunk.y + 1) * height),
        z: (chunk.z * CUBOID_Z, chunk.z * CUBOID_Z + tiles.len() as u64),
    };
    let slice_bytes = (width * height) as usize * dtype.size();
    let store = sim.store.clone();
    let ids = chunk.ids;
    let (res, t) = (chunk.resolution, chunk.t);
    let (keys, errors) = tokio::task::spawn_blocking(move || {
        let mut data = Vec::with_capacity(slice_bytes * encoded.len());
        let mut errors = Vec::new();
        for (key, bytes) in &encoded {
            let decoded = match bytes {
                Some(b) => decode_tile(b, width, height, dtype),
                None => Err("tile object is missing from the tile bucket".into()),
            };
            match decoded {
                Ok(pixels) => data.extend_from_slice(&pixels),
                Err(error) => {
                    data.resize(data.len() + slice_bytes, 0);
                    errors.push((key.clone(), error));
                }
            }
        }
        store
            .write_region(ids, res, t, dtype, region, &data)
            .map(|keys| (keys, errors))
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    for (tile_key, error) in &errors {
        log::warn!("job {id}: tile {tile_key} stored black: {error}");
        if let Some(q) = &error_queue {
            let msg = TileErrorMessage {
                tile_key: tile_key.clone(),
                chunk_key: chunk_key.to_string(),
                error: error.clone(),
            };
            let _ = sim.admin.send(q, to_python_json(&msg)).await;
        }
    }
    for tile in &tiles {
        let _ = sim.admin.delete_object(&sim.tile_bucket, &tile.key()).await;
    }
    let mut inner = sim.lock();
    if let Some(job) = inner.jobs.get_mut(&id) {
        job.pending.remove(chunk_key);
        job.assembled.insert(chunk_key.to_string());
        for tile in &tiles {
            job.uploaded_tiles.remove(&tile.key());
        }
        job.stats.chunks_assembled += 1;
        job.stats.cuboids_stored += keys.len() as u64;
        job.stats.tile_errors += errors.len() as u64;
    }
    Ok(())
}

/// (visible, in-flight) summed over the internal queues of a tile job.
async fn internal_depth(sim: &Sim, queues: &JobQueues) -> Result<u64, AwsError> {
    let mut total = 0;
    for q in [&queues.tile_index, &queues.ingest].into_iter().flatten() {
        let (visible, in_flight) = sim.admin.depth(&q.moto_url).await?;
        total += visible + in_flight;
    }
    Ok(total)
}

/// `POST /ingest/{id}/complete`: one step of the state machine of protocol §2.4.
pub async fn complete(sim: &Arc<Sim>, id: u64) -> Result<CompleteAnswer, AwsError> {
    let Some((status, queues, wait_started)) = sim
        .lock()
        .jobs
        .get(&id)
        .map(|j| (j.status, j.queues.clone(), j.wait_started))
    else {
        return Ok(CompleteAnswer::Refused(format!(
            "Ingest job {id} not found"
        )));
    };
    let wait = sim.timing.wait_on_queues;
    let set = |status: JobStatus, timer: Option<Instant>| {
        if let Some(job) = sim.lock().jobs.get_mut(&id) {
            job.status = status;
            job.wait_started = timer;
            log::info!("job {id}: {status}");
        }
    };
    let body = |code: StatusCode,
                job_status: Option<JobStatus>,
                wait_secs: Option<f64>,
                info: Option<&str>| {
        CompleteAnswer::Body(
            code,
            CompleteBody {
                job_status,
                wait_secs,
                info: info.map(str::to_string),
            },
        )
    };
    Ok(match status {
        JobStatus::Preparing => CompleteAnswer::Refused(
            "You cannot complete a job that is still preparing. You must cancel instead.".into(),
        ),
        JobStatus::Complete => CompleteAnswer::Done,
        JobStatus::Deleted | JobStatus::Failed => CompleteAnswer::Refused(format!(
            "Ingest job {id} is {status} and cannot be completed"
        )),
        JobStatus::Completing => body(
            StatusCode::ACCEPTED,
            Some(JobStatus::Completing),
            None,
            None,
        ),
        JobStatus::Uploading => {
            if sim.admin.depth(&queues.upload.moto_url).await?.0 > 0 {
                CompleteAnswer::Refused("Upload queue is not empty".into())
            } else if internal_depth(sim, &queues).await? > 0 {
                body(
                    StatusCode::BAD_REQUEST,
                    None,
                    Some(wait.as_secs_f64()),
                    Some("Internal queues not empty yet"),
                )
            } else {
                set(JobStatus::WaitOnQueues, Some(Instant::now()));
                body(
                    StatusCode::ACCEPTED,
                    Some(JobStatus::WaitOnQueues),
                    Some(wait.as_secs_f64()),
                    None,
                )
            }
        }
        JobStatus::WaitOnQueues => {
            let elapsed = wait_started.map(|t| t.elapsed()).unwrap_or(wait);
            if sim.admin.depth(&queues.upload.moto_url).await?.0 > 0 {
                set(JobStatus::Uploading, None);
                CompleteAnswer::Refused("Upload queue is not empty".into())
            } else if elapsed < wait {
                body(
                    StatusCode::BAD_REQUEST,
                    Some(JobStatus::WaitOnQueues),
                    Some((wait - elapsed).as_secs_f64()),
                    None,
                )
            } else if internal_depth(sim, &queues).await? > 0 {
                set(JobStatus::WaitOnQueues, Some(Instant::now()));
                body(
                    StatusCode::BAD_REQUEST,
                    Some(JobStatus::WaitOnQueues),
                    Some(wait.as_secs_f64()),
                    None,
                )
            } else {
                set(JobStatus::Completing, None);
                let sim = sim.clone();
                tokio::spawn(async move {
                    if let Err(e) = scan(&sim, id).await {
                        log::error!("job {id}: completion scan failed: {e}; back to UPLOADING");
                        if let Some(job) = sim.lock().jobs.get_mut(&id) {
                            job.status = JobStatus::Uploading;
                        }
                    }
                });
                body(
                    StatusCode::ACCEPTED,
                    Some(JobStatus::Completing),
                    Some(0.0),
                    None,
                )
            }
        }
    })
}

/// COMPLETING: look for chunks that did not fully arrive (tile jobs only). Missing tiles go back
/// on the upload queue (→ UPLOADING); complete but unassembled chunks are re-sent internally
/// (→ WAIT_ON_QUEUES); otherwise the queues are deleted and the job is COMPLETE.
async fn scan(sim: &Sim, id: u64) -> Result<(), AwsError> {
    let Some((plan, queues)) = sim
        .lock()
        .jobs
        .get(&id)
        .map(|j| (j.plan.clone(), j.queues.clone()))
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
        let mut batch = Vec::with_capacity(10);
        for chunk in plan.tile_chunks() {
            let key = chunk.key();
            let (missing, ready) = {
                let inner = sim.lock();
                let Some(job) = inner.jobs.get(&id) else {
                    return Ok(());
                };
                if job.assembled.contains(&key) {
                    continue;
                }
                let have = job
                    .pending
                    .get(&key)
                    .map(|p| p.slices.clone())
                    .unwrap_or_default();
                let missing: Vec<TileKey> = plan
                    .chunk_tiles(&chunk)
                    .filter(|t| !have.contains(&t.z))
                    .collect();
                let ready = missing.is_empty();
                (missing, ready)
            };
            if ready {
                if let Some(q) = &queues.ingest {
                    let body = to_python_json(&json!({"chunk_key": key, "ingest_job": id}));
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
        job.status = if reenqueued > 0 {
            JobStatus::Uploading
        } else if resent > 0 {
            job.wait_started = Some(Instant::now());
            JobStatus::WaitOnQueues
        } else {
            JobStatus::Complete
        };
        log::info!(
            "job {id}: scan re-enqueued {reenqueued} tiles, re-sent {resent} chunks: {}",
            job.status
        );
    }
    Ok(())
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
