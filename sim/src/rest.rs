//! The Boss REST API (protocol §2): create, join, status, complete, cancel and cutout under both
//! `/latest` and `/v1`, with or without a trailing slash, plus the simulator's own `/sim/...`
//! endpoints (job statistics, run-time faults).
//!
//! Bodies, status codes and state changes follow the service, including its odd answers: a join
//! of a COMPLETE job has no credentials, "Upload queue is not empty" has no `wait_secs`, and a
//! second cancel is a 400 system error.

// Handlers bail out with a finished error `Response` (`Result<_, Response>` + early return);
// boxing it would only add noise, the error path is not hot.
#![allow(clippy::result_large_err)]

use crate::faults::FaultSpec;
use crate::job_config::{self, JobRequest};
use crate::plan::{JobPlan, Span};
use crate::resources::Missing;
use crate::service;
use crate::state::{bump, Job, JobQueues, JobStats, PendingChunk, Queue, Sim};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use boss_protocol::api::{self, codes, BossError, CompleteBody, CreateResponse};
use boss_protocol::cuboid;
use boss_protocol::status::{IngestType, JobStatus};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

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
    router
        .route("/sim/jobs/{id}", get(job_stats))
        .route("/sim/jobs/{id}/tiles", get(tile_puts))
        .route("/sim/jobs/{id}/pause", post(pause))
        .route("/sim/jobs/{id}/resume", post(resume))
        .route("/sim/info", get(info))
        .route("/sim/stats", get(global_stats))
        .route("/sim/faults", put(set_faults).get(get_faults))
        .with_state(sim)
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

/// Looks a job up for `user`: 404 4004 if unknown, 403 3003 if someone else's.
fn owned<'a>(
    jobs: &'a mut std::collections::BTreeMap<u64, Job>,
    id: u64,
    user: &str,
) -> Result<&'a mut Job, Response> {
    let Some(job) = jobs.get_mut(&id) else {
        return Err(boss_error(
            StatusCode::NOT_FOUND,
            codes::JOB_NOT_FOUND,
            format!("Ingest job with id {id} not found"),
        ));
    };
    if job.owner != user {
        return Err(boss_error(
            StatusCode::FORBIDDEN,
            codes::NOT_CREATOR,
            format!("Only the creator of ingest job {id} can use it"),
        ));
    }
    Ok(job)
}

fn deleted(id: u64) -> Response {
    boss_error(
        StatusCode::NOT_FOUND,
        codes::JOB_DELETED,
        format!("Ingest job {id} has been deleted"),
    )
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
    let request = match job_config::validate(&config) {
        Ok(r) => r,
        Err(problem) => {
            return boss_error(
                StatusCode::BAD_REQUEST,
                codes::SCHEMA_VALIDATION,
                format!("Could not validate the schema: {problem}"),
            )
        }
    };
    let channel =
        match sim
            .resources
            .channel(&request.collection, &request.experiment, &request.channel)
        {
            Ok(c) => c.clone(),
            Err(missing) => {
                let message = match missing {
                    Missing::Collection(n) => format!("Collection {n} not found"),
                    Missing::Experiment(n) => format!("Experiment {n} not found"),
                    Missing::Channel(n) => format!("Channel {n} not found"),
                };
                return boss_error(StatusCode::NOT_FOUND, codes::RESOURCE_NOT_FOUND, message);
            }
        };
    let plan = plan_for(&request, &channel);
    let id = {
        let mut inner = sim.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        id
    };
    let queues = match create_queues(&sim, id, request.ingest_type).await {
        Ok(q) => q,
        Err(e) => {
            log::error!("job {id}: creating queues failed: {e}");
            return boss_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::SYSTEM_ERROR,
                format!("Could not create the queues of ingest job {id}: {e}"),
            );
        }
    };
    let job = Job {
        id,
        owner: user,
        channel,
        plan,
        status: JobStatus::Preparing,
        created: Instant::now(),
        filled: false,
        queues,
        wait_started: None,
        uploaded_tiles: HashSet::new(),
        pending: HashMap::<String, PendingChunk>::new(),
        assembled: HashSet::new(),
        tile_puts: Default::default(),
        stats: JobStats::default(),
        paused: false,
    };
    let response = CreateResponse {
        id,
        collection: request.collection.clone(),
        experiment: request.experiment.clone(),
        channel: request.channel.clone(),
        status: JobStatus::Preparing,
        ingest_queue: job.queues.ingest.as_ref().map(|q| q.public_url.clone()),
        upload_queue: Some(job.queues.upload.public_url.clone()),
        tile_count: job.tile_count(),
        ingest_type: request.ingest_type,
    };
    let mut job = job;
    // Counted before the job existed (globally); it belongs to the job.
    bump(&mut job.stats.rest_requests, "create");
    sim.lock().jobs.insert(id, job);
    log::info!(
        "job {id}: created ({} {} messages)",
        request.ingest_type,
        response.tile_count
    );
    service::spawn_job(sim.clone(), id);
    (StatusCode::CREATED, Json(response)).into_response()
}

