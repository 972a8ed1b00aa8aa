//! The Boss REST client (spec/boss-protocol.md §2): create, join, status, complete, cancel and
//! cutout, each answer turned into a typed result. The service has quirks the client must absorb:
//! join answers 400 when its own AWS lookups fail transiently, a COMPLETE job joins with 200 but
//! no credentials, and complete speaks in a mix of 202/400 bodies with or without `wait_secs`.
//! Those are decided here, once, so the commands above read like the procedure in the spec.
//! Transient failures (connection errors, 408, 429, 500, 502, 503, 504, and 400 on join) are
//! retried with jittered backoff ([`backoff`]), waiting at least as long as a `Retry-After` asks.

pub mod backoff;
pub mod token;

use std::time::Duration;

use boss_protocol::api::{
    codes, CompleteBody, CreateResponse, ErrorBody, JoinResponse, StatusResponse,
};
use boss_protocol::cutout::{self, Region, Voxels};
use boss_protocol::status::JobStatus;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, StatusCode};

use backoff::Backoff;

/// How many times one REST call is tried before the service is reported unavailable.
const MAX_TRIES: u32 = 8;

/// Everything that can go wrong talking to the Boss, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "the Boss at {base} refused the API token ({detail}); pass a valid one with -a, \
         INTERN_TOKEN, ~/.intern/intern.cfg or ./token.json"
    )]
    Unauthorized { base: String, detail: String },
    #[error("job {job} was cancelled (it is DELETED); create a new job to ingest this data")]
    JobDeleted { job: u64 },
    #[error("job {job} does not exist on the Boss at {base}; check the job id given with -j")]
    JobNotFound { job: u64, base: String },
    #[error("job {job} was created by another user and only its creator may use it: {message}")]
    NotCreator { job: u64, message: String },
    #[error("job {job} is already complete")]
    AlreadyComplete { job: u64 },
    #[error("job {job} has FAILED on the Boss; create a new job")]
    JobFailed { job: u64 },
    #[error("{action} was refused by the Boss (HTTP {status}{}): {message}", code_suffix(*.code))]
    Rejected {
        action: String,
        status: u16,
        code: Option<u32>,
        message: String,
    },
    #[error("the Boss at {base} did not answer {action} after {tries} tries: {last}")]
    Unavailable {
        action: String,
        base: String,
        tries: u32,
        last: String,
    },
    #[error("the Boss refused the cutout {url} asked for as {accept} (HTTP {status}): {message}")]
    Cutout {
        url: String,
        accept: &'static str,
        status: u16,
        message: String,
    },
    #[error("unexpected answer to {action} (HTTP {status}): {detail}")]
    Protocol {
        action: String,
        status: u16,
        detail: String,
    },
}

fn code_suffix(code: Option<u32>) -> String {
    code.map(|c| format!(", code {c}")).unwrap_or_default()
}

/// What a join found.
#[derive(Debug)]
pub enum Joined {
    /// The service is still filling the upload queue; ask again in a few seconds.
    Preparing,
    /// The job is ready and these are its queues and keys.
    Ready(Box<Join>),
}

/// A join answer of a job that is ready: typed, and as sent (the `resource` and settings blocks
/// go back to the service unchanged in every tile's metadata, including fields we do not model).
#[derive(Clone, Debug)]
pub struct Join {
    pub response: JoinResponse,
    pub raw: serde_json::Value,
}

/// What a POST to complete answered (spec §2.4).
#[derive(Clone, Debug, PartialEq)]
pub enum CompleteAnswer {
    /// 204: the job is COMPLETE.
    Complete,
    /// Ask again after this many seconds (internal queues draining, or WAIT_ON_QUEUES).
    Wait { secs: f64 },
    /// 202 with job status COMPLETING: poll the status until it settles.
    Completing,
    /// The upload queue still holds tiles: go back to uploading.
    UploadQueueNotEmpty,
}

/// A client for one Boss API endpoint, authenticated with one token.
#[derive(Clone)]
pub struct Backend {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for Backend {
    // The token is a credential: keep it out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Answer of one HTTP exchange, before interpretation.
struct Reply {
    status: StatusCode,
    /// Kept as bytes: cutouts are binary.
    body: Vec<u8>,
    /// How long the service asked us to wait before asking again (`Retry-After`).
    retry_after: Option<Duration>,
}

impl Backend {
    /// `base` is `{protocol}://{host}` from the config's `client.backend`.
    pub fn new(base: &str, token: &str) -> Result<Backend, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("boss-ingest/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(120))
            .build()?;
        Ok(Backend {
            http,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
        })
    }

