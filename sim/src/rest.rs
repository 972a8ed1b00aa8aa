//! The Boss REST API over HTTP (protocol §2): routing of create, join, status, complete, cancel
//! and cutout under both `/latest` and `/v1`, with or without a trailing slash; the token check;
//! and the mapping of `jobs`' answers and errors to the service's status codes and bodies. The
//! simulator's own `/sim/...` endpoints are merged in from `inspect`.
//!
//! The bodies are the real views' (boss `bossingest/views.py`, `bossspatialdb/views.py`),
//! including their odd answers: a PREPARING join carries every field with `credentials: null`,
//! a finished tile job cannot be joined or cancelled (400 9001: its queues are gone), "Upload
//! queue is not empty" has no `wait_secs`, and a cutout has no raw renderer (406).

// Handlers bail out with a finished error `Response` (`Result<_, Response>` + early return);
// boxing it would only add noise, the error path is not hot.
#![allow(clippy::result_large_err)]

use crate::cutout::{self, RenderError};
use crate::jobs::{self, Completion, JobError, Joined};
use crate::parameters;
use crate::state::{bump, Queue, Sim};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use boss_protocol::api::{self, codes, BossError, Credentials};
use boss_protocol::status::{IngestType, JobStatus};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Shared = State<Arc<Sim>>;

pub fn router(sim: Arc<Sim>) -> Router {
    let mut router = Router::new();
    for prefix in ["/latest", "/v1"] {
        for slash in ["", "/"] {
            router = router
                .route(&format!("{prefix}/ingest{slash}"), post(create))
                .route(
                    &format!("{prefix}/ingest/{{id}}{slash}"),
                    get(join).delete(cancel),
                )
                .route(
                    &format!("{prefix}/ingest/{{id}}/status{slash}"),
                    get(status),
                )
                .route(
                    &format!("{prefix}/ingest/{{id}}/complete{slash}"),
                    post(complete),
                )
                .route(
                    &format!(
                        "{prefix}/cutout/{{col}}/{{exp}}/{{ch}}/{{res}}/{{x}}/{{y}}/{{z}}{slash}"
                    ),
                    get(cutout),
                );
        }
    }
    router.merge(crate::inspect::router()).with_state(sim)
}

fn boss_error(status: StatusCode, code: u32, message: impl Into<String>) -> Response {
    (
        status,
        Json(BossError {
            status: status.as_u16(),
            code,
            message: message.into(),
        }),
    )
        .into_response()
}

fn detail(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": text.into() }))).into_response()
}

/// Checks `Authorization: Token <token>` and returns the user.
fn authenticate(sim: &Sim, headers: &HeaderMap) -> Result<String, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(detail(StatusCode::UNAUTHORIZED, api::NO_CREDENTIALS));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Token "))
        .map(str::trim);
    match token.and_then(|t| sim.resources.user(t)) {
        Some(user) => Ok(user.to_string()),
        None => Err(detail(StatusCode::UNAUTHORIZED, api::INVALID_TOKEN)),
    }
}

/// Counts the request, applies injected latency and faults.
async fn admit(sim: &Sim, endpoint: &str, job: Option<u64>) -> Result<(), Response> {
    let latency = sim.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = sim.faults.decide(&format!("api.{endpoint}"));
    let mut inner = sim.lock();
    let inner = &mut *inner;
    let stats = match job.and_then(|id| inner.jobs.get_mut(&id)) {
        Some(job) => (&mut job.stats.rest_requests, &mut job.stats.faults_injected),
        None => (
            &mut inner.global.rest_requests,
            &mut inner.global.faults_injected,
        ),
    };
    bump(stats.0, endpoint);
    if let Some(status) = fault {
        bump(stats.1, &format!("api.{endpoint}"));
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return Err(boss_error(
            status,
            codes::SYSTEM_ERROR,
            "Injected fault (boss-sim)",
        ));
    }
    Ok(())
}

/// The common start of every per-job endpoint, in the service's order: a well-formed job id,
/// then the request is admitted (counted, faults injected), then the token names a user.
async fn job_caller(
    sim: &Sim,
    endpoint: &str,
    raw: &str,
    headers: &HeaderMap,
) -> Result<(u64, String), Response> {
    let id = parse_id(raw)?;
    admit(sim, endpoint, Some(id)).await?;
    let user = authenticate(sim, headers)?;
    Ok((id, user))
}