fn plan_for(request: &JobRequest, channel: &crate::resources::Channel) -> JobPlan {
    let span = |(start, stop): (u64, u64)| Span { start, stop };
    let [x, y, z, t] = request.extent;
    let (step_x, step_y, step_z, step_t) = match (request.tile_size, request.chunk_size) {
        (Some((tx, ty, tt)), _) => (tx, ty, 1, tt),
        (None, Some((cx, cy, cz))) => (cx, cy, cz, 1),
        // validate() always sets the size that matches the ingest type.
        (None, None) => (1, 1, 1, 1),
    };
    JobPlan {
        ingest_type: request.ingest_type,
        ids: channel.ids(),
        resolution: channel.base_resolution,
        x: span(x),
        y: span(y),
        z: span(z),
        t: span(t),
        step_x,
        step_y,
        step_z,
        step_t,
    }
}

async fn create_queues(
    sim: &Sim,
    id: u64,
    kind: IngestType,
) -> Result<JobQueues, crate::aws::AwsError> {
    let make = |suffix: &str| format!("boss-sim-{}-{id}-{suffix}", sim.tag);
    let queue = |name: String| async move {
        let moto_url = sim
            .admin
            .create_queue(&name, sim.timing.visibility_timeout_secs)
            .await?;
        Ok::<_, crate::aws::AwsError>(Queue {
            public_url: sim.public_queue_url(&moto_url),
            name,
            moto_url,
        })
    };
    let upload = queue(make("upload")).await?;
    if kind == IngestType::Volumetric {
        return Ok(JobQueues {
            upload,
            tile_index: None,
            ingest: None,
            tile_error: None,
        });
    }
    Ok(JobQueues {
        upload,
        tile_index: Some(queue(make("tile-index")).await?),
        ingest: Some(queue(make("ingest")).await?),
        tile_error: Some(queue(make("tile-error")).await?),
    })
}

fn job_info(job: &Job) -> Value {
    let open = !matches!(job.status, JobStatus::Complete | JobStatus::Deleted);
    let url = |q: &Option<Queue>| q.as_ref().filter(|_| open).map(|q| q.public_url.clone());
    json!({
        "id": job.id,
        "collection": job.channel.collection,
        "experiment": job.channel.experiment,
        "channel": job.channel.channel,
        "status": job.status,
        "ingest_queue": url(&job.queues.ingest),
        "upload_queue": open.then(|| job.queues.upload.public_url.clone()),
        "tile_count": job.tile_count(),
        "ingest_type": job.ingest_type(),
        "tile_index_queue": url(&job.queues.tile_index),
    })
}

