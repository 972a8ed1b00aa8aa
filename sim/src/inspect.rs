//! The simulator's own `/sim/...` endpoints, which the real service has not: per-job and global
//! counters, how often each tile was stored, pausing a job's service side, run-time faults, and
//! where the backend keeps things. Tests use them to assert exact outcomes.

use crate::faults::FaultSpec;
use crate::state::Sim;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

type Shared = State<Arc<Sim>>;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/sim/jobs/{id}", get(job_stats))
        .route("/sim/jobs/{id}/tiles", get(tile_puts))
        .route("/sim/jobs/{id}/pause", post(pause))
        .route("/sim/jobs/{id}/resume", post(resume))
        .route("/sim/info", get(info))
        .route("/sim/stats", get(global_stats))
        .route("/sim/faults", put(set_faults).get(get_faults))
}

fn detail(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": text.into() }))).into_response()
}

/// `GET /sim/jobs/{id}`: the job's counters, state and pending chunks.
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
