//! One client run of one case: a fresh simulator, the client to the end, then the simulator's
//! account of the job (upload window, requests by operation) next to the client's CPU and memory.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::jobs::{self, Case};
use crate::measure::{self, Usage};
use crate::sim::{Backend, Sim};

/// The two clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    Ours,
    Python,
}

impl Client {
    pub fn name(self) -> &'static str {
        match self {
            Client::Ours => "boss-ingest",
            Client::Python => "python 0.12",
        }
    }
}

/// Where the binaries are.
pub struct Tools {
    pub ours: PathBuf,
    pub sim: PathBuf,
    pub python: Option<PathBuf>,
    pub backend: Backend,
}

/// Everything measured about one run.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub case: Case,
    pub client: Client,
    pub backend: String,
    pub processes: usize,
    pub tiles: u64,
    pub tiles_stored: u64,
    pub duplicate_tiles: u64,
    pub state: String,
    /// Tiles per second between the first and the last PutObject the simulator saw.
    pub tiles_per_sec: f64,
    pub upload_window_secs: f64,
    /// From the first PutObject to the moment the simulator's completion scan set COMPLETE
    /// (the chunk assembly behind the uploads included); `None` if it never did.
    pub first_upload_to_complete_secs: Option<f64>,
    /// Wall time outside the upload window: job creation, the service's waits, and the Python
    /// client's 10 s sleeps whenever the queue looks empty.
    pub outside_window_secs: f64,
    pub cpu_ms_per_tile: f64,
    pub usage: Usage,
    pub aws_requests_per_tile: f64,
    pub aws_per_tile_by_operation: BTreeMap<String, f64>,
    pub rest_requests_per_tile: f64,
    pub rest_per_tile_by_endpoint: BTreeMap<String, f64>,
}

impl RunResult {
    /// CPU of the client's whole process tree over the run, in ms.
    pub fn cpu_ms(&self) -> f64 {
        (self.usage.user_secs + self.usage.sys_secs) * 1000.0
    }
}

/// One run to make.
pub struct Spec<'a> {
    pub client: Client,
    pub case: Case,
    /// Tiles asked for (the job may round up, see [`jobs::tile_count`]).
    pub tiles: u64,
    /// `-p` of the client.
    pub processes: usize,
    /// The source stack.
    pub stack: &'a Path,
    /// This run's scratch directory (emptied first).
    pub work: &'a Path,
    /// The client is killed after this long and the run fails.
    pub limit: Duration,
}

/// Runs one client on one case against a fresh simulator.
pub async fn run(tools: &Tools, spec: Spec<'_>) -> Result<RunResult> {
    let Spec {
        client,
        case,
        tiles,
        processes,
        stack,
        work,
        limit,
    } = spec;
    if work.exists() {
        std::fs::remove_dir_all(work)?;
    }
    std::fs::create_dir_all(work.join("home"))?;
    let sim = Sim::start(&tools.sim, &tools.backend, work, &[])?;
    let config = jobs::config(case, tiles, sim.host(), stack);
    let config_path = work.join("job.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;

    let mut cmd = match client {
        Client::Ours => {
            let mut c = Command::new(&tools.ours);
            c.arg(&config_path)
                .args(["-f", "-p", &processes.to_string(), "--progress", "log"])
                .arg("-l")
                .arg(work.join("client.log"));
            c
        }
        Client::Python => {
            let python = tools.python.as_ref().context(
                "the Python reference client is not installed (scripts/install-tools python-client)",
            )?;
            let mut c = Command::new(python);
            c.args(["-f", "-p", &processes.to_string()])
                .arg(&config_path);
            c
        }
    };
    cmd.env("INTERN_TOKEN", &sim.token)
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("HOME", work.join("home"))
        .current_dir(work)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(work.join("client.out"))?)
        .stderr(std::fs::File::create(work.join("client.err"))?)
        // Its own process group, so a run over its time limit is killed with all its workers.
        .process_group(0);
    let usage = measure::run(cmd, limit)
        .with_context(|| format!("{} on {} ({})", client.name(), case.name(), work.display()))?;

    let job = sim.job(1).await?;
    let state = job["state"].as_str().unwrap_or("?").to_string();
    let stored = job["tiles_stored"].as_u64().unwrap_or(0);
    let expected = jobs::tile_count(case, tiles);
    if usage.exit_code != Some(0) || stored < expected {
        let tail = |name: &str| {
            let text = std::fs::read_to_string(work.join(name)).unwrap_or_default();
            let start = text.len().saturating_sub(2000);
            text[text.floor_char_boundary(start)..].to_string()
        };
        bail!(
            "{} on {}: exit {:?}, job {state}, {stored} of {expected} tiles stored\n--- stdout\n{}\n--- stderr\n{}",
            client.name(),
            case.name(),
            usage.exit_code,
            tail("client.out"),
            tail("client.err")
        );
    }
    let (first, last) = (
        job["first_upload"].as_f64().unwrap_or(0.0),
        job["last_upload"].as_f64().unwrap_or(0.0),
    );
    let window = last - first;
    let to_complete = job["completed_at"].as_f64().map(|done| done - first);
    let per_tile = |map: &Value| -> BTreeMap<String, f64> {
        map.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0) / stored as f64))
                    .collect()
            })
            .unwrap_or_default()
    };
    let aws = per_tile(&job["aws_requests"]);
    let mut rest = per_tile(&job["rest_requests"]);
    // Job creation is counted outside the job (it has no id yet); this simulator served only
    // this client, so everything it counted there is this run's.
    if let Ok(global) = sim_global(&sim).await {
        for (k, v) in per_tile(&global["rest_requests"]) {
            *rest.entry(k).or_default() += v;
        }
    }
    let cpu = usage.user_secs + usage.sys_secs;
    Ok(RunResult {
        case,
        client,
        backend: tools.backend.name().to_string(),
        processes,
        tiles: expected,
        tiles_stored: stored,
        duplicate_tiles: job["duplicate_tiles"].as_u64().unwrap_or(0),
        state,
        tiles_per_sec: if window > 0.0 {
            (stored.saturating_sub(1)) as f64 / window
        } else {
            0.0
        },
        upload_window_secs: window,
        first_upload_to_complete_secs: to_complete,
        outside_window_secs: usage.wall_secs - window,
        cpu_ms_per_tile: cpu / stored as f64 * 1000.0,
        aws_requests_per_tile: aws.values().sum(),
        aws_per_tile_by_operation: aws,
        rest_requests_per_tile: rest.values().sum(),
        rest_per_tile_by_endpoint: rest,
        usage,
    })
}

async fn sim_global(sim: &Sim) -> Result<Value> {
    let resp = reqwest::get(format!("{}/sim/stats", sim.api)).await?;
    Ok(resp.json().await?)
}
