//! What the service does with an object a client stored, as the S3 side of the Boss lambdas sees
//! it: a tile is recorded with what `tile_ingest_lambda` will later find in its user metadata
//! (`message_id`, `receipt_handle`, the `metadata` JSON and its `x_size`/`y_size`); a volumetric
//! cuboid is imported as `cuboid_import_lambda` does — only with a `metadata` JSON naming its
//! `ingest_job` — after the simulator's own check that it decompresses to a whole cuboid.
//!
//! Also S3's limit on user metadata, which moto does not enforce: the front door refuses a
//! PutObject over it as AWS does, and records the largest size each job sent.

use crate::state::{Sim, TileObject, TileObjectMetadata};
use axum::http::HeaderMap;
use boss_protocol::cuboid;
use serde_json::Value;
use std::sync::Arc;

/// S3's limit on user metadata: the UTF-8 bytes of every key (without `x-amz-meta-`) and value.
pub const S3_METADATA_LIMIT: usize = 2048;

/// AWS's text for a PutObject over [`S3_METADATA_LIMIT`] (400 `MetadataTooLarge`).
pub const METADATA_TOO_LARGE: &str =
    "Your metadata headers exceed the maximum allowed metadata size.";

/// The size of a request's user metadata as S3 counts it.
pub fn metadata_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-amz-meta-")?;
            Some(key.len() + value.as_bytes().len())
        })
        .sum()
}

/// Records a PutObject's metadata size in its job's `metadata_bytes_max`.
pub fn note_metadata_size(sim: &Sim, job_id: u64, size: usize) {
    if let Some(job) = sim.lock().jobs.get_mut(&job_id) {
        let max = &mut job.stats.metadata_bytes_max;
        *max = (*max).max(size as u64);
    }
}

fn meta<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(format!("x-amz-meta-{name}"))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// The service's reaction to an object of job `job_id` stored under `bucket`/`key`.
pub async fn stored(sim: &Arc<Sim>, job_id: u64, bucket: &str, key: &str, headers: &HeaderMap) {
    if bucket == sim.tile_bucket {
        tile_stored(sim, job_id, key, headers);
    } else if bucket == sim.ingest_bucket {
        cuboid_stored(sim, job_id, key, headers).await;
    }
}

fn tile_stored(sim: &Sim, job_id: u64, key: &str, headers: &HeaderMap) {
    let has_receipt =
        meta(headers, "message_id").is_some() && meta(headers, "receipt_handle").is_some();
    let metadata = match meta(headers, "metadata").map(serde_json::from_str::<Value>) {
        None => TileObjectMetadata::Absent,
        Some(Ok(Value::Object(m))) => {
            let size = |k: &str| m.get(k).and_then(Value::as_u64);
            TileObjectMetadata::Sizes(size("x_size"), size("y_size"))
        }
        Some(_) => TileObjectMetadata::Invalid,
    };
    let mut inner = sim.lock();
    let Some(job) = inner.jobs.get_mut(&job_id) else {
        return;
    };
    job.stats.upload_seen();
    *job.tile_puts.entry(key.to_string()).or_default() += 1;
    job.tile_objects.insert(
        key.to_string(),
        TileObject {
            has_receipt,
            metadata,
        },
    );
    if has_receipt {
        job.stats.tiles_stored += 1;
    } else {
        job.stats.tiles_missing_metadata += 1;
        log::warn!(
            "job {job_id}: tile {key} stored without message_id/receipt_handle metadata; its \
             chunk cannot be ingested"
        );
    }
    let tile_size = (job.plan.step_x, job.plan.step_y);
    if !metadata.names_tile_size(tile_size) {
        job.stats.tiles_bad_metadata += 1;
        log::warn!(
            "job {job_id}: tile {key} stored with metadata {metadata:?}, not JSON with x_size \
             {} and y_size {}; its chunk will not be ingested",
            tile_size.0,
            tile_size.1
        );
    }
}

async fn cuboid_stored(sim: &Arc<Sim>, job_id: u64, key: &str, headers: &HeaderMap) {
    let Some(dtype) = sim.lock().jobs.get(&job_id).map(|j| j.channel.datatype) else {
        return;
    };
    let tagged = meta(headers, "metadata")
        .and_then(|m| serde_json::from_str::<Value>(m).ok())
        .is_some_and(|m| m.get("ingest_job").is_some());
    if !tagged {
        // cuboid_import_lambda raises on it; after its retries the event sits in a dead-letter
        // queue and the cuboid is never copied, while the job completes.
        log::error!(
            "job {job_id}: cuboid {key} has no metadata JSON with ingest_job; BossDB never \
             imports it"
        );
        let _ = sim.admin.delete_object(&sim.ingest_bucket, key).await;
        if let Some(job) = sim.lock().jobs.get_mut(&job_id) {
            job.stats.upload_seen();
            job.stats.cuboids_not_imported += 1;
        }
        return;
    }
    // Read back what the backend stored: the request body may be aws-chunked with checksum
    // trailers.
    let stored = match sim.admin.get_object(&sim.ingest_bucket, key).await {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => {
            log::error!("job {job_id}: reading uploaded cuboid {key}: {e}");
            return;
        }
    };
    let store = sim.store.clone();
    let owned_key = key.to_string();
    let result = tokio::task::spawn_blocking(move || {
        cuboid::decompress_cuboid(&stored, dtype).map_err(|e| e.to_string())?;
        store
            .put_compressed(&owned_key, &stored)
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let _ = sim.admin.delete_object(&sim.ingest_bucket, key).await;
    let mut inner = sim.lock();
    if let Some(job) = inner.jobs.get_mut(&job_id) {
        job.stats.upload_seen();
        match result {
            Ok(()) => job.stats.cuboids_stored += 1,
            Err(e) => {
                job.stats.cuboid_errors += 1;
                log::error!("job {job_id}: cuboid {key} rejected: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_counted_as_s3_counts_it() {
        let mut headers = HeaderMap::new();
        headers.insert("x-amz-meta-message_id", "abc".parse().unwrap());
        headers.insert("x-amz-meta-metadata", "{}".parse().unwrap());
        headers.insert("content-length", "12345".parse().unwrap());
        assert_eq!(
            metadata_size(&headers),
            "message_id".len() + 3 + "metadata".len() + 2
        );
    }
}
