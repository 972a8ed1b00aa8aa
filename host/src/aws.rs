//! The job's SQS and S3 clients, built by hand from the credentials a join returns, and kept fresh.
//!
//! The Boss hands each joining client a key pair with no stated lifetime; the original client
//! re-joins after 55 minutes. Every join mints new keys, so a hundred workers that each re-joined on
//! an auth error would flood the service with joins. Instead one [`Session`] owns the current
//! [`Clients`] (an `Arc` behind a `watch` channel, swapped whole) and one refresher task re-joins: on
//! a timer, and when a worker reports an auth failure for the generation it used. Workers then
//! retry with whatever generation is current. New keys may take a few seconds to become valid, so
//! an "unknown key" error on keys younger than a grace period waits instead of re-joining again.
//!
//! Endpoints follow the AWS SDK convention (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SQS`, then
//! `AWS_ENDPOINT_URL`); that is how the client reaches `boss-sim`. The region is always
//! `us-east-1`, as the Boss runs there.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::{mpsc, watch};

use crate::backend::backoff::Backoff;

/// The Boss only runs in this region; the join response does not say.
pub const REGION: &str = "us-east-1";

/// The key pair from a join response.
#[derive(Clone, PartialEq, Eq)]
pub struct JobCredentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for JobCredentials {
    // Secrets stay out of logs; the access key id alone is safe and useful.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Endpoint overrides read from the environment; `None` means AWS itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub sqs: Option<String>,
}

impl Endpoints {
    /// Reads `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_SQS`, each falling back to
    /// `AWS_ENDPOINT_URL`, as the AWS SDKs and CLI do.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same with an explicit variable lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let global = get("AWS_ENDPOINT_URL");
        Endpoints {
            s3: get("AWS_ENDPOINT_URL_S3").or_else(|| global.clone()),
            sqs: get("AWS_ENDPOINT_URL_SQS").or(global),
        }
    }
}

/// One generation of clients: both built from the same key pair.
#[derive(Clone, Debug)]
pub struct Clients {
    /// Increases by one on every refresh; workers report failures against it.
    pub generation: u64,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    minted: Instant,
}

impl Clients {
    /// Builds both clients. No network traffic happens here.
    pub fn build(creds: &JobCredentials, endpoints: &Endpoints, generation: u64) -> Self {
        let credentials = Credentials::new(
            creds.access_key.clone(),
            creds.secret_key.clone(),
            creds.session_token.clone(),
            None,
            "boss-join",
        );
        // The SDK's standard mode retries 5xx, throttling and connection errors with jittered
        // exponential backoff; a tile that still fails is left to SQS redelivery.
        let retry = RetryConfig::standard()
            .with_max_attempts(5)
            .with_initial_backoff(Duration::from_millis(200))
            .with_max_backoff(Duration::from_secs(10));
        // A stuck connection must not hold a tile past the 120 s visibility timeout. Receive long
        // polls for at most 20 s, so 60 s per attempt bounds everything with room to spare.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(10))
            .operation_attempt_timeout(Duration::from_secs(60))
            .build();

        let mut s3 = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(credentials.clone())
            .retry_config(retry.clone())
            .timeout_config(timeouts.clone());
        if let Some(url) = &endpoints.s3 {
            // Local servers (moto, boss-sim) serve buckets by path, not by virtual host name.
            s3 = s3.endpoint_url(url).force_path_style(true);
        }

        let mut sqs = aws_sdk_sqs::config::Builder::new()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new(REGION))
            .credentials_provider(credentials)
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(url) = &endpoints.sqs {
            sqs = sqs.endpoint_url(url);
        }

        Clients {
            generation,
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            minted: Instant::now(),
        }
    }

    /// How long ago these keys were minted.
    pub fn age(&self) -> Duration {
        self.minted.elapsed()
    }
}

/// What an AWS error means for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The keys were refused. `expired` is true when the service said so outright.
    Auth { expired: bool },
    /// The queue is gone: the job was completed or cancelled elsewhere.
    QueueGone,
    /// S3 refused the user metadata (2 KiB limit): no retry can help.
    MetadataTooLarge,
    /// Anything else: leave the tile for redelivery.
    Other,
}

/// Sorts an SDK error by its error code.
pub fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> ErrorClass {
    classify_code(err.code())
}

/// Sorts an AWS error code (S3 and SQS spell some of them differently).
pub fn classify_code(code: Option<&str>) -> ErrorClass {
    match code {
        Some("ExpiredToken" | "RequestExpired" | "TokenRefreshRequired") => {
            ErrorClass::Auth { expired: true }
        }
        Some(
            "InvalidAccessKeyId"
            | "InvalidClientTokenId"
            | "AccessDenied"
            | "AccessDeniedException"
            | "UnrecognizedClientException"
            | "SignatureDoesNotMatch"
            | "InvalidSecurity",
        ) => ErrorClass::Auth { expired: false },
        Some(
            "AWS.SimpleQueueService.NonExistentQueue"
            | "QueueDoesNotExist"
            | "NonExistentQueue"
            | "NoSuchBucket",
        ) => ErrorClass::QueueGone,
        Some("MetadataTooLarge") => ErrorClass::MetadataTooLarge,
        _ => ErrorClass::Other,
    }
}

