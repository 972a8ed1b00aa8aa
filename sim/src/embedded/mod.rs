//! The embedded AWS backend (`--embedded-aws`): S3 and SQS inside the simulator's process, in
//! place of moto, so a run needs no Python and stays fast with 100k-message queues.
//!
//! S3 is the `s3s` server framework over its filesystem store (`s3s-fs`), with objects under a
//! directory the simulator owns. SQS is our own ([`sqs`]). One router tells them apart the way
//! AWS endpoints do: `x-amz-target: AmazonSQS.*` is the SQS JSON protocol, a request signed for
//! `sqs` or a form with `Action=` is the SQS query protocol, everything else is S3.
//!
//! The backend sits where moto sat: it listens on its own loopback port (the simulator's own
//! calls and tests that look behind the front door use it), and the front door hands client
//! requests to the same router in-process after its checks. s3s verifies SigV4 (it must, to
//! decode signed `aws-chunked` uploads), so it looks secrets up through [`SecretLookup`]: the
//! simulator's own key and every key a join minted.

pub mod sqs;

use crate::wire::{credential, form_pairs, Service};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest request body accepted (a tile or a cuboid is far smaller).
const MAX_BODY: usize = 256 << 20;

/// The secret of an access key, if the key is known.
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("preparing the embedded S3 directory {}: {source}", dir.display())]
    S3Dir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("starting the embedded S3 on {}: {message}", dir.display())]
    S3 { dir: PathBuf, message: String },
}

struct Backend {
    s3: s3s::service::S3Service,
    sqs: sqs::Sqs,
}

struct Auth(SecretLookup);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for Auth {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        match (self.0)(access_key) {
            Some(secret) => Ok(secret.into()),
            None => Err(s3s::s3_error!(InvalidAccessKeyId)),
        }
    }
}

/// Builds the backend's router: S3 objects under `s3_dir`, queue URLs under `base_url`.
pub fn router(
    base_url: &str,
    s3_dir: &Path,
    secrets: SecretLookup,
) -> Result<Router, EmbeddedError> {
    std::fs::create_dir_all(s3_dir).map_err(|source| EmbeddedError::S3Dir {
        dir: s3_dir.to_path_buf(),
        source,
    })?;
    // s3s_fs::Error implements Debug only.
    let fs = s3s_fs::FileSystem::new(s3_dir).map_err(|e| EmbeddedError::S3 {
        dir: s3_dir.to_path_buf(),
        message: format!("{e:?}"),
    })?;
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(Auth(secrets));
    let backend = Arc::new(Backend {
        s3: builder.build(),
        sqs: sqs::Sqs::new(base_url),
    });
    Ok(Router::new().fallback(handle).with_state(backend))
}

/// Which protocol a request to the backend speaks (see the module notes).
fn protocol(request: &Request) -> Service {
    let headers = request.headers();
    if headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("AmazonSQS."))
    {
        return Service::SqsJson;
    }
    let query = request.uri().query().unwrap_or("");
    let signed_for_sqs = credential(headers, query).is_some_and(|(_, service)| service == "sqs");
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let action_in_query = form_pairs(query).iter().any(|(k, _)| k == "Action");
    if signed_for_sqs || (form && request.method() == "POST") || action_in_query {
        Service::SqsQuery
    } else {
        Service::S3
    }
}

async fn handle(State(backend): State<Arc<Backend>>, request: Request) -> Response {
    let service = protocol(&request);
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, e.to_string()).into_response(),
    };
    let path = parts.uri.path();
    match service {
        Service::SqsJson => {
            let operation = parts
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.strip_prefix("AmazonSQS."))
                .unwrap_or("")
                .to_string();
            let outcome = match sqs::request::parse_json(&operation, &body, path) {
                Ok(action) => backend.sqs.call(action).await,
                Err(e) => Err(e),
            };
            sqs::reply::render(service, &operation, outcome)
        }
        Service::SqsQuery => {
            let mut pairs = form_pairs(parts.uri.query().unwrap_or(""));
            pairs.extend(form_pairs(&String::from_utf8_lossy(&body)));
            let operation = pairs
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let outcome = match sqs::request::parse_query(pairs, path) {
                Ok(action) => backend.sqs.call(action).await,
                Err(e) => Err(e),
            };
            sqs::reply::render(service, &operation, outcome)
        }
        Service::S3 => {
            let request = axum::http::Request::from_parts(parts, s3s::Body::from(body));
            match backend.s3.call(request).await {
                Ok(response) => response.map(Body::new),
                Err(e) => {
                    log::error!("embedded S3: {e:?}");
                    (StatusCode::INTERNAL_SERVER_ERROR, "embedded S3 failed").into_response()
                }
            }
        }
    }
}
