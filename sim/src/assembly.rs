//! One chunk's ingest, as the tile-ingest lambda does it (boss-tools `tile_ingest_lambda.py`):
//! an ingest-queue message names a chunk; the tiles its tile-index row lists are read from the
//! tile bucket, decoded, cast to the channel's type and written as whole cuboids.
//!
//! The lambda's gates and failures are reproduced with their consequence, so a client mistake
//! that loses data on BossDB shows here as a counter (`JobStats`) and as missing voxels:
//! - `parameters` lacking a field the lambda reads, `metadata` that is not JSON, a colour tile or
//!   tiles of different sizes: the lambda fails and the message comes back later (so does a
//!   tile whose metadata lacks the tile size as `x_size`/`y_size`: stricter than the lambda,
//!   see `TileObjectMetadata::names_tile_size`);
//! - a tile object that is missing or lacks `message_id`/`receipt_handle`: the chunk is
//!   abandoned without a write and stays in the tile index (the scan re-sends it forever);
//! - `parameters` pointing at another channel, type, bucket or index: written elsewhere;
//! - an empty or undecodable tile: black, reported on the tile-error queue.

use crate::parameters::{self, ParametersProblem};
use crate::plan;
use crate::state::{Sim, TileObjectMetadata};
use crate::store::Region;
use boss_protocol::cuboid::{Dtype, CUBOID_X, CUBOID_Y, CUBOID_Z};
use boss_protocol::keys::{TileChunkKey, TileKey};
use boss_protocol::messages::{to_python_json, TileErrorMessage};
use serde_json::Value;

/// What happens to the ingest message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (ingested, abandoned, or nothing to do): the message is deleted.
    Done,
    /// The lambda failed: the message stays and comes back after its visibility timeout.
    Failed,
}