async fn join(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "join", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    let needs_keys = {
        let mut inner = sim.lock();
        let job = match owned(&mut inner.jobs, id, &user) {
            Ok(j) => j,
            Err(r) => return r,
        };
        if job.status == JobStatus::Deleted {
            return deleted(id);
        }
        if job.status == JobStatus::Preparing
            && job.filled
            && job.created.elapsed() >= sim.timing.prepare
        {
            job.status = JobStatus::Uploading;
            log::info!("job {id}: UPLOADING");
        }
        job.status.has_credentials()
    };
    let credentials = needs_keys.then(|| {
        let (access_key, secret_key) = sim.mint(id);
        api::Credentials {
            access_key,
            secret_key,
            security_token: None,
        }
    });
    let inner = sim.lock();
    let Some(job) = inner.jobs.get(&id) else {
        return deleted(id);
    };
    let mut body = json!({ "ingest_job": job_info(job) });
    if let Some(credentials) = credentials {
        let c = &job.channel;
        body["credentials"] = json!(credentials);
        body["tile_bucket_name"] = json!(sim.tile_bucket);
        body["ingest_bucket_name"] = json!(sim.ingest_bucket);
        // Kept small: the client copies these into every tile's 2 KiB of S3 metadata.
        body["KVIO_SETTINGS"] = json!({"cache_host": "cache.boss-sim.local", "cache_db": "0"});
        body["STATEIO_CONFIG"] =
            json!({"cache_state_host": "cache-state.boss-sim.local", "cache_state_db": "0"});
        body["OBJECTIO_CONFIG"] = json!({"s3_flush_queue": "", "cuboid_bucket": "cuboids.boss-sim.local", "page_in_lambda_function": "", "page_out_lambda_function": "", "s3_index_table": "", "id_index_table": "", "id_count_table": ""});
        body["resource"] = json!({
            "boss_key": format!("{}&{}&{}", c.collection, c.experiment, c.channel),
            "lookup_key": c.ids().to_string(),
            "channel": {"type": "image", "datatype": c.datatype.name(), "base_resolution": c.base_resolution},
            "experiment": {"num_hierarchy_levels": 1, "hierarchy_method": "anisotropic"},
            "coord_frame": {"x_voxel_size": 1.0, "y_voxel_size": 1.0, "z_voxel_size": 1.0},
        });
        body["ingest_lambda"] = json!("deprecated");
    }
    Json(body).into_response()
}

async fn status(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "status", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    let (status, total, upload) = {
        let mut inner = sim.lock();
        let job = match owned(&mut inner.jobs, id, &user) {
            Ok(j) => j,
            Err(r) => return r,
        };
        if job.status == JobStatus::Deleted {
            return deleted(id);
        }
        (
            job.status,
            job.tile_count(),
            job.queues.upload.moto_url.clone(),
        )
    };
    let current = if status == JobStatus::Complete {
        0
    } else {
        sim.admin.depth(&upload).await.map(|d| d.0).unwrap_or(0)
    };
    Json(api::StatusResponse {
        id,
        status,
        total_message_count: total,
        current_message_count: current,
    })
    .into_response()
}

async fn complete(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "complete", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    {
        let mut inner = sim.lock();
        if let Err(r) = owned(&mut inner.jobs, id, &user) {
            return r;
        }
    }
    match service::complete(&sim, id).await {
        Ok(answer) => answer.into_response(),
        Err(e) => {
            log::error!("job {id}: complete failed: {e}");
            boss_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::SYSTEM_ERROR,
                format!("Could not complete ingest job {id}: {e}"),
            )
        }
    }
}

/// What the complete endpoint answers.
pub enum CompleteAnswer {
    /// 204, empty body.
    Done,
    /// 202 or 400 with a `{job_status, wait_secs, info}` body.
    Body(StatusCode, CompleteBody),
    /// 400 code 1006 with a message.
    Refused(String),
}

