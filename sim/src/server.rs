//! Starting the simulator: bind the two listeners, start (or reach) moto, create the buckets,
//! announce the endpoints, serve until the shutdown future resolves, then stop moto.

use crate::aws::{Admin, AwsError};
use crate::faults::{FaultSpec, Faults};
use crate::moto::{Moto, MotoError};
use crate::resources::Resources;
use crate::state::{Sim, Timing};
use crate::store::{Store, StoreError};
use crate::{front_door, rest};
use serde::Serialize;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

/// How long in-flight requests may finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the S3/SQS implementation comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsSource {
    /// A server that already runs at this URL.
    Backend(String),
    /// Start `moto_server` from this path on a free port.
    MotoCommand(String),
}

/// Checked settings: everything the command line decided.
#[derive(Debug, Clone)]
pub struct Settings {
    pub port: u16,
    pub aws_port: u16,
    pub aws: AwsSource,
    pub resources: Resources,
    pub timing: Timing,
    pub faults: FaultSpec,
    pub seed: u64,
    /// Cuboid store; `None` = a fresh directory under the system temp dir, removed at exit.
    pub data_dir: Option<PathBuf>,
}

/// The startup line: where clients reach the simulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoints {
    pub api: String,
    pub aws: String,
    pub token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on 127.0.0.1:{port} for the {what}: {source} (is another boss-sim running? use --{flag} 0 for a free port)")]
    Bind {
        what: &'static str,
        flag: &'static str,
        port: u16,
        source: std::io::Error,
    },
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error("preparing the S3 buckets in moto: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

async fn bind(
    port: u16,
    what: &'static str,
    flag: &'static str,
) -> Result<tokio::net::TcpListener, StartError> {
    tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| StartError::Bind {
            what,
            flag,
            port,
            source,
        })
}

/// Runs the simulator. `ready` receives the endpoints once everything accepts requests.
pub async fn run(
    settings: Settings,
    ready: impl FnOnce(&Endpoints),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let api_listener = bind(settings.port, "REST API", "port").await?;
    let aws_listener = bind(settings.aws_port, "AWS endpoint", "aws-port").await?;
    let api_url = format!(
        "http://{}",
        api_listener.local_addr().map_err(StartError::Serve)?
    );
    let aws_url = format!(
        "http://{}",
        aws_listener.local_addr().map_err(StartError::Serve)?
    );

    let mut moto = match &settings.aws {
        AwsSource::Backend(url) => Moto::existing(url).await?,
        AwsSource::MotoCommand(cmd) => Moto::spawn(cmd).await?,
    };
    let result = serve(
        settings,
        &moto.url,
        api_listener,
        aws_listener,
        api_url,
        aws_url,
        ready,
        shutdown,
    )
    .await;
    moto.stop().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    settings: Settings,
    moto_url: &str,
    api_listener: tokio::net::TcpListener,
    aws_listener: tokio::net::TcpListener,
    api_url: String,
    aws_url: String,
    ready: impl FnOnce(&Endpoints),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (data_dir, temporary) = match &settings.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!(
                "boss-sim-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            )),
            true,
        ),
    };
    let store = Arc::new(Store::new(&data_dir)?);
    let admin = Admin::new(moto_url);
    let sim = Sim::new(
        settings.resources.clone(),
        settings.timing,
        admin,
        moto_url.to_string(),
        aws_url.clone(),
        store,
        Faults::new(settings.faults.clone(), settings.seed),
    );
    sim.admin.create_bucket(&sim.tile_bucket).await?;
    sim.admin.create_bucket(&sim.ingest_bucket).await?;

    let endpoints = Endpoints {
        api: api_url,
        aws: aws_url,
        token: settings.resources.first_token().to_string(),
    };
    ready(&endpoints);

    // One shutdown signal, fanned out to both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stop_rx_grace = stop_rx.clone();
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let api = axum::serve(api_listener, rest::router(sim.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let aws = axum::serve(aws_listener, front_door::router(sim.clone()))
        .with_graceful_shutdown(stopped(stop_rx));
    let mut grace_rx = stop_rx_grace;
    let grace = async move {
        let _ = grace_rx.wait_for(|v| *v).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    // Graceful shutdown waits for in-flight requests; a client's 20 s long poll must not keep
    // moto alive past the caller's patience, so after a grace period the servers are dropped.
    let (a, b) = tokio::select! {
        results = async { tokio::join!(api, aws) } => results,
        _ = grace => {
            log::warn!("requests still in flight after {SHUTDOWN_GRACE:?}; stopping anyway");
            (Ok(()), Ok(()))
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    log::info!("boss-sim stopped");
    a.and(b).map_err(StartError::Serve)
}
