//! A running `boss-sim` for a test: the real binary on free ports, with its embedded AWS backend
//! or with moto ([`Backend`]), stopped (with its moto) when the handle is dropped.
//!
//! The binary is found next to the test executable (`target/<profile>/boss-sim`); `cargo test`
//! does not build other packages' binaries, so `scripts/test` runs `cargo build --workspace
//! --bins` first (or set `BOSS_SIM_BIN`). moto comes from `scripts/install-tools moto`.
//! The simulator's stdin is a pipe held by the handle and it runs with `--exit-on-stdin-close`,
//! so even a test process that dies without unwinding takes the simulator and moto with it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Which S3/SQS the simulator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `--embedded-aws`: in-process S3 (s3s) and SQS; fast, no Python.
    Embedded,
    /// moto_server, started by the simulator (or `aws_backend`): the fidelity reference.
    Moto,
}

/// Command-line settings of a test simulator. Defaults suit tests: no PREPARING delay, a
/// one-second WAIT_ON_QUEUES, and the backend named by `BOSS_SIM_BACKEND` ([`default_backend`]).
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Ignored when `moto_command` or `aws_backend` is set (those are moto).
    pub backend: Backend,
    pub prepare_secs: f64,
    pub wait_on_queues_secs: f64,
    pub credential_ttl_secs: Option<f64>,
    /// Upload-queue visibility timeout (the service's is 120 s).
    pub visibility_timeout_secs: u32,
    pub faults: Option<String>,
    pub seed: u64,
    pub resources: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub port: u16,
    pub aws_port: u16,
    /// moto_server to start; `None` = the installed one ([`moto_command`]).
    pub moto_command: Option<String>,
    /// Use this already running S3/SQS server (`--aws-backend`) instead of starting moto.
    pub aws_backend: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            backend: default_backend(),
            prepare_secs: 0.0,
            wait_on_queues_secs: 1.0,
            credential_ttl_secs: None,
            visibility_timeout_secs: 120,
            faults: None,
            seed: 0,
            resources: None,
            data_dir: None,
            port: 0,
            aws_port: 0,
            moto_command: None,
            aws_backend: None,
        }
    }
}

impl SimOptions {
    /// The defaults on the given backend.
    pub fn on(backend: Backend) -> SimOptions {
        SimOptions {
            backend,
            ..SimOptions::default()
        }
    }
}

/// The backend tests use unless they choose: the embedded one (fast, no Python), or moto with
/// `BOSS_SIM_BACKEND=moto`. The simulator's parity tests and the fidelity test choose explicitly.
pub fn default_backend() -> Backend {
    match std::env::var("BOSS_SIM_BACKEND").as_deref() {
        Ok("moto") => Backend::Moto,
        _ => Backend::Embedded,
    }
}

/// The counters of `GET /sim/jobs/{id}` that count data BossDB would lose or never ingest: a
/// job that completed cleanly has 0 of each.
pub const LOSSES: [&str; 9] = [
    // Chunks none of whose tiles was indexed: the real scan never sees them.
    "chunks_lost_on_bossdb",
    // Tiles without message_id/receipt_handle, or without the tile size in their metadata.
    "tiles_missing_metadata",
    "tiles_bad_metadata",
    // Tile-index messages the indexing lambda cannot use.
    "tile_index_rejected",
    // Chunk ingests that failed, were abandoned, or wrote to another channel.
    "chunk_ingest_errors",
    "chunks_aborted",
    "chunks_misdirected",
    // Volumetric cuboids not imported, or not whole.
    "cuboids_not_imported",
    "cuboid_errors",
];

/// Tokens and channels of the simulator's built-in resources.
pub const TOKEN: &str = "boss-sim-token";
pub const OTHER_TOKEN: &str = "boss-sim-token-other";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits inside the repository")
        .to_path_buf()
}

/// The `boss-sim` binary: `BOSS_SIM_BIN`, else `target/<profile>/boss-sim` next to this test.
pub fn sim_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("BOSS_SIM_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/boss-sim
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("boss-sim{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, as scripts/test does) or set BOSS_SIM_BIN",
        bin.display()
    );
    bin
}

/// The moto_server path: `BOSS_SIM_MOTO` (scripts/test exports it), else installed once per
/// machine by `scripts/install-tools moto`.
pub fn moto_command() -> &'static str {
    static MOTO: OnceLock<String> = OnceLock::new();
    MOTO.get_or_init(|| {
        if let Ok(path) = std::env::var("BOSS_SIM_MOTO") {
            return path;
        }
        let out = Command::new(repo_root().join("scripts/install-tools"))
            .arg("moto")
            .stderr(Stdio::inherit())
            .output()
            .expect("running scripts/install-tools moto");
        assert!(out.status.success(), "scripts/install-tools moto failed");
        String::from_utf8(out.stdout)
            .expect("tool path is UTF-8")
            .trim()
            .to_string()
    })
}

