//! The AWS endpoint clients talk to: a thin proxy in front of moto that behaves like the IAM
//! policy of a Boss job's credentials.
//!
//! moto accepts any key and forwards nothing about who called. The real service's keys are per
//! job, expire, and allow only a few actions (protocol §4.1). So every request is checked here:
//! the SigV4 access key must be one a join minted and not expired (else `InvalidAccessKeyId` for
//! S3, `InvalidClientTokenId` for SQS, as AWS answers for the deleted IAM user behind an ended
//! job key; `--expired-keys expired-token` answers `ExpiredToken` instead); the action
//! must be one the job's policy allows on that job's queue or bucket (else `AccessDenied`, e.g.
//! ChangeMessageVisibility). Errors use each service's wire format: S3 XML, SQS query XML (boto3
//! 1.34) or SQS JSON (the Rust SDK). The proxy also sees the exact S3 metadata headers (moto drops
//! names with `_`), refuses more of it than S3's 2 KiB (`MetadataTooLarge`; moto takes any
//! amount), counts requests per operation, injects faults, and hands each stored object to the
//! service's reaction in [`crate::uploads`].

use crate::sigv4;
use crate::state::{bump, ExpiredKeys, Grant, Sim};
use crate::uploads;
use crate::wire::{aws_error, credential, form_pairs, queue_name, Service};
use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use boss_protocol::status::IngestType;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

/// Largest request body forwarded (a tile or a cuboid is far smaller).
const MAX_BODY: usize = 256 << 20;
/// Requests handled at once; more wait. Bounds the bodies held in memory.
const MAX_IN_FLIGHT: usize = 64;

#[derive(Clone)]
struct Door {
    sim: Arc<Sim>,
    /// The embedded backend, called in-process; `None` = forward over HTTP to moto.
    embedded: Option<Router>,
    http: reqwest::Client,
    slots: Arc<tokio::sync::Semaphore>,
}

pub fn router(sim: Arc<Sim>, embedded: Option<Router>) -> Router {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        // Building a plain client only fails if the TLS backend cannot initialise.
        .expect("HTTP client for moto");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    Router::new().fallback(handle).with_state(Door {
        sim,
        embedded,
        http,
        slots,
    })
}

/// What a request is: service, operation name, and the bucket/key or queue it acts on.
#[derive(Debug, Clone)]
struct Call {
    service: Service,
    operation: String,
    bucket: String,
    key: String,
    queue: String,
}

impl Call {
    /// The fault-injection target (`s3.put`, `sqs.receive`, ...).
    fn target(&self) -> String {
        let op = self.operation.as_str();
        match self.service {
            Service::S3 => {
                let kind = match op {
                    "PutObject"
                    | "UploadPart"
                    | "CopyObject"
                    | "CreateMultipartUpload"
                    | "CompleteMultipartUpload" => "put",
                    "GetObject" => "get",
                    "HeadObject" | "HeadBucket" => "head",
                    "DeleteObject" | "DeleteObjects" | "DeleteBucket" => "delete",
                    _ => "list",
                };
                format!("s3.{kind}")
            }
            Service::SqsQuery | Service::SqsJson => {
                let kind = match op {
                    "ReceiveMessage" => "receive",
                    "DeleteMessage" | "DeleteMessageBatch" => "delete",
                    "SendMessage" | "SendMessageBatch" => "send",
                    "GetQueueAttributes" => "attributes",
                    _ => "other",
                };
                format!("sqs.{kind}")
            }
        }
    }

