//! The finishing stage: stored tiles are announced on the tile-index queue and only then deleted
//! from the upload queue, both in batches of up to 10 (SQS's batch limit). A tile whose index
//! message fails is not deleted: it comes back and is redone, which the service tolerates. A
//! delete that fails leaves a tile stored and indexed that will be uploaded once more. Chunks of a
//! volumetric job have nothing to index: once all their cuboids are stored they are deleted.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;

use super::kind::Kind;
use super::retry::{settle, with_session};
use super::store::Stored;
use super::{Ctx, FailureClass};
use crate::aws::{classify, describe};

/// SQS's maximum entries per batch call.
const BATCH: usize = 10;
/// How long a partial batch waits for company before it is sent anyway. Full batches are what
/// keep a tile at ~1.3 AWS requests (put + a tenth each of receive, index and delete); a
/// quarter second fills them at any rate above 40 tiles/s, and only delays the index and delete
/// of a partial batch, far inside the 120 s visibility timeout.
const LINGER: Duration = Duration::from_millis(250);
/// Batches being indexed and deleted at once.
const BATCHES_IN_FLIGHT: usize = 4;

/// Indexes and deletes every stored tile; ends when the input is closed and all batches are done.
pub(super) async fn run<K: Kind>(ctx: Arc<Ctx>, mut stored: mpsc::Receiver<Stored<K::Item>>) {
    let limit = Arc::new(Semaphore::new(BATCHES_IN_FLIGHT));
    let mut batches = JoinSet::new();
    while let Some(first) = stored.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + LINGER;
        while batch.len() < BATCH {
            match tokio::time::timeout_at(deadline, stored.recv()).await {
                Ok(Some(s)) => batch.push(s),
                Ok(None) | Err(_) => break,
            }
        }
        while batches.try_join_next().is_some() {}
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break;
        };
        let ctx = ctx.clone();
        batches.spawn(async move {
            finish_batch::<K>(&ctx, batch).await;
            drop(permit);
        });
    }
    while batches.join_next().await.is_some() {}
}

async fn finish_batch<K: Kind>(ctx: &Ctx, batch: Vec<Stored<K::Item>>) {
    let (to_index, mut indexed): (Vec<_>, Vec<_>) =
        batch.into_iter().partition(|s| s.index.is_some());
    if !to_index.is_empty() {
        indexed.extend(index::<K>(ctx, to_index).await);
    }
    if indexed.is_empty() {
        return;
    }
    delete::<K>(ctx, indexed).await;
}

/// Stored tiles bound for one tile-index queue.
type Group<I> = (Arc<str>, Vec<Stored<I>>);

/// Sends the tile-index messages (a job has one tile-index queue; a batch of several queues
/// would be sent queue by queue); returns the tiles whose message was accepted.
async fn index<K: Kind>(ctx: &Ctx, batch: Vec<Stored<K::Item>>) -> Vec<Stored<K::Item>> {
    let mut by_queue: Vec<Group<K::Item>> = Vec::new();
    for s in batch {
        let queue = s
            .index
            .as_ref()
            .map(|i| i.queue.clone())
            .unwrap_or_default();
        match by_queue.iter_mut().find(|(q, _)| *q == queue) {
            Some((_, group)) => group.push(s),
            None => by_queue.push((queue, vec![s])),
        }
    }
    let mut indexed = Vec::new();
    for (queue, group) in by_queue {
        indexed.extend(index_on::<K>(ctx, &queue, group).await);
    }
    indexed
}