/// A running simulator.
pub struct SimHandle {
    child: Child,
    stdin: Option<ChildStdin>,
    /// e.g. `http://127.0.0.1:41234`
    pub api: String,
    /// The AWS endpoint (S3 + SQS) clients must use.
    pub aws: String,
    /// A token of the built-in user `alice`.
    pub token: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl SimHandle {
    /// Starts a simulator; panics with its log if it does not come up.
    pub fn start(options: SimOptions) -> SimHandle {
        Self::try_start(options).unwrap_or_else(|log| panic!("boss-sim did not start:\n{log}"))
    }

    /// Starts a simulator, or returns what it wrote to stderr if it exits first.
    pub fn try_start(options: SimOptions) -> Result<SimHandle, String> {
        Self::try_start_with(options, &[])
    }

    /// As [`SimHandle::try_start`], with extra raw arguments (for bad-input tests).
    pub fn try_start_with(options: SimOptions, extra: &[&str]) -> Result<SimHandle, String> {
        let dir = tempfile::tempdir().expect("temp dir for the boss-sim log");
        let log = dir.path().join("boss-sim.log");
        let log_file = std::fs::File::create(&log).expect("create boss-sim log");
        let mut cmd = Command::new(sim_binary());
        match (&options.aws_backend, &options.moto_command, options.backend) {
            (Some(url), _, _) => cmd.args(["--aws-backend", url]),
            (None, Some(path), _) => cmd.args(["--moto-command", path]),
            (None, None, Backend::Moto) => cmd.args(["--moto-command", moto_command()]),
            (None, None, Backend::Embedded) => cmd.arg("--embedded-aws"),
        };
        cmd.args(["--port", &options.port.to_string()])
            .args(["--aws-port", &options.aws_port.to_string()])
            .args(["--prepare-secs", &options.prepare_secs.to_string()])
            .args([
                "--wait-on-queues-secs",
                &options.wait_on_queues_secs.to_string(),
            ])
            .args(["--seed", &options.seed.to_string()])
            .args([
                "--visibility-timeout-secs",
                &options.visibility_timeout_secs.to_string(),
            ])
            .arg("--exit-on-stdin-close")
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file);
        if let Some(ttl) = options.credential_ttl_secs {
            cmd.args(["--credential-ttl-secs", &ttl.to_string()]);
        }
        if let Some(faults) = &options.faults {
            cmd.args(["--faults", faults]);
        }
        if let Some(resources) = &options.resources {
            cmd.arg("--resources").arg(resources);
        }
        if let Some(data_dir) = &options.data_dir {
            cmd.arg("--data-dir").arg(data_dir);
        }
        let mut child = cmd.spawn().expect("spawn boss-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if !line.trim().is_empty() => line,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(read_log());
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("boss-sim startup line {line:?} is not JSON: {e}"));
        let field = |name: &str| {
            ready[name]
                .as_str()
                .unwrap_or_else(|| panic!("startup line {line:?} lacks {name:?}"))
                .to_string()
        };
        Ok(SimHandle {
            stdin: child.stdin.take(),
            api: field("api"),
            aws: field("aws"),
            token: field("token"),
            child,
            log,
            _dir: dir,
        })
    }

    /// `127.0.0.1:PORT`: the config's `client.backend.host` (protocol `http`).
    pub fn host(&self) -> String {
        self.api.trim_start_matches("http://").to_string()
    }

    /// Everything the simulator logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /sim/jobs/{id}`: the job's counters.
    pub async fn stats(&self, job: u64) -> serde_json::Value {
        reqwest::get(format!("{}/sim/jobs/{job}", self.api))
            .await
            .expect("GET /sim/jobs")
            .json()
            .await
            .expect("stats are JSON")
    }

    /// Asserts that job `job` is COMPLETE and that nothing it sent would have lost or stalled
    /// data on BossDB: no chunk the real completion scan cannot see (`chunks_lost_on_bossdb`),
    /// and none of the lambdas' refusals (see [`LOSSES`]). Returns the job's counters.
    pub async fn assert_completed_cleanly(&self, job: u64) -> serde_json::Value {
        let stats = self.stats(job).await;
        assert_eq!(stats["state"], "COMPLETE", "{stats}");
        for counter in LOSSES {
            assert_eq!(stats[counter], 0, "{counter}: {stats}");
        }
        stats
    }

    /// `GET /sim/jobs/{id}/tiles`: how many times each tile key was stored.
    pub async fn tile_puts(&self, job: u64) -> std::collections::BTreeMap<String, u64> {
        reqwest::get(format!("{}/sim/jobs/{job}/tiles", self.api))
            .await
            .expect("GET /sim/jobs/{id}/tiles")
            .json()
            .await
            .expect("tile counts are JSON")
    }

    /// The port of the moto server this simulator started (from its log).
    pub fn moto_port(&self) -> u16 {
        let log = self.log();
        log.split("listening on http://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the log names moto's port:\n{log}"))
    }

    /// Kills the simulator with SIGKILL (no cleanup of its own) and waits for it.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Polls the job's state name (`/sim/jobs/{id}` "state") until it is `want`, up to `limit`.
    pub async fn wait_for_state(&self, job: u64, want: &str, limit: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let stats = self.stats(job).await;
            if stats["state"] == want {
                return stats;
            }
            assert!(
                start.elapsed() < limit,
                "job {job} never reached {want}: {stats}\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An SQS client for the AWS endpoint with the given keys (as a job's credentials).
    pub fn sqs(&self, access: &str, secret: &str) -> aws_sdk_sqs::Client {
        let creds = aws_sdk_sqs::config::Credentials::new(access, secret, None, None, "test");
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .credentials_provider(creds)
                .endpoint_url(&self.aws)
                .build(),
        )
    }

    /// An S3 client (path style) for the AWS endpoint with the given keys.
    pub fn s3(&self, access: &str, secret: &str) -> aws_sdk_s3::Client {
        let creds = aws_sdk_s3::config::Credentials::new(access, secret, None, None, "test");
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::Config::builder()
                .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                .region(aws_sdk_s3::config::Region::new("us-east-1"))
                .credentials_provider(creds)
                .endpoint_url(&self.aws)
                .force_path_style(true)
                .build(),
        )
    }

    /// Stops the simulator (and its moto) and returns its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::process::ExitStatus {
        // Closing stdin is the shutdown signal (--exit-on-stdin-close): the simulator stops
        // serving, stops its moto and exits.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        self.child.wait().expect("wait for boss-sim")
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.shutdown();
        }
    }
}