    fn counter(&self) -> String {
        match self.service {
            Service::S3 => format!("s3.{}", self.operation),
            _ => format!("sqs.{}", self.operation),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn classify(
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    signed_for: &str,
) -> Call {
    let mut call = Call {
        service: Service::S3,
        operation: String::new(),
        bucket: String::new(),
        key: String::new(),
        queue: String::new(),
    };
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        call.service = Service::SqsJson;
        call.operation = target.rsplit('.').next().unwrap_or(target).to_string();
        let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        call.queue = json["QueueUrl"]
            .as_str()
            .map(queue_name)
            .unwrap_or_else(|| queue_name(path));
        return call;
    }
    if signed_for == "sqs" {
        call.service = Service::SqsQuery;
        let mut pairs = form_pairs(query);
        pairs.extend(form_pairs(&String::from_utf8_lossy(body)));
        for (k, v) in pairs {
            match k.as_str() {
                "Action" => call.operation = v,
                "QueueUrl" => call.queue = queue_name(&v),
                _ => {}
            }
        }
        if call.queue.is_empty() {
            call.queue = queue_name(path);
        }
        return call;
    }
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    call.bucket = percent_decode(bucket);
    call.key = percent_decode(key);
    let has = |name: &str| {
        query
            .split('&')
            .any(|p| p == name || p.starts_with(&format!("{name}=")))
    };
    call.operation = match (method.as_str(), call.key.is_empty()) {
        ("PUT", false) if headers.contains_key("x-amz-copy-source") => "CopyObject",
        ("PUT", false) if has("partNumber") => "UploadPart",
        ("PUT", false) => "PutObject",
        ("PUT", true) => "CreateBucket",
        ("GET", false) => "GetObject",
        ("GET", true) if call.bucket.is_empty() => "ListBuckets",
        ("GET", true) if has("list-type") => "ListObjectsV2",
        ("GET", true) => "ListObjects",
        ("HEAD", false) => "HeadObject",
        ("HEAD", true) => "HeadBucket",
        ("DELETE", false) => "DeleteObject",
        ("DELETE", true) => "DeleteBucket",
        ("POST", _) if has("delete") => "DeleteObjects",
        ("POST", _) if has("uploads") => "CreateMultipartUpload",
        ("POST", _) if has("uploadId") => "CompleteMultipartUpload",
        _ => "Unknown",
    }
    .to_string();
    call
}

/// What AWS answers for an access key it does not know (never minted, revoked, or the deleted
/// IAM user of an expired job key).
fn unknown_key(service: Service) -> Response {
    match service {
        Service::S3 => aws_error(
            service,
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        _ => aws_error(
            service,
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
        ),
    }
}

enum Verdict {
    Allowed(u64),
    Denied(Response, Option<u64>),
}

/// Checks the key and the job policy.
fn authorize(
    sim: &Sim,
    call: &Call,
    key: Option<&str>,
    signed: Option<(&sigv4::Authorization, &sigv4::Request<'_>)>,
) -> Verdict {
    let service = call.service;
    let Some(key) = key else {
        return Verdict::Denied(
            aws_error(
                service,
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Anonymous access is not allowed by boss-sim",
            ),
            None,
        );
    };
    let inner = sim.lock();
    let grant: Option<&Grant> = inner.grants.get(key).filter(|g| !g.revoked);
    let Some(grant) = grant else {
        return Verdict::Denied(unknown_key(service), None);
    };
    let job_id = grant.job_id;
    if grant.expires.is_some_and(|t| Instant::now() >= t) {
        let answer = match sim.timing.expired_keys {
            ExpiredKeys::Deleted => unknown_key(service),
            ExpiredKeys::ExpiredToken => {
                let status = if service == Service::S3 {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::FORBIDDEN
                };
                aws_error(
                    service,
                    status,
                    "ExpiredToken",
                    "The provided token has expired.",
                )
            }
        };
        return Verdict::Denied(answer, Some(job_id));
    }
    // Header-signed requests are checked against the minted secret, as AWS does; presigned
    // URLs are only checked for their key.
    if let Some((auth, request)) = signed {
        if sigv4::expected_signature(&grant.secret, auth, request) != auth.signature {
            return Verdict::Denied(
                aws_error(
                    service,
                    StatusCode::FORBIDDEN,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
                ),
                Some(job_id),
            );
        }
    }
    let Some(job) = inner.jobs.get(&job_id) else {
        return Verdict::Denied(
            aws_error(
                service,
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Access Denied",
            ),
            Some(job_id),
        );
    };
    let upload = &job.queues.upload.name;
    let index = job.queues.tile_index.as_ref().map(|q| q.name.as_str());
    let bucket = match job.ingest_type() {
        IngestType::Tile => &sim.tile_bucket,
        IngestType::Volumetric => &sim.ingest_bucket,
    };
    let op = call.operation.as_str();
    let allowed = match service {
        Service::S3 => op == "PutObject" && &call.bucket == bucket,
        _ => match op {
            "ReceiveMessage" | "DeleteMessage" | "DeleteMessageBatch" | "GetQueueAttributes" => {
                &call.queue == upload
            }
            "SendMessage" | "SendMessageBatch" => Some(call.queue.as_str()) == index,
            _ => false,
        },
    };
    if allowed {
        Verdict::Allowed(job_id)
    } else {
        let resource = if service == Service::S3 {
            format!("arn:aws:s3:::{}/{}", call.bucket, call.key)
        } else {
            format!("queue {}", call.queue)
        };
        Verdict::Denied(
            aws_error(
                service,
                StatusCode::FORBIDDEN,
                "AccessDenied",
                &format!("User is not authorized to perform {op} on {resource} (boss-sim job {job_id} policy)"),
            ),
            Some(job_id),
        )
    }
}

async fn handle(State(door): State<Door>, request: Request) -> Response {
    // The semaphore is never closed, so acquiring only waits.
    let _slot = door.slots.clone().acquire_owned().await;
    let sim = &door.sim;
    let latency = sim.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let cred = credential(&parts.headers, &query);
    let signed_for = cred.as_ref().map(|c| c.1.as_str()).unwrap_or("");
    let call = classify(
        &parts.method,
        &path,
        &query,
        &parts.headers,
        &body,
        signed_for,
    );
    let auth = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(sigv4::parse_authorization);
    let request = sigv4::Request {
        method: parts.method.as_str(),
        raw_path: &path,
        raw_query: &query,
        headers: &parts.headers,
        body: &body,
    };
    let verdict = authorize(
        sim,
        &call,
        cred.as_ref().map(|c| c.0.as_str()),
        auth.as_ref().map(|a| (a, &request)),
    );
    let job_id = match verdict {
        Verdict::Allowed(id) => id,
        Verdict::Denied(response, job) => {
            let mut inner = sim.lock();
            let inner = &mut *inner;
            match job.and_then(|id| inner.jobs.get_mut(&id)) {
                Some(job) => {
                    bump(&mut job.stats.aws_requests, &call.counter());
                    bump(&mut job.stats.aws_denied, &call.counter());
                }
                None => bump(&mut inner.global.aws_requests, &call.counter()),
            }
            return response;
        }
    };
    let fault = sim.faults.decide(&call.target());
    {
        let mut inner = sim.lock();
        if let Some(job) = inner.jobs.get_mut(&job_id) {
            bump(&mut job.stats.aws_requests, &call.counter());
            if fault.is_some() {
                bump(&mut job.stats.faults_injected, &call.target());
            }
        }
    }
    if let Some(status) = fault {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = match (call.service, status.as_u16()) {
            (Service::S3, 503) => "SlowDown",
            (Service::S3, s) if s >= 500 => "InternalError",
            (_, 503) => "ServiceUnavailable",
            (_, s) if s >= 500 => "InternalFailure",
            // As AWS refuses a call the keys' policy does not grant.
            (_, 403) => "AccessDenied",
            _ => "InjectedFault",
        };
        return aws_error(call.service, status, code, "Fault injected by boss-sim");
    }
    if call.operation == "PutObject" {
        // moto stores any amount of user metadata; S3 refuses more than 2 KiB.
        let size = uploads::metadata_size(&parts.headers);
        uploads::note_metadata_size(sim, job_id, size);
        if size > uploads::S3_METADATA_LIMIT {
            return aws_error(
                Service::S3,
                StatusCode::BAD_REQUEST,
                "MetadataTooLarge",
                uploads::METADATA_TOO_LARGE,
            );
        }
    }
    let response = match forward(&door, &parts, body).await {
        Ok(r) => r,
        Err(e) => {
            log::error!("forwarding {} to the AWS backend: {e}", call.counter());
            return aws_error(
                call.service,
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "the simulator's AWS backend did not answer",
            );
        }
    };
    if call.operation == "PutObject" && response.status().is_success() {
        uploads::stored(sim, job_id, &call.bucket, &call.key, &parts.headers).await;
    }
    response
}

async fn forward(
    door: &Door,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    if let Some(backend) = &door.embedded {
        let request = Request::from_parts(parts.clone(), Body::from(body));
        // A router's error type is Infallible.
        return Ok(match backend.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        });
    }
    let url = format!(
        "{}{}",
        door.sim.moto_url,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut request = door.http.request(parts.method.clone(), url).body(body);
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let reply = request.send().await?;
    let status = reply.status();
    let headers = reply.headers().clone();
    let bytes = reply.bytes().await?;
    let mut response = Response::builder().status(status);
    for (name, value) in &headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            response = response.header(name, value);
        }
    }
    // Status and headers came from a valid HTTP response, so the builder cannot fail.
    Ok(response
        .body(Body::from(bytes))
        .expect("valid response parts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_access_key_and_service_of_a_sigv4_header() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261128/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            credential(&headers, ""),
            Some(("AKIAEXAMPLE".into(), "sqs".into()))
        );
        let presigned = "X-Amz-Credential=AKIA2%2F20261128%2Fus-east-1%2Fs3%2Faws4_request";
        assert_eq!(
            credential(&HeaderMap::new(), presigned),
            Some(("AKIA2".into(), "s3".into()))
        );
    }

    #[test]
    fn classifies_s3_and_both_sqs_protocols() {
        let h = HeaderMap::new();
        let put = classify(
            &Method::PUT,
            "/tiles.b/abc%26d",
            "x-id=PutObject",
            &h,
            b"",
            "s3",
        );
        assert_eq!(
            (
                put.operation.as_str(),
                put.bucket.as_str(),
                put.key.as_str()
            ),
            ("PutObject", "tiles.b", "abc&d")
        );
        assert_eq!(put.target(), "s3.put");
        let query = classify(
            &Method::POST,
            "/",
            "",
            &h,
            b"Action=ChangeMessageVisibility&QueueUrl=http%3A%2F%2F127.0.0.1%3A1%2F123456789012%2Fq-upload&Version=2012-11-05",
            "sqs",
        );
        assert_eq!(
            (
                query.service,
                query.operation.as_str(),
                query.queue.as_str()
            ),
            (Service::SqsQuery, "ChangeMessageVisibility", "q-upload")
        );
        let mut json_headers = HeaderMap::new();
        json_headers.insert("x-amz-target", "AmazonSQS.ReceiveMessage".parse().unwrap());
        let json = classify(
            &Method::POST,
            "/",
            "",
            &json_headers,
            br#"{"QueueUrl":"http://h/1/q-up"}"#,
            "sqs",
        );
        assert_eq!(
            (json.service, json.operation.as_str(), json.queue.as_str()),
            (Service::SqsJson, "ReceiveMessage", "q-up")
        );
        assert_eq!(json.target(), "sqs.receive");
    }
}