/// A message naming an SDK error by its code and text, for logs and failure reports.
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match (err.code(), err.message()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        (Some(code), None) => code.to_string(),
        _ => {
            // Transport failures carry their reason in the source chain, not in metadata.
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}

/// Why the session can no longer provide clients.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct SessionEnded(pub Arc<str>);

/// The re-join a refresh performs: new keys, or a reason why there will be none.
pub type Rejoin = Arc<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<JobCredentials, String>> + Send>> + Send + Sync,
>;

/// How the session refreshes its keys.
#[derive(Clone, Debug)]
pub struct RefreshPolicy {
    /// Re-join on a timer this often (the original: 3300 s).
    pub every: Duration,
    /// Keys younger than this that are refused as unknown are waited for, not replaced.
    pub grace: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            every: Duration::from_secs(3300),
            grace: Duration::from_secs(10),
        }
    }
}

type State = Result<Arc<Clients>, SessionEnded>;

/// The shared, swappable clients. Cheap to clone; every clone sees the same current generation.
#[derive(Clone)]
pub struct Session {
    state: watch::Receiver<State>,
    requests: mpsc::Sender<u64>,
    grace: Duration,
    renewals: Renewals,
}

/// How many times a session's keys were renewed (each a re-join that brought new keys). Kept
/// apart from the clients, so that it outlives the session and holding it keeps no refresher
/// alive.
#[derive(Clone, Debug, Default)]
pub struct Renewals(Arc<AtomicU64>);

