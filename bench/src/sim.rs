//! One boss-sim per client run, so every run starts from the same empty service: no queue or
//! bucket left over from the previous client can slow it down, and the only job is job 1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Which AWS side the simulator serves from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `boss-sim --embedded-aws`: S3 and SQS inside the simulator.
    Embedded,
    /// `boss-sim --moto-command PATH`: moto, one Python process.
    Moto(PathBuf),
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Moto(_) => "moto",
        }
    }
}

/// Whether this boss-sim has the embedded backend.
pub fn has_embedded(sim: &Path) -> bool {
    Command::new(sim)
        .arg("--help")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("--embedded-aws"))
        .unwrap_or(false)
}

/// A running simulator; stopped (stdin closed, then killed) when dropped.
pub struct Sim {
    child: Child,
    stdin: Option<ChildStdin>,
    pub api: String,
    pub aws: String,
    pub token: String,
    http: reqwest::Client,
}

impl Sim {
    /// Starts a simulator with its data under `work`; `extra` flags (faults, credential
    /// lifetime, visibility timeout) come after the benchmark's own.
    pub fn start(binary: &Path, backend: &Backend, work: &Path, extra: &[String]) -> Result<Sim> {
        let data = work.join("sim-data");
        std::fs::create_dir_all(&data)?;
        let mut cmd = Command::new(binary);
        match backend {
            Backend::Embedded => cmd.arg("--embedded-aws"),
            Backend::Moto(moto) => cmd.arg("--moto-command").arg(moto),
        };
        // A short PREPARING and WAIT_ON_QUEUES keep the service's fixed delays out of the run;
        // the upload window (first to last PutObject) never contains them anyway.
        cmd.args(["--prepare-secs", "1", "--wait-on-queues-secs", "2"])
            .arg("--data-dir")
            .arg(&data)
            .arg("--exit-on-stdin-close")
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(work.join("sim.log"))?);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("boss-sim stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim().is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "boss-sim did not start; its log: {}",
                std::fs::read_to_string(work.join("sim.log")).unwrap_or_default()
            );
        }
        let endpoints: Value = serde_json::from_str(line.trim())
            .with_context(|| format!("boss-sim's first line is not JSON: {line}"))?;
        let field = |k: &str| -> Result<String> {
            endpoints[k]
                .as_str()
                .map(str::to_string)
                .with_context(|| format!("boss-sim's first line has no {k}: {line}"))
        };
        Ok(Sim {
            api: field("api")?,
            aws: field("aws")?,
            token: field("token")?,
            child,
            stdin,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        })
    }

    /// `host:port` of the REST API, for the config's `client.backend.host`.
    pub fn host(&self) -> &str {
        self.api.trim_start_matches("http://")
    }

    /// `GET /sim/jobs/{id}`: the job's state, stored tiles, upload window and request counts.
    pub async fn job(&self, id: u64) -> Result<Value> {
        let url = format!("{}/sim/jobs/{id}", self.api);
        let resp = self.http.get(&url).send().await?;
        if !resp.status().is_success() {
            bail!("{url}: {}", resp.status());
        }
        Ok(resp.json().await?)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // Closing stdin asks for a clean stop (which also stops a moto it started).
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