impl IntoResponse for CompleteAnswer {
    fn into_response(self) -> Response {
        match self {
            CompleteAnswer::Done => StatusCode::NO_CONTENT.into_response(),
            CompleteAnswer::Body(status, body) => (status, Json(body)).into_response(),
            CompleteAnswer::Refused(message) => {
                boss_error(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
            }
        }
    }
}

async fn cancel(State(sim): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let (id, user) = match job_caller(&sim, "cancel", &raw, &headers).await {
        Ok(caller) => caller,
        Err(r) => return r,
    };
    let queues = {
        let mut inner = sim.lock();
        let job = match owned(&mut inner.jobs, id, &user) {
            Ok(j) => j,
            Err(r) => return r,
        };
        if job.status == JobStatus::Deleted {
            return boss_error(
                StatusCode::BAD_REQUEST,
                codes::SYSTEM_ERROR,
                format!("Ingest job {id} is already deleted"),
            );
        }
        let was_complete = job.status == JobStatus::Complete;
        job.status = JobStatus::Deleted;
        let queues = job.queues.clone();
        Sim::revoke(&mut inner, id);
        (!was_complete).then_some(queues)
    };
    log::info!("job {id}: DELETED");
    if let Some(queues) = queues {
        service::delete_queues(&sim, &queues).await;
    }
    StatusCode::NO_CONTENT.into_response()
}

fn range(raw: &str) -> Option<(u64, u64)> {
    let (a, b) = raw.split_once(':')?;
    let (a, b) = (a.parse().ok()?, b.parse().ok()?);
    (a < b).then_some((a, b))
}

async fn cutout(
    State(sim): Shared,
    headers: HeaderMap,
    Path((col, exp, ch, res, x, y, z)): Path<(String, String, String, u64, String, String, String)>,
) -> Response {
    if let Err(r) = admit(&sim, "cutout", None).await {
        return r;
    }
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
    let raw_wanted = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    let sim2 = sim.clone();
    let dtype = channel.datatype;
    let read = tokio::task::spawn_blocking(move || {
        sim2.store.read_region(channel.ids(), res, 0, dtype, region)
    })
    .await;
    match read {
        Ok(Ok(bytes)) if raw_wanted => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
        }
        Ok(Ok(bytes)) => (
            [(header::CONTENT_TYPE, "application/blosc")],
            cuboid::compress(&bytes, dtype),
        )
            .into_response(),
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

async fn job_stats(State(sim): Shared, Path(raw): Path<String>) -> Response {
    let Ok(id) = raw.parse::<u64>() else {
        return detail(StatusCode::NOT_FOUND, format!("no job {raw:?}"));
    };
    let inner = sim.lock();
    let Some(job) = inner.jobs.get(&id) else {
        return detail(StatusCode::NOT_FOUND, format!("no job {id}"));
    };
    let mut body = serde_json::to_value(&job.stats).unwrap_or(Value::Null);
    body["id"] = json!(id);
    body["state"] = json!(job.status.to_string());
    body["status"] = json!(job.status);
    body["tile_count"] = json!(job.tile_count());
    body["pending_chunks"] = json!(job.pending.len());
    Json(body).into_response()
}

async fn set_faults(State(sim): Shared, body: String) -> Response {
    match FaultSpec::parse(body.trim()) {
        Ok(spec) => {
            sim.faults.replace(spec.clone());
            Json(spec).into_response()
        }
        Err(e) => detail(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn get_faults(State(sim): Shared) -> Response {
    Json(sim.faults.spec()).into_response()
}

/// `GET /sim/jobs/{id}/tiles`: how often each tile was stored (PutObject through the front door).
async fn tile_puts(State(sim): Shared, Path(raw): Path<String>) -> Response {
    let inner = sim.lock();
    match raw.parse::<u64>().ok().and_then(|id| inner.jobs.get(&id)) {
        Some(job) => Json(&job.tile_puts).into_response(),
        None => detail(StatusCode::NOT_FOUND, format!("no job {raw:?}")),
    }
}

async fn set_paused(sim: &Sim, raw: &str, paused: bool) -> Response {
    let mut inner = sim.lock();
    match raw
        .parse::<u64>()
        .ok()
        .and_then(|id| inner.jobs.get_mut(&id))
    {
        Some(job) => {
            job.paused = paused;
            StatusCode::NO_CONTENT.into_response()
        }
        None => detail(StatusCode::NOT_FOUND, format!("no job {raw:?}")),
    }
}

/// `POST /sim/jobs/{id}/pause`: stop the job's service side (see `Job::paused`).
async fn pause(State(sim): Shared, Path(raw): Path<String>) -> Response {
    set_paused(&sim, &raw, true).await
}

async fn resume(State(sim): Shared, Path(raw): Path<String>) -> Response {
    set_paused(&sim, &raw, false).await
}

/// `GET /sim/stats`: requests that belong to no job (unknown ids, unknown keys, creates).
async fn global_stats(State(sim): Shared) -> Response {
    Json(&sim.lock().global).into_response()
}

/// `GET /sim/info`: where the simulator keeps things, for tests that inspect the backend directly
/// ("moto" is the backend's URL in either mode; the name is kept for existing callers).
async fn info(State(sim): Shared) -> Response {
    Json(json!({
        "moto": sim.moto_url,
        "backend": sim.backend,
        "aws": sim.public_aws_url,
        "tile_bucket": sim.tile_bucket,
        "ingest_bucket": sim.ingest_bucket,
    }))
    .into_response()
}