fn parse_id(raw: &str) -> Result<u64, Response> {
    raw.parse().map_err(|_| {
        boss_error(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            format!("Ingest job {raw:?} not found"),
        )
    })
}

/// The service's status code and body for a refused operation.
fn job_error(error: JobError) -> Response {
    let (status, code) = match &error {
        JobError::Invalid(_) => (StatusCode::BAD_REQUEST, codes::SCHEMA_VALIDATION),
        JobError::MissingResource(_) => (StatusCode::NOT_FOUND, codes::RESOURCE_NOT_FOUND),
        JobError::NotFound(_) => (StatusCode::NOT_FOUND, codes::JOB_NOT_FOUND),
        JobError::NotCreator(_) => (StatusCode::FORBIDDEN, codes::NOT_CREATOR),
        JobError::Deleted(_) => (StatusCode::NOT_FOUND, codes::JOB_DELETED),
        JobError::Refused(_) => (StatusCode::BAD_REQUEST, codes::BAD_REQUEST),
        JobError::System(_) => (StatusCode::BAD_REQUEST, codes::SYSTEM_ERROR),
        JobError::Backend(_) => (StatusCode::INTERNAL_SERVER_ERROR, codes::SYSTEM_ERROR),
    };
    boss_error(status, code, error.to_string())
}

async fn create(State(sim): Shared, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = admit(&sim, "create", None).await {
        return r;
    }
    let user = match authenticate(&sim, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let config: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}")),
    };
    match jobs::create(&sim, &user, &config).await {
        Ok(created) => (StatusCode::CREATED, Json(created)).into_response(),
        Err(e) => job_error(e),
    }
}

/// `ingest_job` of a join answer: `IngestJobListSerializer`'s fields, then `tile_index_queue`.
#[derive(Serialize)]
struct JoinJob {
    id: u64,
    collection: String,
    experiment: String,
    channel: String,
    status: JobStatus,
    ingest_queue: Option<String>,
    upload_queue: Option<String>,
    tile_count: u64,
    ingest_type: IngestType,
    tile_index_queue: Option<String>,
}

/// The whole join answer of a live job (boss `IngestJobView.get`), keys in the view's order.
#[allow(non_snake_case)] // Field names are the wire's.
#[derive(Serialize)]
struct JoinAnswer {
    ingest_job: JoinJob,
    /// `null` while PREPARING.
    credentials: Option<Credentials>,
    tile_bucket_name: String,
    ingest_bucket_name: String,
    KVIO_SETTINGS: parameters::KvioSettings,
    STATEIO_CONFIG: parameters::StateioConfig,
    OBJECTIO_CONFIG: parameters::ObjectioConfig,
    resource: parameters::Resource,
    ingest_lambda: &'static str,
}

/// A finished (COMPLETE) volumetric job answers with `ingest_job` alone.
#[derive(Serialize)]
struct FinishedJoinAnswer {
    ingest_job: JoinJob,
}

fn join_job(job: &Joined) -> JoinJob {
    // Cleanup sets the stored queue URLs to null; the tile-index queue is looked up live.
    let open = !job.finished();
    let url = |q: &Option<Queue>| q.as_ref().filter(|_| open).map(|q| q.public_url.clone());
    JoinJob {
        id: job.id,
        collection: job.channel.collection.clone(),
        experiment: job.channel.experiment.clone(),
        channel: job.channel.channel.clone(),
        status: job.status,
        ingest_queue: url(&job.queues.ingest),
        upload_queue: url(&Some(job.queues.upload.clone())),
        tile_count: job.tile_count,
        ingest_type: job.plan.ingest_type,
        tile_index_queue: url(&job.queues.tile_index),
    }
}

async fn join(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "join", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    let job = match jobs::join(&sim, id, &user) {
        Ok(job) => job,
        Err(e) => return job_error(e),
    };
    if job.finished() {
        return Json(FinishedJoinAnswer {
            ingest_job: join_job(&job),
        })
        .into_response();
    }
    let p = parameters::service_parameters(&job.channel);
    Json(JoinAnswer {
        ingest_job: join_job(&job),
        credentials: job.credentials.clone(),
        tile_bucket_name: sim.tile_bucket.clone(),
        ingest_bucket_name: sim.ingest_bucket.clone(),
        KVIO_SETTINGS: p.kvio_settings,
        STATEIO_CONFIG: p.stateio_config,
        OBJECTIO_CONFIG: p.objectio_config,
        resource: p.resource,
        ingest_lambda: "deprecated",
    })
    .into_response()
}