/// `int(value)` as Python reads a JSON number or numeric string.
pub fn python_int(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn failed(sim: &Sim, id: u64, why: &str) -> Outcome {
    log::warn!("job {id}: chunk ingest failed (the message will be retried): {why}");
    if let Some(job) = sim.lock().jobs.get_mut(&id) {
        job.stats.chunk_ingest_errors += 1;
    }
    Outcome::Failed
}

/// Ends an attempt on a chunk whose row stays in the tile index.
fn release(sim: &Sim, id: u64, chunk_key: &str) {
    if let Some(row) = sim
        .lock()
        .jobs
        .get_mut(&id)
        .and_then(|j| j.pending.get_mut(chunk_key))
    {
        row.assembling = false;
    }
}

/// Handles one ingest-queue message of job `id`.
pub async fn ingest(sim: &Sim, id: u64, body: &str) -> Outcome {
    let Ok(message) = serde_json::from_str::<Value>(body) else {
        return failed(sim, id, &format!("message is not JSON: {body}"));
    };
    let Some(chunk_key) = message["chunk_key"].as_str().map(str::to_string) else {
        return failed(sim, id, "message has no chunk_key");
    };
    if python_int(&message["ingest_job"]).is_none() {
        return failed(sim, id, "message has no integer ingest_job");
    }
    let Ok(chunk) = TileChunkKey::parse(&chunk_key) else {
        return failed(sim, id, &format!("malformed chunk_key {chunk_key}"));
    };
    let Some((channel, tile_size, error_queue)) = sim.lock().jobs.get(&id).map(|j| {
        (
            j.channel.clone(),
            (j.plan.step_x, j.plan.step_y),
            j.queues.tile_error.as_ref().map(|q| q.moto_url.clone()),
        )
    }) else {
        return Outcome::Done;
    };
    // SpatialDB(parameters[...]) and BossResourceBasic come before anything is read.
    let elsewhere = match parameters::check(&message["parameters"], &channel) {
        Ok(()) => None,
        Err(ParametersProblem::Missing(field)) => {
            return failed(sim, id, &format!("{chunk_key}: parameters lack {field}"))
        }
        Err(problem) => Some(problem.to_string()),
    };
    // The tile-index row: gone (ingested, or another copy is at it) or short → nothing to do.
    let slices: Vec<u64> = {
        let mut inner = sim.lock();
        let Some(row) = inner
            .jobs
            .get_mut(&id)
            .and_then(|j| j.pending.get_mut(&chunk_key))
        else {
            log::debug!("job {id}: {chunk_key} is not in the tile index; nothing to ingest");
            return Outcome::Done;
        };
        if row.assembling || (row.slices.len() as u64) < chunk.num_tiles {
            return Outcome::Done;
        }
        row.assembling = true;
        row.slices.iter().copied().collect()
    };
    // The row's tiles in z order, as the lambda sorts the keys it lists.
    let tiles: Vec<TileKey> = slices.iter().map(|&z| plan::tile_at(&chunk, z)).collect();

    // The tiles are fetched at once, as the lambda's reads overlap: one after the other, a
    // chunk waited on each of its 16 round trips in turn.
    let mut fetches = tokio::task::JoinSet::new();
    for (i, tile) in tiles.iter().enumerate() {
        let (admin, bucket, key) = (sim.admin.clone(), sim.tile_bucket.clone(), tile.key());
        fetches.spawn(async move { (i, admin.get_object(&bucket, &key).await) });
    }
    let mut fetched: Vec<Option<Result<Option<Vec<u8>>, String>>> = vec![None; tiles.len()];
    while let Some(joined) = fetches.join_next().await {
        match joined {
            Ok((i, got)) => fetched[i] = Some(got.map_err(|e| e.to_string())),
            Err(e) => {
                release(sim, id, &chunk_key);
                return failed(sim, id, &e.to_string());
            }
        }
    }

    let mut read = Vec::with_capacity(tiles.len());
    for (tile, got) in tiles.iter().zip(fetched) {
        let key = tile.key();
        let bytes = match got {
            Some(Ok(b)) => b,
            Some(Err(e)) => {
                release(sim, id, &chunk_key);
                return failed(sim, id, &e);
            }
            None => {
                release(sim, id, &chunk_key);
                return failed(sim, id, &format!("tile {key} was not fetched"));
            }
        };
        let object = sim
            .lock()
            .jobs
            .get(&id)
            .and_then(|j| j.tile_objects.get(&key).copied());
        let (Some(bytes), Some(object)) = (bytes, object) else {
            return abandon(
                sim,
                id,
                &chunk_key,
                &format!("tile {key} is not in the tile bucket"),
            );
        };
        if !object.has_receipt {
            return abandon(
                sim,
                id,
                &chunk_key,
                &format!("tile {key} has no message_id/receipt_handle metadata"),
            );
        }
        if object.metadata == TileObjectMetadata::Invalid {
            release(sim, id, &chunk_key);
            return failed(sim, id, &format!("tile {key}: metadata is not JSON"));
        }
        // Stricter than the lambda, which only needs the sizes for a black tile.
        if !object.metadata.names_tile_size(tile_size) {
            release(sim, id, &chunk_key);
            return failed(
                sim,
                id,
                &format!(
                    "tile {key}: metadata {:?} does not give the tile size {}x{} as \
                     x_size/y_size, which BossDB needs to replace a tile it cannot decode",
                    object.metadata, tile_size.0, tile_size.1
                ),
            );
        }
        read.push((key, bytes, tile_size));
    }

    let dtype = channel.datatype;
    let decoded = tokio::task::spawn_blocking(move || stack(read, dtype)).await;
    let stacked = match decoded {
        Ok(Ok(stacked)) => stacked,
        Ok(Err(why)) => {
            release(sim, id, &chunk_key);
            return failed(sim, id, &format!("{chunk_key}: {why}"));
        }
        Err(e) => {
            release(sim, id, &chunk_key);
            return failed(sim, id, &e.to_string());
        }
    };

    let mut cuboids = 0;
    match &elsewhere {
        Some(problem) => {
            log::warn!("job {id}: {chunk_key}: {problem}");
        }
        None => {
            let store = sim.store.clone();
            let Stacked {
                width,
                height,
                data,
                ..
            } = &stacked;
            let (width, height) = (*width, *height);
            // The lambda lays cuboids out by the tiles' own size, ceil(width / 512) per tile.
            let x0 = chunk.x * width.div_ceil(CUBOID_X) * CUBOID_X;
            let y0 = chunk.y * height.div_ceil(CUBOID_Y) * CUBOID_Y;
            let region = Region {
                x: (x0, x0 + width),
                y: (y0, y0 + height),
                z: (chunk.z * CUBOID_Z, chunk.z * CUBOID_Z + tiles.len() as u64),
            };
            let data = data.clone();
            let (ids, res, t) = (chunk.ids, chunk.resolution, chunk.t);
            let written = tokio::task::spawn_blocking(move || {
                store.replace_region(ids, res, t, dtype, region, &data)
            })
            .await;
            match written {
                Ok(Ok(keys)) => cuboids = keys.len() as u64,
                Ok(Err(e)) => {
                    release(sim, id, &chunk_key);
                    return failed(sim, id, &e.to_string());
                }
                Err(e) => {
                    release(sim, id, &chunk_key);
                    return failed(sim, id, &e.to_string());
                }
            }
        }
    }

    for (tile_key, error) in &stacked.errors {
        log::warn!("job {id}: tile {tile_key} stored black: {error}");
        if let Some(q) = &error_queue {
            let msg = TileErrorMessage {
                tile_key: tile_key.clone(),
                chunk_key: chunk_key.clone(),
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
        job.pending.remove(&chunk_key);
        job.assembled.insert(chunk_key.clone());
        for tile in &tiles {
            job.tile_objects.remove(&tile.key());
        }
        if elsewhere.is_some() {
            job.stats.chunks_misdirected += 1;
        } else {
            job.stats.chunks_assembled += 1;
            job.stats.cuboids_stored += cuboids;
        }
        job.stats.tile_errors += stacked.errors.len() as u64;
    }
    Outcome::Done
}

/// "Key not found in tile bucket, assuming redelivered SQS message and aborting": no write, the
/// message is deleted, the row stays.
fn abandon(sim: &Sim, id: u64, chunk_key: &str, why: &str) -> Outcome {
    log::warn!("job {id}: chunk {chunk_key} abandoned: {why}");
    if let Some(job) = sim.lock().jobs.get_mut(&id) {
        job.stats.chunks_aborted += 1;
        if let Some(row) = job.pending.get_mut(chunk_key) {
            // Another tile-index message for it sends it again, as tile_uploaded does.
            row.assembling = false;
            row.queued = false;
        }
    }
    Outcome::Done
}

/// A chunk's slices, decoded and stacked.
#[derive(Debug)]
struct Stacked {
    width: u64,
    height: u64,
    /// C order (z, y, x), little-endian channel type.
    data: Vec<u8>,
    /// Tiles stored black: (tile key, why).
    errors: Vec<(String, String)>,
}

/// One decoded slice.
enum Slice {
    Pixels {
        width: u64,
        height: u64,
        data: Vec<u8>,
    },
    /// Black, shaped `(x_size, y_size)` as numpy rows × columns.
    Black {
        width: u64,
        height: u64,
        error: String,
    },
}

/// Decodes the tiles (z order) and stacks them; fails as the lambda's numpy code fails on a
/// colour image or slices of different shapes.
fn stack(tiles: Vec<(String, Vec<u8>, (u64, u64))>, dtype: Dtype) -> Result<Stacked, String> {
    let mut slices = Vec::with_capacity(tiles.len());
    for (key, bytes, (x_size, y_size)) in tiles {
        let black = |error: String| Slice::Black {
            width: y_size,
            height: x_size,
            error,
        };
        let slice = if bytes.is_empty() {
            black("Zero length tile".into())
        } else {
            match image::load_from_memory(&bytes) {
                Err(e) => black(format!("cannot decode tile: {e}")),
                Ok(image) => {
                    let (width, height) = (image.width() as u64, image.height() as u64);
                    let data = cast(&image, dtype).ok_or_else(|| {
                        format!("tile {key} is {:?}, not single-channel", image.color())
                    })?;
                    Slice::Pixels {
                        width,
                        height,
                        data,
                    }
                }
            }
        };
        slices.push((key, slice));
    }
    let shape = |s: &Slice| match s {
        Slice::Pixels { width, height, .. } | Slice::Black { width, height, .. } => {
            (*width, *height)
        }
    };
    let Some((width, height)) = slices.first().map(|(_, s)| shape(s)) else {
        return Err("no tiles".into());
    };
    if let Some((key, other)) = slices.iter().find(|(_, s)| shape(s) != (width, height)) {
        let (w, h) = shape(other);
        return Err(format!(
            "tile {key} is {w}x{h} but the chunk's first slice is {width}x{height} (a black \
             tile takes metadata x_size/y_size)"
        ));
    }
    let slice_bytes = (width * height) as usize * dtype.size();
    let mut data = Vec::with_capacity(slice_bytes * slices.len());
    let mut errors = Vec::new();
    for (key, slice) in slices {
        match slice {
            Slice::Pixels { data: pixels, .. } => data.extend_from_slice(&pixels),
            Slice::Black { error, .. } => {
                data.resize(data.len() + slice_bytes, 0);
                errors.push((key, error));
            }
        }
    }
    Ok(Stacked {
        width,
        height,
        data,
        errors,
    })
}

/// numpy's `astype`: values wrap to the channel type. `None` for images that are not one channel
/// (a colour image is 3-D to numpy, and the lambda's assignment fails).
fn cast(image: &image::DynamicImage, dtype: Dtype) -> Option<Vec<u8>> {
    let pixels = (image.width() * image.height()) as usize;
    let mut out = Vec::with_capacity(pixels * dtype.size());
    let mut push = |v: u64| match dtype {
        Dtype::U8 => out.push(v as u8),
        Dtype::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
        Dtype::U32 => out.extend_from_slice(&(v as u32).to_le_bytes()),
        Dtype::U64 => out.extend_from_slice(&v.to_le_bytes()),
    };
    match image {
        image::DynamicImage::ImageLuma8(img) => img.pixels().for_each(|p| push(p.0[0].into())),
        image::DynamicImage::ImageLuma16(img) => img.pixels().for_each(|p| push(p.0[0].into())),
        _ => return None,
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32, colour: bool) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        if colour {
            image::RgbImage::new(width, height).write_to(&mut out, image::ImageFormat::Png)
        } else {
            image::GrayImage::from_pixel(width, height, image::Luma([7]))
                .write_to(&mut out, image::ImageFormat::Png)
        }
        .unwrap();
        out.into_inner()
    }

    #[test]
    fn black_tiles_take_the_metadata_size_and_must_match_the_others() {
        let tiles = vec![
            ("a".to_string(), png(4, 2, false), (2, 4)),
            ("b".to_string(), Vec::new(), (2, 4)),
        ];
        let stacked = stack(tiles, Dtype::U8).unwrap();
        assert_eq!((stacked.width, stacked.height), (4, 2));
        assert_eq!(
            stacked.data,
            [7, 7, 7, 7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            stacked.errors,
            [("b".to_string(), "Zero length tile".to_string())]
        );
        // x_size/y_size as the width/height would be, transposed: numpy's shape differs.
        let ragged = vec![
            ("a".to_string(), png(4, 2, false), (4, 2)),
            ("b".to_string(), Vec::new(), (4, 2)),
        ];
        assert!(stack(ragged, Dtype::U8)
            .unwrap_err()
            .starts_with("tile b is 2x4"));
    }

    #[test]
    fn colour_tiles_fail_the_chunk() {
        let tiles = vec![("c".to_string(), png(2, 2, true), (2, 2))];
        assert_eq!(
            stack(tiles, Dtype::U8).err().unwrap(),
            "tile c is Rgb8, not single-channel"
        );
    }
}
