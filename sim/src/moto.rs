//! Starting and stopping the `moto_server` that holds the simulator's real SQS queues and S3
//! buckets (`--moto-command`), or checking one that already runs (`--aws-backend`).
//!
//! moto is a separate Python process; the simulator owns the one it starts and must not leave it
//! behind, so the child is killed when [`Moto`] is dropped (and on clean shutdown).

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error("cannot start moto server {command:?}: {source} (install it with `scripts/install-tools moto`, which prints its path)")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("cannot find a free loopback port for moto: {0}")]
    Port(std::io::Error),
    #[error("moto server {command:?} exited during startup ({status})")]
    Exited { command: String, status: String },
    #[error("no S3/SQS server answered at {url} within {secs} s (is --aws-backend right, or did moto fail to start?)")]
    NotReady { url: String, secs: u64 },
}

/// A moto server the simulator started or was given.
pub struct Moto {
    pub url: String,
    child: Option<Child>,
}

impl Moto {
    /// Spawns `command -H 127.0.0.1 -p <free port>` and waits until it answers.
    pub async fn spawn(command: &str) -> Result<Moto, MotoError> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(MotoError::Port)?
            .port();
        let mut cmd = Command::new(command);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        die_with_parent(&mut cmd);
        let mut child = cmd
            // stdout is reserved for the simulator's one JSON line; moto's request log is noise.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| MotoError::Spawn {
                command: command.to_string(),
                source,
            })?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(MotoError::Exited {
                    command: command.to_string(),
                    status: status.to_string(),
                });
            }
            if answers(&url).await {
                break;
            }
            if Instant::now() > deadline {
                return Err(MotoError::NotReady { url, secs: 60 });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        log::info!("moto server {command} listening on {url}");
        Ok(Moto {
            url,
            child: Some(child),
        })
    }

    /// Uses a server that is already running (or still starting: a script may launch both at
    /// once, and moto takes seconds to come up on a busy machine).
    pub async fn existing(url: &str) -> Result<Moto, MotoError> {
        let url = url.trim_end_matches('/').to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers(&url).await {
            if Instant::now() > deadline {
                return Err(MotoError::NotReady { url, secs: 60 });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Moto { url, child: None })
    }

    /// Stops the server if this process started it.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            log::info!("moto server stopped");
        }
    }
}

/// Asks Linux to kill moto when the simulator dies, even by SIGKILL, which skips our cleanup.
#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    extern "C" {
        // From the C library std already links; declared here to avoid a libc dependency.
        fn prctl(option: std::ffi::c_int, arg2: std::ffi::c_ulong, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    // SAFETY: runs in the forked child before exec; prctl is async-signal-safe and touches no
    // memory of ours. The signal fires when the spawning thread ends, and the spawning thread is
    // a runtime worker that lives as long as the simulator.
    unsafe {
        cmd.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

async fn answers(url: &str) -> bool {
    let client = reqwest::Client::new();
    client
        .get(format!("{url}/moto-api/"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_ok()
}