async fn status(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "status", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    match jobs::status(&sim, id, &user).await {
        Ok(status) => Json(status).into_response(),
        Err(e) => job_error(e),
    }
}

async fn complete(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "complete", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    match jobs::complete(&sim, id, &user).await {
        Ok(Completion::Done) => StatusCode::NO_CONTENT.into_response(),
        Ok(Completion::Accepted(body)) => (StatusCode::ACCEPTED, Json(body)).into_response(),
        Ok(Completion::NotYet(body)) => (StatusCode::BAD_REQUEST, Json(body)).into_response(),
        Err(e) => job_error(e),
    }
}

async fn cancel(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "cancel", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    match jobs::cancel(&sim, id, &user).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => job_error(e),
    }
}

fn range(raw: &str) -> Option<(u64, u64)> {
    let (a, b) = raw.split_once(':')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}

/// Headers DRF adds to every answer of the cutout view.
const CUTOUT_HEADERS: [(header::HeaderName, &str); 2] = [
    (header::ALLOW, "GET, POST, HEAD, OPTIONS"),
    (header::VARY, "Accept"),
];

async fn cutout(
    State(sim): Shared,
    headers: HeaderMap,
    Path((col, exp, ch, res, x, y, z)): Path<(String, String, String, u64, String, String, String)>,
) -> Response {
    if let Err(r) = admit(&sim, "cutout", None).await {
        return r;
    }
    // DRF negotiates the renderer before it authenticates. No match: 406, where production
    // most likely fails to render its own refusal and answers 500 (see `cutout`).
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let Some(renderer) = cutout::negotiate(accept) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            CUTOUT_HEADERS,
            Json(json!({"detail": cutout::NOT_ACCEPTABLE})),
        )
            .into_response();
    };
    if let Err(r) = authenticate(&sim, &headers) {
        return r;
    }
    let channel = match sim.resources.channel(&col, &exp, &ch) {
        Ok(c) => c.clone(),
        Err(_) => {
            return boss_error(
                StatusCode::NOT_FOUND,
                codes::RESOURCE_NOT_FOUND,
                format!("Channel {col}/{exp}/{ch} not found"),
            )
        }
    };
    let (Some(x), Some(y), Some(z)) = (range(&x), range(&y), range(&z)) else {
        return boss_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "Ranges must be start:stop with start < stop",
        );
    };
    let region = crate::store::Region { x, y, z };
    // Bounded: the Boss refuses cutouts over ~500 MB uncompressed too.
    if region.voxels() * channel.datatype.size() as u64 > 1 << 30 {
        return boss_error(
            StatusCode::BAD_REQUEST,
            codes::BAD_REQUEST,
            "Cutout too large: request at most 1 GiB at a time",
        );
    }
    let sim2 = sim.clone();
    let dtype = channel.datatype;
    let shape = (z.1 - z.0, y.1 - y.0, x.1 - x.0);
    let rendered = tokio::task::spawn_blocking(move || {
        sim2.store
            .read_region(channel.ids(), res, 0, dtype, region)
            .map(|zyx| cutout::render(renderer, &zyx, dtype, shape))
    })
    .await;
    match rendered {
        Ok(Ok(Ok(body))) => (
            [(header::CONTENT_TYPE, renderer.media_type())],
            CUTOUT_HEADERS,
            body,
        )
            .into_response(),
        // The renderer's own error body: compact JSON, `status, message, code`.
        Ok(Ok(Err(e @ RenderError::JpegNeedsUint8))) => (
            StatusCode::BAD_REQUEST,
            CUTOUT_HEADERS,
            Json(json!({"status": 400, "message": e.to_string(), "code": 2001})),
        )
            .into_response(),
        Ok(Ok(Err(RenderError::Failed(e)))) => {
            log::warn!("cutout: the {} renderer failed: {e}", renderer.media_type());
            server_error()
        }
        Ok(Err(e)) => boss_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::SYSTEM_ERROR,
            e.to_string(),
        ),
        Err(e) => boss_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::SYSTEM_ERROR,
            e.to_string(),
        ),
    }
}

/// Django's answer to an exception in a view or renderer (DEBUG off).
fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/html")],
        "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n",
    )
        .into_response()
}
