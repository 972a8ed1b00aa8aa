//! One job against the simulator, for every test module: write its config, run `boss-ingest`
//! on it (to the end with [`run`], or in the background with [`Running`]), read the job id it
//! prints, create a job without the client ([`create_job`]) and read voxels back through the
//! cutout API ([`cutout`]). Config builders live with the kind of job they build
//! ([`super::boss::tile_config`], [`super::volumetric::config`]).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::cmd::{Cmd, Output};
use super::sim::SimHandle;

/// What "Created ingest job N (...); keep this id to resume: boss-ingest <config> -j N" starts
/// its id with.
const RESUME_MARKER: &str = "keep this id to resume: boss-ingest ";

/// Writes `config` as `<dir>/job.json`.
pub fn write_config(dir: &Path, config: &Value) -> PathBuf {
    let path = dir.join("job.json");
    std::fs::write(&path, serde_json::to_string_pretty(config).expect("JSON")).expect("write");
    path
}

/// `boss-ingest <config> -f` pointed at the simulator, with short receive waits and 2 workers.
pub fn ingest(sim: &SimHandle, config: &Path) -> Cmd {
    ingest_with_workers(sim, config, 2)
}

/// [`ingest`] with `workers` workers (`-p`).
pub fn ingest_with_workers(sim: &SimHandle, config: &Path, workers: u32) -> Cmd {
    Cmd::boss_ingest()
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("INTERN_TOKEN", &sim.token)
        .arg(config)
        .args(["-f", "--receive-wait-secs", "1", "-p", &workers.to_string()])
        .timeout(Duration::from_secs(300))
}

/// Runs a command on a blocking thread so the test's runtime keeps serving async calls.
pub async fn run(cmd: Cmd) -> Output {
    tokio::task::spawn_blocking(move || cmd.run())
        .await
        .expect("command thread")
}

/// The job id from "keep this id to resume: boss-ingest <config> -j <id>".
pub fn job_id(out: &Output) -> u64 {
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(RESUME_MARKER))
        .unwrap_or_else(|| panic!("no job id printed:\n{}", out.both()));
    id_of(line)
}

/// The raw voxels of box `[x0,x1) × [y0,y1) × [z0,z1)` through the cutout API (z, y, x C
/// order, little-endian). Asks for `application/blosc`, the cutout view's one raw-voxel
/// renderer (it has no octet-stream), and decompresses it.
pub async fn cutout(
    sim: &SimHandle,
    channel: &str,
    x: (u64, u64),
    y: (u64, u64),
    z: (u64, u64),
) -> Vec<u8> {
    let url = format!(
        "{}/v1/cutout/col/exp/{channel}/0/{}:{}/{}:{}/{}:{}/",
        sim.api, x.0, x.1, y.0, y.1, z.0, z.1
    );
    let reply = reqwest::Client::new()
        .get(&url)
        .header("Authorization", format!("Token {}", sim.token))
        .header("Accept", "application/blosc")
        .send()
        .await
        .expect("cutout request");
    assert!(reply.status().is_success(), "{url}: {reply:?}");
    let blosc = reply.bytes().await.expect("cutout body");
    boss_protocol::cuboid::decompress(&blosc)
        .unwrap_or_else(|e| panic!("{url}: the cutout is not blosc: {e}"))
}

/// Creates the job through the REST API, as another tool (or an earlier run) would.
pub async fn create_job(sim: &SimHandle, config: &Value) -> u64 {
    let reply: Value = reqwest::Client::new()
        .post(format!("{}/latest/ingest/", sim.api))
        .header("Authorization", format!("Token {}", sim.token))
        .json(config)
        .send()
        .await
        .expect("create request")
        .json()
        .await
        .expect("create answer is JSON");
    reply["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("create answered {reply}"))
}

/// Asserts that a run exited 0 with its job COMPLETE and a summary starting `uploaded` (e.g.
/// "Uploaded 40 tiles", "Uploaded 4 chunks as 16 cuboids"); returns the job id.
pub fn assert_complete(out: &Output, uploaded: &str) -> u64 {
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(out);
    assert!(
        out.stdout.contains(&format!("Job {job} is COMPLETE.")),
        "{}",
        out.both()
    );
    assert!(
        out.stdout.lines().any(|l| l.starts_with(uploaded)),
        "no summary line starting {uploaded:?}\n{}",
        out.both()
    );
    job
}

/// The id in a "... -j <id>" line (a resume command may go on after it, e.g. `--follow`).
fn id_of(line: &str) -> u64 {
    line.rsplit(" -j ")
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the job id from {line:?}"))
}

/// A command running in the background whose stdout is read line by line as it runs, for tests
/// that watch or signal it. Both streams are read to the end on their own threads, so the child
/// never blocks on (or writes into) a closed pipe.
pub struct Running {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
    /// The command's `HOME`, kept until it has ended.
    _home: tempfile::TempDir,
}

impl Running {
    /// Starts `command` (whose `HOME` is `home`) with both streams piped.
    pub(super) fn spawn(mut command: std::process::Command, home: tempfile::TempDir) -> Running {
        use std::process::Stdio;
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
        let out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        let stdout = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(out).lines() {
                let line = line.expect("stdout line");
                let _ = tx.send(line.clone());
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = err.read_to_string(&mut all);
            all
        });
        Running {
            child,
            lines,
            stdout,
            stderr,
            _home: home,
        }
    }

    /// Waits for the first line printed from now on that contains `marker`.
    pub async fn line_with(&mut self, marker: &'static str) -> String {
        let lines = std::mem::replace(&mut self.lines, mpsc::channel().1);
        let (line, lines) = tokio::task::spawn_blocking(move || {
            let line = lines
                .iter()
                .find(|l| l.contains(marker))
                .unwrap_or_else(|| panic!("the command ended without printing {marker:?}"));
            (line, lines)
        })
        .await
        .expect("line reader");
        self.lines = lines;
        line
    }

    /// The id of the job it created.
    pub async fn job_id(&mut self) -> u64 {
        id_of(&self.line_with(RESUME_MARKER).await)
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("child status").is_none()
    }

    /// Waits until the sim has stored `at_least` tiles of `job`, while the run goes on.
    pub async fn wait_for_stored(&mut self, sim: &SimHandle, job: u64, at_least: u64) {
        loop {
            let stored = sim.stats(job).await["tiles_stored"].as_u64().unwrap_or(0);
            if stored >= at_least {
                return;
            }
            assert!(self.is_running(), "finished before it could be signalled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` (`INT`, `TERM`) to the process by its PID.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the end: the exit code and all it printed.
    pub async fn finish(self) -> Output {
        let Running {
            mut child,
            stdout,
            stderr,
            ..
        } = self;
        let code = tokio::task::spawn_blocking(move || child.wait().expect("wait").code())
            .await
            .expect("waiting thread");
        Output {
            code,
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }
}