    /// The API base URL this client talks to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// POST the whole config: the service validates it, creates the queues and answers 201.
    pub async fn create(&self, config: &serde_json::Value) -> Result<CreateResponse, BackendError> {
        let action = "creating the ingest job";
        let reply = self
            .call(
                action,
                Method::POST,
                "/latest/ingest/",
                Some(config),
                None,
                Retry::Transient,
            )
            .await?;
        match reply.status.as_u16() {
            200 | 201 => parse(action, &reply),
            _ => Err(self.error(action, None, &reply)),
        }
    }

    /// One join: the job's queues and fresh keys, or "still preparing".
    ///
    /// A finished tile job cannot be joined on the real service: its view looks up the
    /// tile-index queue before it looks at the status, and cleanup deleted that queue, so the
    /// answer is 400 code 9001 naming `NonExistentQueue` (protocol errata 3). That answer is not
    /// retried; the job's status says what happened to it.
    pub async fn join(&self, job: u64) -> Result<Joined, BackendError> {
        let action = format!("joining job {job}");
        let path = format!("/latest/ingest/{job}");
        // The real service answers 400 when its own AWS lookups fail transiently.
        let reply = self
            .call(
                &action,
                Method::GET,
                &path,
                None,
                None,
                Retry::AlsoBadRequest,
            )
            .await?;
        if is_queue_gone(&reply) {
            return Err(self.finished(job, &action, &reply).await);
        }
        if reply.status != StatusCode::OK {
            return Err(self.error(&action, Some(job), &reply));
        }
        interpret_join(&action, job, &reply.body)
    }

    /// Why a job whose queues are gone cannot be joined or cancelled: complete, cancelled, or —
    /// if its status says it is still live — the service's own answer.
    async fn finished(&self, job: u64, action: &str, gone: &Reply) -> BackendError {
        match self.status(job).await {
            Ok(st) if st.status == JobStatus::Complete => BackendError::AlreadyComplete { job },
            Ok(st) if st.status == JobStatus::Deleted => BackendError::JobDeleted { job },
            Ok(_) => self.error(action, Some(job), gone),
            Err(e) => e,
        }
    }

    /// Joins, polling every `poll` while the service is still filling the upload queue.
    pub async fn join_when_ready(
        &self,
        job: u64,
        poll: Duration,
    ) -> Result<Box<Join>, BackendError> {
        let mut said = false;
        loop {
            match self.join(job).await? {
                Joined::Ready(join) => return Ok(join),
                Joined::Preparing => {
                    if !said {
                        log::info!("job {job} is still PREPARING (the Boss is filling its upload queue); waiting");
                        said = true;
                    }
                    tokio::time::sleep(poll).await;
                }
            }
        }
    }

    /// The job's state and job-wide counts.
    pub async fn status(&self, job: u64) -> Result<StatusResponse, BackendError> {
        let action = format!("reading the status of job {job}");
        let path = format!("/latest/ingest/{job}/status");
        let reply = self
            .call(&action, Method::GET, &path, None, None, Retry::Transient)
            .await?;
        if reply.status != StatusCode::OK {
            return Err(self.error(&action, Some(job), &reply));
        }
        parse(&action, &reply)
    }

    /// One POST to complete, interpreted per spec §2.4.
    pub async fn complete(&self, job: u64) -> Result<CompleteAnswer, BackendError> {
        let action = format!("completing job {job}");
        let path = format!("/latest/ingest/{job}/complete");
        let reply = self
            .call(&action, Method::POST, &path, None, None, Retry::Transient)
            .await?;
        interpret_complete(&action, job, &reply).map_err(|e| match e {
            Interpreted::Error(e) => e,
            Interpreted::Unhandled => self.error(&action, Some(job), &reply),
        })
    }

    /// DELETE the job: queues removed, keys revoked, state DELETED.
    ///
    /// The real view has no state check: a job whose queues are already gone (COMPLETE, or
    /// cancelled before) answers 400 code 9001 "Unable to complete cleanup … NonExistentQueue";
    /// the job's status then tells which it was.
    pub async fn cancel(&self, job: u64) -> Result<(), BackendError> {
        let action = format!("cancelling job {job}");
        let path = format!("/latest/ingest/{job}");
        let reply = self
            .call(&action, Method::DELETE, &path, None, None, Retry::Transient)
            .await?;
        match reply.status.as_u16() {
            200 | 202 | 204 => Ok(()),
            _ if is_queue_gone(&reply) => Err(self.finished(job, &action, &reply).await),
            _ => Err(self.error(&action, Some(job), &reply)),
        }
    }

