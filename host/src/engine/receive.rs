//! The receiving stage: takes up to 10 messages at a time from the upload queue, but only when
//! the pipeline has room for them (10 tiles; for volumetric jobs at least one chunk), so a slow
//! plugin or upload slows receiving instead of letting received messages age past the visibility
//! timeout. It is also where the run decides the queue is drained ([`super::drained`]).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use tokio::sync::{mpsc, Semaphore};

use super::attributes::{self, AttributesError};
use super::drained::Proof;
use super::kind::{Delivery, Kind};
use super::retry::{with_session, CallError};
use super::{Ctx, End, InFlight, Work};
use crate::aws::{classify, describe};
use crate::backend::backoff::Backoff;

/// SQS's maximum per ReceiveMessage.
pub(super) const BATCH: usize = 10;
/// Consecutive failed receives (after the SDK's own retries) before the run gives up.
const MAX_RECEIVE_FAILURES: u32 = 12;

/// Receives until drained or stopped; returns true when the queue was drained. Each receive
/// waits for `min_batch` free slots, then asks for as many messages as there are free slots (at
/// most 10).
pub(super) async fn run<K: Kind>(
    ctx: Arc<Ctx>,
    kind: Arc<K>,
    slots: Arc<Semaphore>,
    capacity: usize,
    min_batch: usize,
    work: mpsc::Sender<Work<K::Item>>,
) -> bool {
    let mut stop = ctx.stop.subscribe();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut failures = 0;
    let full_wait = ctx.options.receive_wait.min(Duration::from_secs(20));
    let mut proof = Proof::new(full_wait, ctx.options.drain_confirm, true);
    match attributes::visibility_timeout(&ctx).await {
        Ok(timeout) => *ctx.visibility.lock().unwrap_or_else(|p| p.into_inner()) = timeout,
        Err(AttributesError::Refused(why)) => proof.refused(&why),
        Err(AttributesError::Failed(why)) => {
            log::debug!("reading the upload queue's visibility timeout failed: {why}")
        }
    }
    // Nothing of ours in flight, no failed tile of ours due back and (`--follow`) none waiting
    // for its source.
    let idle = || {
        slots.available_permits() == capacity
            && !ctx.awaiting_redelivery()
            && ctx
                .stats
                .waiting()
                .pending(std::time::Instant::now())
                .sources
                == 0
    };
    loop {
        if *stop.borrow() {
            return false;
        }
        if let Some(timeout) = ctx.options.follow {
            let now = std::time::Instant::now();
            let pending = ctx.stats.waiting().pending(now);
            if pending.sources > 0 && ctx.stats.waiting().idle(now) >= timeout {
                ctx.halt(End::GaveUpWaiting(pending));
                return false;
            }
        }
        let Some(next) = proof.next(&ctx, idle, &mut stop).await else {
            return false;
        };
        let min_batch = min_batch.clamp(1, BATCH);
        let mut permits = tokio::select! {
            p = slots.clone().acquire_many_owned(min_batch as u32) => match p {
                Ok(p) => p,
                // The semaphore is never closed; treat it as a stop all the same.
                Err(_) => return false,
            },
            _ = stop.wait_for(|s| *s) => return false,
        };
        // Take whatever further room there is, up to SQS's batch size.
        while permits.num_permits() < BATCH {
            match slots.clone().try_acquire_owned() {
                Ok(more) => permits.merge(more),
                Err(_) => break,
            }
        }
        let batch = permits.num_permits();
        let queue = ctx.upload_queue.clone();
        let wait_secs = next.wait.as_secs() as i32;
        let received = tokio::select! {
            r = with_session(&ctx.session, |clients| {
                let queue = queue.clone();
                async move {
                    clients
                        .sqs
                        .receive_message()
                        .queue_url(queue)
                        .max_number_of_messages(batch as i32)
                        .wait_time_seconds(wait_secs)
                        .message_system_attribute_names(
                            MessageSystemAttributeName::ApproximateReceiveCount,
                        )
                        .send()
                        .await
                        .map_err(|e| (classify(&e), describe(&e)))
                }
            }) => r,
            // Abandoning a poll loses nothing: anything it took reappears after the timeout.
            _ = stop.wait_for(|s| *s) => return false,
        };
        let messages = match received {
            Ok(out) => {
                failures = 0;
                backoff.reset();
                out.messages.unwrap_or_default()
            }
            Err(CallError::Gone) => {
                ctx.halt(End::JobGone);
                return false;
            }
            Err(CallError::Fatal(why)) => {
                ctx.halt(End::Fatal(why));
                return false;
            }
            Err(CallError::Failed(why)) => {
                failures += 1;
                if failures >= MAX_RECEIVE_FAILURES {
                    ctx.halt(End::Fatal(format!(
                        "cannot receive from the upload queue ({failures} failures in a row): {why}"
                    )));
                    return false;
                }
                let delay = backoff.next_delay();
                log::warn!(
                    "receiving from the upload queue failed: {why}; retrying in {:.1} s",
                    delay.as_secs_f64()
                );
                drop(permits);
                tokio::time::sleep(delay).await;
                continue;
            }
        };

        let mut taken = 0;
        for m in messages {
            let Some(slot) = permits.split(1) else {
                // SQS never returns more than asked for; if it did, the extra reappears later.
                break;
            };
            if let Some(w) = accept(&ctx, &*kind, m, slot) {
                taken += 1;
                if work.send(w).await.is_err() {
                    return false;
                }
            }
        }
        drop(permits);
        proof.received(taken, batch);
        if taken == 0 && next.proves && idle() {
            return true;
        }
        if taken == 0 && wait_secs == 0 {
            // Without long polling, an empty queue would be asked again at once, in a hot loop.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Turns a message into work, or skips it (quarantined here, or unreadable: quarantined now).
fn accept<K: Kind>(
    ctx: &Ctx,
    kind: &K,
    m: aws_sdk_sqs::types::Message,
    slot: tokio::sync::OwnedSemaphorePermit,
) -> Option<Work<K::Item>> {
    let receives = m
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let message_id = m.message_id().unwrap_or_default();
    let item = match kind.parse(m.body().unwrap_or_default(), message_id, receives) {
        Ok(item) => item,
        Err(unreadable) => {
            // Written once; an unreadable message is known by its id.
            ctx.quarantine(*unreadable);
            return None;
        }
    };
    ctx.redelivered(K::key(&item));
    if ctx.quarantine.contains(K::key(&item)) {
        return None;
    }
    Some(Work {
        delivery: Delivery {
            message_id: message_id.to_string(),
            receipt_handle: m.receipt_handle().unwrap_or_default().to_string(),
        },
        item,
        receives,
        _slot: slot,
        _in_flight: InFlight::start(ctx.stats.clone()),
    })
}
