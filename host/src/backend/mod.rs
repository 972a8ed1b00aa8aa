//! The Boss REST client (spec/boss-protocol.md §2): create, join, status, complete, cancel and
//! cutout, each answer turned into a typed result. The service has quirks the client must absorb:
//! join answers 400 when its own AWS lookups fail transiently, a COMPLETE job joins with 200 but
//! no credentials, and complete speaks in a mix of 202/400 bodies with or without `wait_secs`.
//! Those are decided here, once, so the commands above read like the procedure in the spec.
//! Transient failures (connection errors, 5xx, and 400 on join) are retried with jittered backoff.

pub mod backoff;
pub mod token;

use std::time::Duration;

use boss_protocol::api::{
    codes, CompleteBody, CreateResponse, ErrorBody, JoinResponse, StatusResponse,
};
use boss_protocol::status::JobStatus;
use reqwest::{Method, StatusCode};

use backoff::Backoff;

/// How many times one REST call is tried before the service is reported unavailable.
const MAX_TRIES: u32 = 8;

/// Everything that can go wrong talking to the Boss, worded for the user.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "the Boss at {base} refused the API token ({detail}); pass a valid one with -a, \
         INTERN_TOKEN or ~/.intern/intern.cfg"
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
                false,
            )
            .await?;
        match reply.status.as_u16() {
            200 | 201 => parse(action, &reply),
            _ => Err(self.error(action, None, &reply)),
        }
    }

    /// One join: the job's queues and fresh keys, or "still preparing".
    pub async fn join(&self, job: u64) -> Result<Joined, BackendError> {
        let action = format!("joining job {job}");
        let path = format!("/latest/ingest/{job}");
        // The real service answers 400 when its own AWS lookups fail transiently.
        let reply = self
            .call(&action, Method::GET, &path, None, None, true)
            .await?;
        if reply.status != StatusCode::OK {
            return Err(self.error(&action, Some(job), &reply));
        }
        let join: JoinResponse = parse(&action, &reply)?;
        match join.ingest_job.status {
            JobStatus::Preparing => Ok(Joined::Preparing),
            JobStatus::Complete => Err(BackendError::AlreadyComplete { job }),
            JobStatus::Deleted => Err(BackendError::JobDeleted { job }),
            JobStatus::Failed => Err(BackendError::JobFailed { job }),
            status if join.credentials.is_none() => Err(BackendError::Protocol {
                action,
                status: 200,
                detail: format!("job is {status} but the answer holds no credentials"),
            }),
            _ => Ok(Joined::Ready(Box::new(Join {
                response: join,
                raw: parse(&action, &reply)?,
            }))),
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
            .call(&action, Method::GET, &path, None, None, false)
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
            .call(&action, Method::POST, &path, None, None, false)
            .await?;
        interpret_complete(&action, job, &reply).map_err(|e| match e {
            Interpreted::Error(e) => e,
            Interpreted::Unhandled => self.error(&action, Some(job), &reply),
        })
    }

    /// DELETE the job: queues removed, keys revoked, state DELETED.
    pub async fn cancel(&self, job: u64) -> Result<(), BackendError> {
        let action = format!("cancelling job {job}");
        let path = format!("/latest/ingest/{job}");
        let reply = self
            .call(&action, Method::DELETE, &path, None, None, false)
            .await?;
        match reply.status.as_u16() {
            200 | 202 | 204 => Ok(()),
            _ => {
                let body = error_body(&reply);
                // Repeating a cancel answers 400 code 9001: the job is already gone.
                if reply.status == StatusCode::BAD_REQUEST
                    && body.as_ref().and_then(|b| b.code) == Some(codes::SYSTEM_ERROR)
                {
                    return Err(BackendError::JobDeleted { job });
                }
                Err(self.error(&action, Some(job), &reply))
            }
        }
    }

    /// The raw voxels (C order z, y, x, little-endian) of a box at `res`; ranges are `[start, stop)`.
    #[allow(clippy::too_many_arguments)] // One argument per axis reads like the URL it builds.
    pub async fn cutout(
        &self,
        collection: &str,
        experiment: &str,
        channel: &str,
        res: u64,
        x: (u64, u64),
        y: (u64, u64),
        z: (u64, u64),
    ) -> Result<Vec<u8>, BackendError> {
        let action = format!(
            "reading cutout {collection}/{experiment}/{channel} x {}:{} y {}:{} z {}:{}",
            x.0, x.1, y.0, y.1, z.0, z.1
        );
        let path = format!(
            "/v1/cutout/{collection}/{experiment}/{channel}/{res}/{}:{}/{}:{}/{}:{}/",
            x.0, x.1, y.0, y.1, z.0, z.1
        );
        let reply = self
            .call(
                &action,
                Method::GET,
                &path,
                None,
                Some("application/octet-stream"),
                false,
            )
            .await?;
        if reply.status != StatusCode::OK {
            return Err(self.error(&action, None, &reply));
        }
        Ok(reply.body)
    }

    /// One REST exchange with retries on connection errors and 5xx (and 400 when `retry_400`).
    async fn call(
        &self,
        action: &str,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
        accept: Option<&str>,
        retry_400: bool,
    ) -> Result<Reply, BackendError> {
        let url = format!("{}{path}", self.base);
        let mut backoff = Backoff::api();
        let mut tries = 0;
        loop {
            tries += 1;
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("Authorization", format!("Token {}", self.token))
                .header("Accept", accept.unwrap_or("application/json"));
            if let Some(body) = body {
                req = req.json(body);
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(bytes) => Ok(Reply {
                            status,
                            body: bytes.to_vec(),
                        }),
                        Err(e) => Err(format!("reading the answer failed: {}", chain(&e))),
                    }
                }
                Err(e) => Err(chain(&e)),
            };
            let last = match outcome {
                Ok(reply) if !is_transient(reply.status, retry_400) => return Ok(reply),
                Ok(reply) => format!(
                    "HTTP {}: {}",
                    reply.status.as_u16(),
                    error_body(&reply)
                        .as_ref()
                        .and_then(|b| b.text().map(str::to_string))
                        .unwrap_or_else(|| body_snippet(&reply.body))
                ),
                Err(e) => e,
            };
            if tries >= MAX_TRIES {
                return Err(BackendError::Unavailable {
                    action: action.to_string(),
                    base: self.base.clone(),
                    tries,
                    last,
                });
            }
            let delay = backoff.next_delay();
            log::warn!(
                "{action}: {last}; retrying in {:.1} s (try {tries} of {MAX_TRIES})",
                delay.as_secs_f64()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// The typed error for a non-success answer.
    fn error(&self, action: &str, job: Option<u64>, reply: &Reply) -> BackendError {
        map_error(&self.base, action, job, reply.status.as_u16(), &reply.body)
    }
}

fn is_transient(status: StatusCode, retry_400: bool) -> bool {
    matches!(status.as_u16(), 500 | 502 | 503 | 504) || (retry_400 && status.as_u16() == 400)
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
mod tests {
    use super::*;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn complete(status: u16, body: &str) -> Result<CompleteAnswer, String> {
        interpret_complete("completing job 5", 5, &reply(status, body)).map_err(|e| match e {
            Interpreted::Error(e) => e.to_string(),
            Interpreted::Unhandled => "unhandled".into(),
        })
    }

    #[test]
    fn complete_answers_follow_the_spec_table() {
        assert_eq!(complete(204, ""), Ok(CompleteAnswer::Complete));
        assert_eq!(
            complete(
                400,
                r#"{"status": 400, "code": 1006, "message": "Upload queue is not empty"}"#
            ),
            Ok(CompleteAnswer::UploadQueueNotEmpty)
        );
        assert_eq!(
            complete(
                400,
                r#"{"wait_secs": 180, "info": "Internal queues not empty yet"}"#
            ),
            Ok(CompleteAnswer::Wait { secs: 180.0 })
        );
        assert_eq!(
            complete(202, r#"{"job_status": 6, "wait_secs": 180}"#),
            Ok(CompleteAnswer::Wait { secs: 180.0 })
        );
        assert_eq!(
            complete(400, r#"{"job_status": 6, "wait_secs": 12.5}"#),
            Ok(CompleteAnswer::Wait { secs: 12.5 })
        );
        assert_eq!(
            complete(202, r#"{"job_status": 5, "wait_secs": 0}"#),
            Ok(CompleteAnswer::Completing)
        );
        assert_eq!(
            complete(202, r#"{"job_status": 5}"#),
            Ok(CompleteAnswer::Completing)
        );
        assert_eq!(
            complete(
                400,
                r#"{"status": 400, "code": 1006, "message": "You cannot complete a job that is still preparing. You must cancel instead."}"#
            ),
            Err("completing job 5 was refused by the Boss (HTTP 400, code 1006): You cannot complete a job that is still preparing. You must cancel instead.".into())
        );
    }

    #[test]
    fn errors_name_the_job_and_what_to_do() {
        let base = "http://127.0.0.1:9";
        let e = map_error(
            base,
            "joining job 7",
            Some(7),
            404,
            br#"{"status": 404, "code": 2004, "message": "deleted"}"#,
        );
        assert_eq!(
            e.to_string(),
            "job 7 was cancelled (it is DELETED); create a new job to ingest this data"
        );
        let e = map_error(
            base,
            "joining job 7",
            Some(7),
            404,
            br#"{"status": 404, "code": 4004, "message": "nope"}"#,
        );
        assert_eq!(
            e.to_string(),
            "job 7 does not exist on the Boss at http://127.0.0.1:9; check the job id given with -j"
        );
        let e = map_error(
            base,
            "joining job 7",
            Some(7),
            403,
            br#"{"status": 403, "code": 3003, "message": "Only the creator can join"}"#,
        );
        assert_eq!(
            e.to_string(),
            "job 7 was created by another user and only its creator may use it: Only the creator can join"
        );
        let e = map_error(
            base,
            "creating the ingest job",
            None,
            401,
            br#"{"detail": "Invalid token."}"#,
        );
        assert_eq!(
            e.to_string(),
            "the Boss at http://127.0.0.1:9 refused the API token (Invalid token.); pass a valid one \
             with -a, INTERN_TOKEN or ~/.intern/intern.cfg"
        );
        let e = map_error(
            base,
            "creating the ingest job",
            None,
            400,
            br#"{"status": 400, "code": 1004, "message": "Could not validate the schema: 'x' is required"}"#,
        );
        assert_eq!(
            e.to_string(),
            "creating the ingest job was refused by the Boss (HTTP 400, code 1004): Could not \
             validate the schema: 'x' is required"
        );
        let e = map_error(
            base,
            "reading cutout",
            None,
            502,
            b"<html>bad gateway</html>",
        );
        assert_eq!(
            e.to_string(),
            "reading cutout was refused by the Boss (HTTP 502): <html>bad gateway</html>"
        );
    }

    #[test]
    fn already_complete_reads_as_the_spec_says() {
        assert_eq!(
            BackendError::AlreadyComplete { job: 12 }.to_string(),
            "job 12 is already complete"
        );
    }

    #[test]
    fn transient_statuses() {
        for s in [500, 502, 503, 504] {
            assert!(is_transient(StatusCode::from_u16(s).unwrap(), false));
        }
        assert!(!is_transient(StatusCode::BAD_REQUEST, false));
        assert!(is_transient(StatusCode::BAD_REQUEST, true));
        assert!(!is_transient(StatusCode::NOT_FOUND, true));
    }
}
