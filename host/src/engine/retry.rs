//! One AWS call made through the shared session: refused keys are reported to the session (which
//! re-joins once for everybody) and the call is retried with the newer keys; every other failure
//! is classified for the caller. 5xx and throttling were already retried by the SDK.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::aws::{Clients, ErrorClass, Session};
use crate::backend::backoff::Backoff;

/// How often one call may be refused for its keys before the tile is left for redelivery.
const AUTH_RETRIES: u32 = 30;

/// A call that failed for good.
#[derive(Debug)]
pub(crate) enum CallError {
    /// This attempt failed; the tile may succeed later.
    Failed(String),
    /// The queue or bucket is gone: the job ended elsewhere.
    Gone,
    /// No tile can succeed (metadata too large, keys no longer renewable).
    Fatal(String),
}

/// Runs `op` with the current clients until it succeeds or fails for a reason other than keys.
pub(crate) async fn with_session<T, F, Fut>(session: &Session, mut op: F) -> Result<T, CallError>
where
    F: FnMut(Arc<Clients>) -> Fut,
    Fut: Future<Output = Result<T, (ErrorClass, String)>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(5));
    let mut refused = 0;
    loop {
        let clients = session
            .current()
            .map_err(|e| CallError::Fatal(format!("the job's AWS keys cannot be renewed: {e}")))?;
        match op(clients.clone()).await {
            Ok(v) => return Ok(v),
            Err((ErrorClass::Auth { expired }, msg)) => {
                refused += 1;
                if refused > AUTH_RETRIES {
                    return Err(CallError::Failed(format!(
                        "AWS kept refusing the job's keys: {msg}"
                    )));
                }
                log::debug!(
                    "AWS refused keys of generation {}: {msg}",
                    clients.generation
                );
                session.auth_failed(&clients, expired, &mut backoff).await;
            }
            Err((ErrorClass::QueueGone, msg)) => {
                log::info!("the job's queue or bucket is gone: {msg}");
                return Err(CallError::Gone);
            }
            Err((ErrorClass::MetadataTooLarge, msg)) => {
                return Err(CallError::Fatal(format!(
                    "S3 refused a tile's metadata as too large ({msg}); no tile of this job can \
                     be uploaded, report this to the Boss administrators"
                )))
            }
            Err((ErrorClass::Other, msg)) => return Err(CallError::Failed(msg)),
        }
    }
}

/// Ends the run for job-wide failures (`ctx.halt`); returns the reason of an ordinary one as
/// "{what} failed: {why}".
pub(super) fn settle(ctx: &super::Ctx, e: CallError, what: &str) -> Option<String> {
    match e {
        CallError::Failed(why) => Some(format!("{what} failed: {why}")),
        CallError::Gone => {
            ctx.halt(super::End::JobGone);
            None
        }
        CallError::Fatal(why) => {
            ctx.halt(super::End::Fatal(why));
            None
        }
    }
}