    /// The voxels (C order z, y, x, little-endian) of `region` at `res`, asked for as
    /// `application/blosc`, the only raw-voxel form the real cutout view renders.
    pub async fn cutout(
        &self,
        collection: &str,
        experiment: &str,
        channel: &str,
        res: u64,
        region: Region,
    ) -> Result<Voxels, BackendError> {
        let Region { x, y, z } = region;
        let action = format!(
            "reading cutout {collection}/{experiment}/{channel} x {}:{} y {}:{} z {}:{}",
            x.0, x.1, y.0, y.1, z.0, z.1
        );
        let path = cutout::path(collection, experiment, channel, res, region);
        let reply = self
            .call(
                &action,
                Method::GET,
                &path,
                None,
                Some(cutout::ACCEPT),
                Retry::Transient,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(BackendError::Cutout {
                url: format!("{}{path}", self.base),
                accept: cutout::ACCEPT,
                status: reply.status.as_u16(),
                message: answer_text(&reply),
            });
        }
        cutout::decode(&reply.body, region.voxels()).map_err(|e| BackendError::Protocol {
            action,
            status: 200,
            detail: e.to_string(),
        })
    }

    /// One REST exchange with retries on connection errors and the answers `retry` names.
    async fn call(
        &self,
        action: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&str>,
        retry: Retry,
    ) -> Result<Reply, BackendError> {
        let mut backoff = Backoff::api();
        let mut tries = 0;
        loop {
            tries += 1;
            let (last, asked) = match self.send(method.clone(), path, body, accept).await {
                Ok(reply) if !retry.covers(&reply) => return Ok(reply),
                Ok(reply) => (
                    format!("HTTP {}: {}", reply.status.as_u16(), answer_text(&reply)),
                    reply.retry_after,
                ),
                Err(e) => (e, None),
            };
            if tries >= MAX_TRIES {
                return Err(BackendError::Unavailable {
                    action: action.to_string(),
                    base: self.base.clone(),
                    tries,
                    last,
                });
            }
            let delay = backoff.next_delay_honouring(asked);
            let why = match asked {
                Some(asked) => format!(", Retry-After {} s", asked.as_secs()),
                None => String::new(),
            };
            log::warn!(
                "{action}: {last}; retrying in {:.1} s (try {tries} of {MAX_TRIES}{why})",
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// One request and its whole answer; `Err` is a connection failure, as text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&str>,
    ) -> Result<Reply, String> {
        let mut authorization =
            HeaderValue::from_str(&format!("Token {}", self.token)).map_err(|_| {
                "the API token holds characters an HTTP header cannot carry".to_string()
            })?;
        // Kept out of any debug output of the HTTP stack.
        authorization.set_sensitive(true);
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, accept.unwrap_or("application/json"));
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| chain(&e))?;
        let status = resp.status();
        let retry_after = backoff::retry_after(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| format!("reading the answer failed: {}", chain(&e)))?;
        Ok(Reply {
            status,
            body: bytes.to_vec(),
            retry_after,
        })
    }

    /// The typed error for a non-success answer.
    fn error(&self, action: &str, job: Option<u64>, reply: &Reply) -> BackendError {
        map_error(&self.base, action, job, reply.status.as_u16(), &reply.body)
    }
}

/// Which answers of one call are worth asking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retry {
    /// 500, 502, 503 and 504 (the service or its load balancer failing for now), 429 (throttled)
    /// and 408 (the server gave up waiting for our request). Other statuses are answers: asking
    /// again would get the same one.
    Transient,
    /// Those and 400, which the real join answers when its own AWS lookups fail transiently —
    /// except a 400 saying the job's queues no longer exist, which no retry changes.
    AlsoBadRequest,
}

impl Retry {
    fn covers(self, reply: &Reply) -> bool {
        match reply.status.as_u16() {
            408 | 429 | 500 | 502 | 503 | 504 => true,
            400 => self == Retry::AlsoBadRequest && !is_queue_gone(reply),
            _ => false,
        }
    }
}

/// A 400 code 9001 whose message names SQS's `NonExistentQueue`: the job's queues were deleted,
/// because it was completed or cancelled (protocol errata 3 and 9).
fn is_queue_gone(reply: &Reply) -> bool {
    reply.status == StatusCode::BAD_REQUEST
        && error_body(reply).is_some_and(|b| {
            b.code == Some(codes::SYSTEM_ERROR)
                && b.text().is_some_and(|t| t.contains("NonExistentQueue"))
        })
}

/// The service's own words for a refusal: `detail`, else `message`, else the start of the body.
fn answer_text(reply: &Reply) -> String {
    error_body(reply)
        .as_ref()
        .and_then(|b| b.text().map(str::to_string))
        .unwrap_or_else(|| body_snippet(&reply.body))
}

/// An error's message with its sources, so "connection refused" is not hidden behind
/// "error sending request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn error_body(reply: &Reply) -> Option<ErrorBody> {
    serde_json::from_slice(&reply.body).ok()
}

fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else if text.chars().count() > 200 {
        format!("{}…", text.chars().take(200).collect::<String>())
    } else {
        text.to_string()
    }
}

fn parse<T: serde::de::DeserializeOwned>(action: &str, reply: &Reply) -> Result<T, BackendError> {
    serde_json::from_slice(&reply.body).map_err(|e| BackendError::Protocol {
        action: action.to_string(),
        status: reply.status.as_u16(),
        detail: format!("{e}; body: {}", body_snippet(&reply.body)),
    })
}

/// Reads a 200 answer to a join (protocol §2.2, errata 1): only what the client acts on is
/// parsed, and the answer is kept whole for the tile metadata.
pub(crate) fn interpret_join(action: &str, job: u64, body: &[u8]) -> Result<Joined, BackendError> {
    let protocol = |detail: String| BackendError::Protocol {
        action: action.to_string(),
        status: 200,
        detail,
    };
    let raw: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| protocol(format!("{e}; body: {}", body_snippet(body))))?;
    let join: JoinResponse = serde_json::from_value(raw.clone())
        .map_err(|e| protocol(format!("{e}; body: {}", body_snippet(body))))?;
    match join.ingest_job.status {
        JobStatus::Preparing => Ok(Joined::Preparing),
        JobStatus::Complete => Err(BackendError::AlreadyComplete { job }),
        JobStatus::Deleted => Err(BackendError::JobDeleted { job }),
        JobStatus::Failed => Err(BackendError::JobFailed { job }),
        status if join.credentials.is_none() => Err(protocol(format!(
            "job is {status} but the answer holds no credentials"
        ))),
        _ => Ok(Joined::Ready(Box::new(Join {
            response: join,
            raw,
        }))),
    }
}

/// Turns an error answer into the error a user can act on.
pub fn map_error(
    base: &str,
    action: &str,
    job: Option<u64>,
    status: u16,
    body: &[u8],
) -> BackendError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let code = parsed.as_ref().and_then(|b| b.code);
    let message = parsed
        .as_ref()
        .and_then(|b| b.text().map(str::to_string))
        .unwrap_or_else(|| body_snippet(body));
    match (status, code, job) {
        (401, _, _) => BackendError::Unauthorized {
            base: base.to_string(),
            detail: message,
        },
        (404, Some(codes::JOB_DELETED), Some(job)) => BackendError::JobDeleted { job },
        (404, Some(codes::JOB_NOT_FOUND), Some(job)) => BackendError::JobNotFound {
            job,
            base: base.to_string(),
        },
        (403, Some(codes::NOT_CREATOR), Some(job)) => BackendError::NotCreator { job, message },
        _ => BackendError::Rejected {
            action: action.to_string(),
            status,
            code,
            message,
        },
    }
}

enum Interpreted {
    Error(BackendError),
    Unhandled,
}

fn interpret_complete(
    action: &str,
    job: u64,
    reply: &Reply,
) -> Result<CompleteAnswer, Interpreted> {
    let status = reply.status.as_u16();
    if status == 204 {
        return Ok(CompleteAnswer::Complete);
    }
    if status != 200 && status != 202 && status != 400 {
        return Err(Interpreted::Unhandled);
    }
    if let Ok(err) = serde_json::from_slice::<ErrorBody>(&reply.body) {
        if let (Some(codes::BAD_REQUEST), Some(text)) = (err.code, err.text()) {
            if text.contains("Upload queue is not empty") {
                return Ok(CompleteAnswer::UploadQueueNotEmpty);
            }
            return Err(Interpreted::Error(BackendError::Rejected {
                action: action.to_string(),
                status,
                code: err.code,
                message: text.to_string(),
            }));
        }
    }
    let body: CompleteBody = match serde_json::from_slice(&reply.body) {
        Ok(body) => body,
        Err(_) => return Err(Interpreted::Unhandled),
    };
    match (body.job_status, body.wait_secs) {
        (Some(JobStatus::Complete), _) => Ok(CompleteAnswer::Complete),
        (Some(JobStatus::Completing), Some(w)) if w > 0.0 => Ok(CompleteAnswer::Wait { secs: w }),
        (Some(JobStatus::Completing), _) => Ok(CompleteAnswer::Completing),
        (Some(JobStatus::Uploading), None) => Ok(CompleteAnswer::UploadQueueNotEmpty),
        (Some(JobStatus::Deleted), _) => Err(Interpreted::Error(BackendError::JobDeleted { job })),
        (_, Some(w)) => Ok(CompleteAnswer::Wait { secs: w.max(0.0) }),
        _ => Err(Interpreted::Unhandled),
    }
}

#[cfg(test)]
mod call_tests;
#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;