impl Renewals {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    pub(crate) fn renewed(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Session {
    /// Starts the refresher with the clients of the first join. The refresher stops when the last
    /// clone of the session is dropped.
    pub fn start(
        first: JobCredentials,
        endpoints: Endpoints,
        policy: RefreshPolicy,
        rejoin: Rejoin,
    ) -> Session {
        // A session means tiles are about to flow through this process.
        crate::malloc::keep_tile_buffers();
        let initial = Arc::new(Clients::build(&first, &endpoints, 1));
        let (tx, rx) = watch::channel(Ok(initial));
        // Requests carry the generation that failed; a few slots suffice because requests for an
        // already replaced generation are ignored, and a full channel means one is pending.
        let (req_tx, req_rx) = mpsc::channel(4);
        let renewals = Renewals::default();
        tokio::spawn(refresher(
            tx,
            req_rx,
            endpoints,
            policy.every,
            rejoin,
            renewals.clone(),
        ));
        Session {
            state: rx,
            requests: req_tx,
            grace: policy.grace,
            renewals,
        }
    }

    /// The count of key renewals of this session.
    pub fn renewals(&self) -> Renewals {
        self.renewals.clone()
    }

    /// The clients to use now, or why there are none.
    pub fn current(&self) -> Result<Arc<Clients>, SessionEnded> {
        self.state.borrow().clone()
    }

    /// Called by a worker whose request with `used` was refused for its keys. Asks for one
    /// refresh (unless the keys are merely new, or another worker already asked), then waits for
    /// a newer generation or a short backoff, whichever comes first. The caller then retries
    /// with [`Session::current`].
    pub async fn auth_failed(&self, used: &Clients, expired: bool, backoff: &mut Backoff) {
        let stale = expired || used.age() >= self.grace;
        if stale {
            // Full means a request is already pending; closed means the session is ending and
            // `current` will say why.
            let _ = self.requests.try_send(used.generation);
        }
        let mut state = self.state.clone();
        let newer = async {
            loop {
                let current = match &*state.borrow_and_update() {
                    Ok(c) => c.generation,
                    Err(_) => return,
                };
                if current > used.generation {
                    return;
                }
                if state.changed().await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            _ = newer => {}
            _ = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

async fn refresher(
    state: watch::Sender<State>,
    mut requests: mpsc::Receiver<u64>,
    endpoints: Endpoints,
    every: Duration,
    rejoin: Rejoin,
    renewals: Renewals,
) {
    let mut generation = 1u64;
    let mut next = tokio::time::Instant::now() + every;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {
                log::info!("renewing the job's AWS keys (scheduled re-join)");
            }
            req = requests.recv() => match req {
                None => return,
                // A request about a generation already replaced was answered by that refresh.
                Some(failed) if failed < generation => continue,
                Some(_) => log::info!("AWS refused the job's keys; re-joining for new ones"),
            },
        }
        match rejoin().await {
            Ok(creds) => {
                generation += 1;
                renewals.renewed();
                let clients = Arc::new(Clients::build(&creds, &endpoints, generation));
                if state.send(Ok(clients)).is_err() {
                    return;
                }
            }
            Err(reason) => {
                let _ = state.send(Err(SessionEnded(reason.into())));
                return;
            }
        }
        next = tokio::time::Instant::now() + every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn creds(n: u32) -> JobCredentials {
        JobCredentials {
            access_key: format!("AK{n}"),
            secret_key: format!("SK{n}"),
            session_token: None,
        }
    }

    fn counting_rejoin(count: Arc<AtomicU32>) -> Rejoin {
        Arc::new(move || {
            let n = count.fetch_add(1, Ordering::SeqCst) + 2;
            Box::pin(async move { Ok(creds(n)) })
        })
    }

    #[test]
    fn endpoint_overrides_follow_the_sdk_convention() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Endpoints::from_lookup(env(&[])), Endpoints::default());
        assert_eq!(
            Endpoints::from_lookup(env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")])),
            Endpoints {
                s3: Some("http://127.0.0.1:1".into()),
                sqs: Some("http://127.0.0.1:1".into()),
            }
        );
        assert_eq!(
            Endpoints::from_lookup(env(&[
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
                ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2"),
            ])),
            Endpoints {
                s3: Some("http://127.0.0.1:2".into()),
                sqs: Some("http://127.0.0.1:1".into()),
            }
        );
        assert_eq!(
            Endpoints::from_lookup(env(&[("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:3")])),
            Endpoints {
                s3: None,
                sqs: Some("http://127.0.0.1:3".into()),
            }
        );
    }

    #[test]
    fn error_codes_are_classified() {
        assert_eq!(
            classify_code(Some("ExpiredToken")),
            ErrorClass::Auth { expired: true }
        );
        assert_eq!(
            classify_code(Some("InvalidAccessKeyId")),
            ErrorClass::Auth { expired: false }
        );
        assert_eq!(
            classify_code(Some("InvalidClientTokenId")),
            ErrorClass::Auth { expired: false }
        );
        assert_eq!(
            classify_code(Some("AWS.SimpleQueueService.NonExistentQueue")),
            ErrorClass::QueueGone
        );
        assert_eq!(
            classify_code(Some("MetadataTooLarge")),
            ErrorClass::MetadataTooLarge
        );
        assert_eq!(classify_code(Some("InternalError")), ErrorClass::Other);
        assert_eq!(classify_code(None), ErrorClass::Other);
    }

    #[test]
    fn debug_hides_the_secret() {
        let text = format!("{:?}", creds(7));
        assert!(text.contains("AK7") && !text.contains("SK7"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn many_failures_of_one_generation_cause_one_rejoin() {
        let count = Arc::new(AtomicU32::new(0));
        let policy = RefreshPolicy {
            every: Duration::from_secs(3300),
            grace: Duration::ZERO,
        };
        let session = Session::start(
            creds(1),
            Endpoints::default(),
            policy,
            counting_rejoin(count.clone()),
        );
        let used = session.current().unwrap();
        assert_eq!(used.generation, 1);
        let mut waits = Vec::new();
        for _ in 0..20 {
            let session = session.clone();
            let used = used.clone();
            waits.push(tokio::spawn(async move {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
                session.auth_failed(&used, false, &mut b).await;
                session.current().unwrap().generation
            }));
        }
        for w in waits {
            assert_eq!(w.await.unwrap(), 2);
        }
        assert_eq!(count.load(Ordering::SeqCst), 1);
        assert_eq!(session.renewals().count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn new_keys_refused_as_unknown_are_waited_for_not_replaced() {
        let count = Arc::new(AtomicU32::new(0));
        let session = Session::start(
            creds(1),
            Endpoints::default(),
            RefreshPolicy::default(),
            counting_rejoin(count.clone()),
        );
        let used = session.current().unwrap();
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(100));
        session.auth_failed(&used, false, &mut b).await;
        assert_eq!(session.current().unwrap().generation, 1);
        assert_eq!(count.load(Ordering::SeqCst), 0);
        // An explicit expiry is always acted on.
        session.auth_failed(&used, true, &mut b).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(session.current().unwrap().generation, 2);
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn timer_refreshes_and_a_failed_rejoin_ends_the_session() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let rejoin: Rejoin = Arc::new(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Ok(creds(2))
                } else {
                    Err("job 7 is already complete".to_string())
                }
            })
        });
        let policy = RefreshPolicy {
            every: Duration::from_secs(60),
            grace: Duration::from_secs(10),
        };
        let session = Session::start(creds(1), Endpoints::default(), policy, rejoin);
        tokio::time::sleep(Duration::from_secs(61)).await;
        assert_eq!(session.current().unwrap().generation, 2);
        tokio::time::sleep(Duration::from_secs(61)).await;
        let err = session.current().unwrap_err();
        assert_eq!(err.to_string(), "job 7 is already complete");
        // The one renewal is still counted after the session ended.
        assert_eq!(session.renewals().count(), 1);
    }
}
