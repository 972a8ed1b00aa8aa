//! Starting the simulator: bind the two listeners, start the embedded AWS backend or start (or
//! reach) moto, create the buckets, announce the endpoints, serve until the shutdown future
//! resolves, then stop moto and remove a temporary data directory.

use crate::aws::{Admin, AwsError, ADMIN_ACCESS_KEY, ADMIN_SECRET};
use crate::faults::{FaultSpec, Faults};
use crate::moto::{Moto, MotoError};
use crate::resources::Resources;
use crate::state::{Sim, Timing};
use crate::store::{Store, StoreError};
use crate::{embedded, front_door, rest};
use serde::Serialize;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

/// How long in-flight requests may finish after a shutdown signal.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the S3/SQS implementation comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsSource {
    /// A server that already runs at this URL.
    Backend(String),
    /// Start `moto_server` from this path on a free port.
    MotoCommand(String),
    /// The in-process backend (S3 from s3s-fs, our own SQS).
    Embedded,
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
    #[error("preparing the S3 buckets in the AWS backend: {0}")]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Embedded(#[from] embedded::EmbeddedError),
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
    let listeners = Listeners {
        api: api_listener,
        aws: aws_listener,
        api_url,
        aws_url,
    };
    let result = match &settings.aws {
        AwsSource::Embedded => {
            let sim_cell: Arc<OnceLock<Weak<Sim>>> = Arc::default();
            match embedded_backend(&data_dir, sim_cell.clone()).await {
                Ok((url, router)) => {
                    let backing = Backing {
                        url,
                        embedded: Some((router, sim_cell)),
                    };
                    serve(settings, backing, &data_dir, listeners, ready, shutdown).await
                }
                Err(e) => Err(e),
            }
        }
        AwsSource::Backend(_) | AwsSource::MotoCommand(_) => {
            let moto = match &settings.aws {
                AwsSource::Backend(url) => Moto::existing(url).await,
                AwsSource::MotoCommand(cmd) => Moto::spawn(cmd).await,
                AwsSource::Embedded => unreachable!("matched above"),
            };
            match moto {
                Ok(mut moto) => {
                    let backing = Backing {
                        url: moto.url.clone(),
                        embedded: None,
                    };
                    let result =
                        serve(settings, backing, &data_dir, listeners, ready, shutdown).await;
                    moto.stop().await;
                    result
                }
                Err(e) => Err(e.into()),
            }
        }
    };
    if temporary {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

/// The two bound listeners of the simulator and their URLs.
struct Listeners {
    api: tokio::net::TcpListener,
    aws: tokio::net::TcpListener,
    api_url: String,
    aws_url: String,
}

/// Where the simulator's own S3/SQS calls go; in embedded mode also the backend's router, which
/// the front door calls in-process, and the cell through which its S3 finds the minted keys.
struct Backing {
    url: String,
    embedded: Option<(axum::Router, Arc<OnceLock<Weak<Sim>>>)>,
}

/// Starts the embedded backend on a free loopback port; returns its URL and router.
async fn embedded_backend(
    data_dir: &Path,
    sim_cell: Arc<OnceLock<Weak<Sim>>>,
) -> Result<(String, axum::Router), StartError> {
    let listener = bind(0, "embedded AWS backend", "aws-port").await?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(StartError::Serve)?
    );
    // The simulator's own key, and every key a join minted (the front door has already refused
    // unknown, revoked and expired ones).
    let secrets: embedded::SecretLookup = Arc::new(move |key: &str| {
        if key == ADMIN_ACCESS_KEY {
            return Some(ADMIN_SECRET.to_string());
        }
        let sim = sim_cell.get()?.upgrade()?;
        let secret = sim.lock().grants.get(key).map(|g| g.secret.clone());
        secret
    });
    let s3_dir = data_dir.join("s3");
    let router = embedded::router(&url, &s3_dir, secrets)?;
    let serving = router.clone();
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, serving).await {
            log::error!("embedded AWS backend stopped: {e}");
        }
    });
    log::info!(
        "embedded AWS backend (S3 objects in {}) listening on {url}",
        s3_dir.display()
    );
    Ok((url, router))
}

async fn serve(
    settings: Settings,
    backing: Backing,
    data_dir: &Path,
    listeners: Listeners,
    ready: impl FnOnce(&Endpoints),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let Listeners {
        api: api_listener,
        aws: aws_listener,
        api_url,
        aws_url,
    } = listeners;
    let moto_url = backing.url.as_str();
    let store = Arc::new(Store::new(data_dir)?);
    let admin = Admin::new(moto_url);
    let sim = Sim::new(
        settings.resources.clone(),
        settings.timing,
        admin,
        (
            moto_url.to_string(),
            if backing.embedded.is_some() {
                "embedded"
            } else {
                "moto"
            },
        ),
        aws_url.clone(),
        store,
        Faults::new(settings.faults.clone(), settings.seed),
    );
    let front_door_backend = match backing.embedded {
        Some((router, cell)) => {
            let _ = cell.set(Arc::downgrade(&sim));
            Some(router)
        }
        None => None,
    };
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
    let aws = axum::serve(
        aws_listener,
        front_door::router(sim.clone(), front_door_backend),
    )
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
    log::info!("boss-sim stopped");
    a.and(b).map_err(StartError::Serve)
}
