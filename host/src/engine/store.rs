//! The upload stage: PutObject of every object a message uploads — one tile to the tile bucket,
//! or each cuboid of a chunk to the ingest bucket — with the user metadata its [`Kind`] chose.
//! One semaphore bounds the PutObject calls in flight across messages; a message counts as stored
//! only when every one of its objects is, and fails whole (and comes back) if any fails. Objects
//! stored before the failure are simply stored again.

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::kind::{Index, Kind, Object, Upload};
use super::produce::Ready;
use super::retry::{settle, with_session, CallError};
use super::{Ctx, FailureClass, Work};
use crate::aws::{classify, describe};

/// A message whose objects are all stored, waiting to be indexed (tiles) and deleted.
pub(super) struct Stored<I> {
    pub work: Work<I>,
    pub index: Option<Index>,
    /// Bytes uploaded: the tile, or all cuboids of the chunk.
    pub bytes: u64,
    pub black: bool,
    pub cuboids: u64,
}

/// Uploads everything ready; ends when the input is closed and every upload finished.
pub(super) async fn run<K: Kind>(
    ctx: Arc<Ctx>,
    mut ready: mpsc::Receiver<Ready<K::Item>>,
    stored: mpsc::Sender<Stored<K::Item>>,
) {
    let limit = Arc::new(Semaphore::new(ctx.options.uploads_in_flight()));
    let mut uploads = JoinSet::new();
    while let Some(Ready { work, upload }) = ready.recv().await {
        // Reap finished uploads so the set holds at most one task per message in flight (the
        // messages themselves are bounded by their pipeline slots).
        while uploads.try_join_next().is_some() {}
        let (ctx, stored, limit) = (ctx.clone(), stored.clone(), limit.clone());
        uploads.spawn(async move {
            if let Some(s) = put_all::<K>(&ctx, work, upload, limit).await {
                // The finisher outlives this stage, so a send fails only if it ended abnormally.
                let _ = stored.send(s).await;
            }
        });
    }
    while uploads.join_next().await.is_some() {}
}

/// Stores every object of one message, a bounded number at once.
async fn put_all<K: Kind>(
    ctx: &Arc<Ctx>,
    work: Work<K::Item>,
    upload: Upload,
    limit: Arc<Semaphore>,
) -> Option<Stored<K::Item>> {
    let Upload {
        bucket,
        metadata,
        objects,
        index,
        file,
        black,
        cuboids,
    } = upload;
    let bytes = objects.iter().map(|o| o.bytes.len() as u64).sum();
    let mut puts = JoinSet::new();
    for Object { key, bytes } in objects {
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (ctx, bucket, metadata) = (ctx.clone(), bucket.clone(), metadata.clone());
        puts.spawn(async move {
            let started = Instant::now();
            let result = put_object(&ctx, &bucket, &key, bytes, &metadata).await;
            ctx.stats.upload_time(started.elapsed());
            drop(permit);
            result.map_err(|e| (key, e))
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
            index,
            bytes,
            black,
            cuboids,
        }),
        Some((key, e)) => {
            if let Some(why) = settle(ctx, e, &format!("storing {} {key} in S3", K::OBJECT)) {
                ctx.fail::<K>(&work, FailureClass::Upload, file, why);
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
