//! The upload stage: PutObject of each tile to the job's tile bucket with the user metadata the
//! service requires (spec §4.1), and of each cuboid of a chunk to the ingest bucket with the
//! metadata of spec §4.3. One semaphore bounds the PutObject calls in flight, tiles and cuboids
//! alike; a chunk counts as stored only when every one of its cuboids is.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use boss_protocol::messages::{META_MESSAGE_ID, META_METADATA, META_RECEIPT_HANDLE};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::metadata::ObjectMetadata;
use super::produce::{Cuboid, Payload, Ready};
use super::retry::{settle, with_session, CallError};
use super::{Ctx, End, Produced, Target, Work};
use crate::aws::{classify, describe};

/// A tile or chunk stored in S3, waiting to be indexed (tiles) and deleted from the upload queue.
pub(super) struct Stored {
    pub work: Work,
    /// The tile-index message body (the same JSON as the `metadata` header); `None` for a chunk,
    /// which has nothing to index.
    pub index_body: Option<String>,
    /// Bytes uploaded: the tile, or all cuboids of the chunk.
    pub bytes: u64,
    pub black: bool,
    /// Cuboids stored (0 for a tile).
    pub cuboids: u64,
}

/// Uploads everything ready; ends when the input is closed and every upload finished.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut ready: mpsc::Receiver<Ready>,
    stored: mpsc::Sender<Stored>,
) {
    let limit = Arc::new(Semaphore::new(ctx.options.uploads_in_flight()));
    let mut uploads = JoinSet::new();
    while let Some(r) = ready.recv().await {
        // Reap finished uploads so the set holds at most one task per message in flight.
        while uploads.try_join_next().is_some() {}
        let (ctx, stored) = (ctx.clone(), stored.clone());
        match r.payload {
            Payload::Tile(produced) => {
                // Waiting here slows the plugin stage when S3 is the bottleneck.
                let Ok(permit) = limit.clone().acquire_owned().await else {
                    break;
                };
                uploads.spawn(async move {
                    if let Some(s) = put_tile(&ctx, r.work, produced).await {
                        // The finisher outlives this stage, so a send fails only if it ended
                        // abnormally.
                        let _ = stored.send(s).await;
                    }
                    drop(permit);
                });
            }
            Payload::Cuboids {
                cuboids,
                file,
                short,
            } => {
                // The chunk's own task takes a permit per cuboid; chunks are bounded by their
                // pipeline slots.
                let limit = limit.clone();
                uploads.spawn(async move {
                    if let Some(s) = put_chunk(&ctx, r.work, cuboids, file, short, limit).await {
                        let _ = stored.send(s).await;
                    }
                });
            }
        }
    }
    while uploads.join_next().await.is_some() {}
}

async fn put_tile(ctx: &Ctx, work: Work, produced: Produced) -> Option<Stored> {
    let Target::Tiles { tile_bucket, .. } = &ctx.job.target else {
        ctx.fail(
            &work,
            None,
            "internal error: a tile in a volumetric job".into(),
        );
        return None;
    };
    let (chunk_key, tile_key) = (work.chunk_key().to_string(), work.key().to_string());
    let body = ctx.job.tile_metadata(&chunk_key, &tile_key);
    let meta = match ObjectMetadata::new(
        &work.message_id,
        &work.receipt_handle,
        body.clone(),
        &tile_key,
    ) {
        Ok(m) => m,
        Err(e) => {
            ctx.halt(End::Fatal(e.to_string()));
            return None;
        }
    };
    let headers = vec![
        (META_MESSAGE_ID, meta.message_id),
        (META_RECEIPT_HANDLE, meta.receipt_handle),
        (META_METADATA, meta.metadata),
    ];
    let bytes = produced.bytes.len() as u64;
    match put_object(ctx, tile_bucket, &tile_key, produced.bytes, &headers).await {
        Ok(()) => Some(Stored {
            work,
            index_body: Some(body),
            bytes,
            black: produced.black,
            cuboids: 0,
        }),
        Err(e) => {
            if let Some(why) = settle(ctx, e, "storing the tile in S3") {
                ctx.fail(&work, produced.file, why);
            }
            None
        }
    }
}

/// Stores every cuboid of a chunk, a bounded number at once; the chunk fails (and comes back
/// whole) if any cuboid fails. Cuboids stored before the failure are simply stored again.
async fn put_chunk(
    ctx: &Arc<Ctx>,
    work: Work,
    cuboids: Vec<Cuboid>,
    file: Option<String>,
    short: bool,
    limit: Arc<Semaphore>,
) -> Option<Stored> {
    let Target::Cuboids { ingest_bucket } = &ctx.job.target else {
        ctx.fail(&work, file, "internal error: a chunk in a tile job".into());
        return None;
    };
    let first_key = cuboids.first().map_or("", |c| c.key.as_str());
    let metadata =
        match ObjectMetadata::cuboid(ctx.job.cuboid_metadata(work.chunk_key()), first_key) {
            Ok(m) => m,
            Err(e) => {
                ctx.halt(End::Fatal(e.to_string()));
                return None;
            }
        };
    let headers = Arc::new(vec![(META_METADATA, metadata)]);
    let count = cuboids.len() as u64;
    let bytes: u64 = cuboids.iter().map(|c| c.bytes.len() as u64).sum();
    let mut puts = JoinSet::new();
    for c in cuboids {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (ctx, bucket, headers) = (ctx.clone(), ingest_bucket.clone(), headers.clone());
        puts.spawn(async move {
            let result = put_object(&ctx, &bucket, &c.key, c.bytes, &headers).await;
            drop(permit);
            result.map_err(|e| (c.key, e))
        });
    }
    let mut failure = None;
    while let Some(joined) = puts.join_next().await {
        let outcome = joined.unwrap_or_else(|e| {
            Err((
                "?".into(),
                CallError::Failed(format!("the upload task ended abnormally: {e}")),
            ))
        });
        if let Err(e) = outcome {
            failure.get_or_insert(e);
        }
    }
    match failure {
        None => Some(Stored {
            work,
            index_body: None,
            bytes,
            black: short,
            cuboids: count,
        }),
        Some((key, e)) => {
            if let Some(why) = settle(ctx, e, &format!("storing cuboid {key} in S3")) {
                ctx.fail(&work, file, why);
            }
            None
        }
    }
}

/// One PutObject with the given user metadata, through the shared session.
async fn put_object(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    data: Vec<u8>,
    metadata: &[(&'static str, String)],
) -> Result<(), CallError> {
    // Shared, not copied: a retry with new keys sends the same buffer again.
    let data = bytes::Bytes::from(data);
    with_session(&ctx.session, |clients| {
        let (bucket, key, data) = (bucket.to_string(), key.to_string(), data.clone());
        let mut put = clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(data));
        for (name, value) in metadata {
            put = put.metadata(*name, value.clone());
        }
        async move {
            put.send()
                .await
                .map(|_| ())
                .map_err(|e| (classify(&e), describe(&e)))
        }
    })
    .await
}