async fn index_on<K: Kind>(
    ctx: &Ctx,
    queue: &str,
    batch: Vec<Stored<K::Item>>,
) -> Vec<Stored<K::Item>> {
    let entries: Vec<SendMessageBatchRequestEntry> = batch
        .iter()
        .enumerate()
        .map(|(i, s)| {
            SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(s.index.as_ref().map(|i| i.body.clone()).unwrap_or_default())
                .build()
                // Both required fields (id, body) are set just above.
                .expect("id and body are set")
        })
        .collect();
    let result = with_session(&ctx.session, |clients| {
        let (queue, entries) = (queue.to_string(), entries.clone());
        async move {
            clients
                .sqs
                .send_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| (classify(&e), describe(&e)))
        }
    })
    .await;
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            let why = settle(ctx, e, "sending tile-index messages");
            for s in &batch {
                if let Some(why) = &why {
                    ctx.fail::<K>(&s.work, FailureClass::Index, None, why.clone());
                }
            }
            return Vec::new();
        }
    };
    let mut ok = vec![false; batch.len()];
    for s in out.successful() {
        if let Ok(i) = s.id().parse::<usize>() {
            if let Some(slot) = ok.get_mut(i) {
                *slot = true;
            }
        }
    }
    let mut failed_why = vec![None; batch.len()];
    for f in out.failed() {
        if let Ok(i) = f.id().parse::<usize>() {
            if let Some(slot) = failed_why.get_mut(i) {
                *slot = Some(format!(
                    "sending the tile-index message failed: {}: {}",
                    f.code(),
                    f.message().unwrap_or_default()
                ));
                ok[i] = false;
            }
        }
    }
    let mut indexed = Vec::with_capacity(batch.len());
    for ((s, ok), why) in batch.into_iter().zip(ok).zip(failed_why) {
        if ok {
            indexed.push(s);
        } else {
            let why = why.unwrap_or_else(|| "the tile-index message was not acknowledged".into());
            ctx.fail::<K>(&s.work, FailureClass::Index, None, why);
        }
    }
    indexed
}

/// Deletes the upload messages of stored and indexed tiles (and of stored chunks), then counts
/// them as uploaded.
async fn delete<K: Kind>(ctx: &Ctx, indexed: Vec<Stored<K::Item>>) {
    let queue = ctx.upload_queue.clone();
    let entries: Vec<DeleteMessageBatchRequestEntry> = indexed
        .iter()
        .enumerate()
        .map(|(i, s)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(s.work.delivery.receipt_handle.clone())
                .build()
                // Both required fields (id, receipt handle) are set just above.
                .expect("id and receipt handle are set")
        })
        .collect();
    let result = with_session(&ctx.session, |clients| {
        let (queue, entries) = (queue.clone(), entries.clone());
        async move {
            clients
                .sqs
                .delete_message_batch()
                .queue_url(queue)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| (classify(&e), describe(&e)))
        }
    })
    .await;
    let mut deleted = vec![true; indexed.len()];
    match result {
        Ok(out) => {
            for f in out.failed() {
                if let Ok(i) = f.id().parse::<usize>() {
                    if let Some(slot) = deleted.get_mut(i) {
                        *slot = false;
                        log::warn!(
                            "{} is stored but its upload message could not be deleted ({}: {}); \
                             it will be uploaded once more",
                            K::describe(&indexed[i].work.item),
                            f.code(),
                            f.message().unwrap_or_default()
                        );
                    }
                }
            }
        }
        Err(e) => {
            if let Some(why) = settle(ctx, e, "deleting upload messages") {
                log::warn!(
                    "{} stored tiles or chunks keep their upload messages ({why}); they will be \
                     uploaded once more",
                    indexed.len()
                );
            }
            deleted.iter_mut().for_each(|d| *d = false);
        }
    }
    for (s, deleted) in indexed.into_iter().zip(deleted) {
        if deleted {
            let key = K::key(&s.work.item);
            // Deliveries spent waiting for the source (`--follow`) stored nothing.
            let attempt = ctx.stats.waiting().attempt(key, s.work.receives);
            ctx.stats.waiting().done(key);
            ctx.stats.uploaded(s.bytes, attempt > 1, s.black);
            ctx.stats.cuboids(s.cuboids);
        } else {
            ctx.stats.delete_failed();
        }
    }
}
