//! What the upload queue says about itself (GetQueueAttributes): its visibility timeout, read once
//! at the start of a run, and its approximate message counts, read when the queue looks empty
//! ([`super::drained`]). The protocol grants the job's keys GetQueueAttributes on the upload queue
//! (spec §4.1), but a Boss whose policy does not is handled too: a refused read is [`Refused`] and
//! the run does without (the default visibility timeout; the long-poll proof of an empty queue),
//! rather than re-joining for new keys as a refused upload would.
//!
//! [`Refused`]: AttributesError::Refused

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;

use super::Ctx;
use crate::aws::{classify, describe, ErrorClass};
use crate::backend::backoff::Backoff;

/// Why the attributes could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AttributesError {
    /// The job's keys may not read them (a policy without GetQueueAttributes): asking again
    /// will not help.
    Refused(String),
    /// This read failed (after the SDK's own retries); a later one may succeed.
    Failed(String),
}

/// The upload queue's approximate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counts {
    /// ApproximateNumberOfMessages: waiting to be received.
    pub visible: u64,
    /// ApproximateNumberOfMessagesNotVisible: received by some client, not yet deleted.
    pub in_flight: u64,
}

/// Reads the upload queue's visibility timeout: how long a failed tile takes to come back.
pub(super) async fn visibility_timeout(ctx: &Ctx) -> Result<Duration, AttributesError> {
    let got = read(ctx, &[QueueAttributeName::VisibilityTimeout]).await?;
    number(&got, &QueueAttributeName::VisibilityTimeout).map(Duration::from_secs)
}

/// Reads the upload queue's approximate counts of visible and in-flight messages.
pub(super) async fn counts(ctx: &Ctx) -> Result<Counts, AttributesError> {
    let got = read(
        ctx,
        &[
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ],
    )
    .await?;
    Ok(Counts {
        visible: number(&got, &QueueAttributeName::ApproximateNumberOfMessages)?,
        in_flight: number(
            &got,
            &QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )?,
    })
}

fn number(
    got: &HashMap<QueueAttributeName, String>,
    name: &QueueAttributeName,
) -> Result<u64, AttributesError> {
    got.get(name)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AttributesError::Failed(format!("the answer has no number for {name}")))
}

/// One GetQueueAttributes of the upload queue. Expired keys are renewed through the session and
/// the read is tried once more; keys that are merely refused mean the policy does not grant it.
async fn read(
    ctx: &Ctx,
    names: &[QueueAttributeName],
) -> Result<HashMap<QueueAttributeName, String>, AttributesError> {
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    for attempt in 0..2 {
        let clients = ctx
            .session
            .current()
            .map_err(|e| AttributesError::Failed(e.to_string()))?;
        let result = clients
            .sqs
            .get_queue_attributes()
            .queue_url(ctx.upload_queue.clone())
            .set_attribute_names(Some(names.to_vec()))
            .send()
            .await;
        match result {
            Ok(out) => return Ok(out.attributes.unwrap_or_default()),
            Err(e) => match classify(&e) {
                ErrorClass::Auth { expired: true } if attempt == 0 => {
                    ctx.session.auth_failed(&clients, true, &mut backoff).await;
                }
                ErrorClass::Auth { expired: false } => {
                    return Err(AttributesError::Refused(describe(&e)))
                }
                _ => return Err(AttributesError::Failed(describe(&e))),
            },
        }
    }
    Err(AttributesError::Failed(
        "the job's keys kept expiring".to_string(),
    ))
}
