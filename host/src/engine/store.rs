//! The upload stage: PutObject of each tile to the job's tile bucket with the user metadata the
//! service requires (spec §4.1), a bounded number at a time.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use boss_protocol::messages::{META_MESSAGE_ID, META_METADATA, META_RECEIPT_HANDLE};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::metadata::ObjectMetadata;
use super::produce::Ready;
use super::retry::{with_session, CallError};
use super::{Ctx, End, Work};
use crate::aws::{classify, describe};

/// A tile stored in S3, waiting to be indexed and deleted from the upload queue.
pub(super) struct Stored {
    pub work: Work,
    /// The tile-index message body (the same JSON as the `metadata` header).
    pub index_body: String,
    pub bytes: u64,
    pub black: bool,
}

/// Uploads every ready tile; ends when the input is closed and every upload finished.
pub(super) async fn run(
    ctx: Arc<Ctx>,
    mut ready: mpsc::Receiver<Ready>,
    stored: mpsc::Sender<Stored>,
) {
    let limit = Arc::new(Semaphore::new(ctx.options.uploads_in_flight()));
    let mut uploads = JoinSet::new();
    while let Some(r) = ready.recv().await {
        // Reap finished uploads so the set never holds more than the limit.
        while uploads.try_join_next().is_some() {}
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let (ctx, stored) = (ctx.clone(), stored.clone());
        uploads.spawn(async move {
            if let Some(s) = put(&ctx, r).await {
                // The finisher outlives this stage, so a send fails only if it ended abnormally.
                let _ = stored.send(s).await;
            }
            drop(permit);
        });
    }
    while uploads.join_next().await.is_some() {}
}

async fn put(ctx: &Ctx, r: Ready) -> Option<Stored> {
    let Ready { work, produced } = r;
    let body = ctx
        .job
        .tile_metadata(&work.message.chunk_key, &work.message.tile_key);
    let meta = match ObjectMetadata::new(
        &work.message_id,
        &work.receipt_handle,
        body.clone(),
        &work.message.tile_key,
    ) {
        Ok(m) => m,
        Err(e) => {
            ctx.halt(End::Fatal(e.to_string()));
            return None;
        }
    };
    let bytes = produced.bytes.len() as u64;
    let data = produced.bytes;
    let bucket = ctx.job.tile_bucket.clone();
    let key = work.message.tile_key.clone();
    let result = with_session(&ctx.session, |clients| {
        // A copy per call: calls repeat only when keys were refused, which is rare.
        let (bucket, key, data, meta) = (bucket.clone(), key.clone(), data.clone(), meta.clone());
        async move {
            clients
                .s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(data))
                .metadata(META_MESSAGE_ID, meta.message_id)
                .metadata(META_RECEIPT_HANDLE, meta.receipt_handle)
                .metadata(META_METADATA, meta.metadata)
                .send()
                .await
                .map_err(|e| (classify(&e), describe(&e)))
        }
    })
    .await;
    match result {
        Ok(_) => Some(Stored {
            work,
            index_body: body,
            bytes,
            black: produced.black,
        }),
        Err(CallError::Failed(why)) => {
            ctx.fail(
                &work,
                produced.file,
                format!("storing the tile in S3 failed: {why}"),
            );
            None
        }
        Err(CallError::Gone) => {
            ctx.halt(End::JobGone);
            None
        }
        Err(CallError::Fatal(why)) => {
            ctx.halt(End::Fatal(why));
            None
        }
    }
}
