//! `--metrics-addr`: the ingest command's Prometheus endpoint, so that an operator sees what every
//! node of a cluster run is doing, and the sum of them.
//!
//! The endpoint keeps no count of its own. Each scrape reads the run's [`Stats`] (the numbers the
//! progress display and the final summary print), the session's key [`Renewals`] and the job-wide
//! queue depth the progress reporter last read ([`JobWide`]), and encodes them in the Prometheus
//! text format (0.0.4) with `prometheus-client`. Every series carries the job's id as the label
//! `job_id`, so that `sum by (job_id)` adds up the nodes of one job.
//!
//! The listener is bound before any job is created, so a port in use fails the command at once
//! (exit 2) instead of after a job was made. Until the job is joined the endpoint serves an empty
//! page; it lives as long as the process, which exits when the run ends: the final numbers are the
//! summary's, and the last scrape shows them unless the run ended between two scrapes.
//!
//! Addresses: `HOST:PORT` binds where it says (`0.0.0.0:9100` for every interface, `[::1]:9100`
//! for IPv6); a bare `PORT` or `:PORT` means `127.0.0.1:PORT`, loopback only; a host without a
//! port is refused, as no default port would be right on a node that runs several clients. Port
//! 0 picks a free port; the bound address is printed either way.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::aws::Renewals;
use crate::engine::stats::TIMING_BOUNDS;
use crate::engine::{FailureClass, Stats, TimingSnapshot, Unit};
use crate::progress::JobWide;

/// The path metrics are served at.
pub const PATH: &str = "/metrics";
/// Every metric's name starts with this (and `_`).
pub const PREFIX: &str = "boss_ingest";

/// Scrapes served at once; more wait in the listen backlog. A scrape takes microseconds.
const CONNECTIONS: usize = 4;
/// A connection that has not sent its request headers by then is dropped.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection is closed after this long whatever it is doing, so that a stuck scraper never
/// holds one of the [`CONNECTIONS`] for good.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where to serve metrics, as given to `--metrics-addr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsAddr {
    /// A host name or IP address; IPv6 without brackets.
    host: String,
    port: u16,
}

impl MetricsAddr {
    /// Reads `HOST:PORT`, `[IPv6]:PORT`, `:PORT` or `PORT` (module docs).
    pub fn parse(s: &str) -> Result<MetricsAddr, String> {
        let loopback = |port: &str| {
            Ok(MetricsAddr {
                host: "127.0.0.1".into(),
                port: parse_port(port)?,
            })
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return loopback(s);
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(format!(
                "{s:?} has no port: write HOST:PORT (e.g. 127.0.0.1:9100), or :PORT for \
                 127.0.0.1:PORT"
            ));
        };
        if host.is_empty() {
            return loopback(port);
        }
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6,
            None if host.contains(':') => {
                return Err(format!(
                    "{s:?}: write an IPv6 address in brackets, e.g. [::1]:9100"
                ))
            }
            None => host,
        };
        Ok(MetricsAddr {
            host: host.into(),
            port: parse_port(port)?,
        })
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    port.parse()
        .map_err(|_| format!("port {port:?} is not a number from 0 to 65535"))
}

impl fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The address could not be bound (in use, not this machine's, not resolvable).
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot serve metrics on {addr}: {error}; pass a free port of this machine to --metrics-addr"
)]
pub struct BindError {
    pub addr: MetricsAddr,
    pub error: std::io::Error,
}

/// The serving endpoint. Dropping it does not stop the server: it lives as long as the runtime.
pub struct Metrics {
    local: SocketAddr,
    run: Arc<OnceLock<Registry>>,
}

impl Metrics {
    /// Binds `addr` and starts serving (an empty page until [`Metrics::observe`]).
    pub async fn serve(addr: &MetricsAddr) -> Result<Metrics, BindError> {
        let listener = TcpListener::bind((addr.host.as_str(), addr.port))
            .await
            .map_err(|error| BindError {
                addr: addr.clone(),
                error,
            })?;
        let local = listener.local_addr().map_err(|error| BindError {
            addr: addr.clone(),
            error,
        })?;
        let run = Arc::new(OnceLock::new());
        tokio::spawn(accept(listener, run.clone()));
        Ok(Metrics { local, run })
    }

    /// The address bound (with the port chosen when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serves the metrics of this run from now on. A process uploads one job: a second call is
    /// ignored.
    pub fn observe(&self, run: Run) {
        let _ = self.run.set(registry(run));
    }
}

/// Where a run's numbers are read from.
#[derive(Clone, Debug)]
pub struct Run {
    pub job_id: u64,
    pub unit: Unit,
    pub stats: Arc<Stats>,
    pub renewals: Renewals,
    pub job_wide: Arc<JobWide>,
}

/// The registry of one run: its collector, every series labelled with the job id.
pub fn registry(run: Run) -> Registry {
    let mut registry = Registry::with_prefix_and_labels(
        PREFIX,
        [("job_id".into(), run.job_id.to_string().into())].into_iter(),
    );
    registry.register_collector(Box::new(run));
    registry
}

/// The Prometheus text of a registry.
pub fn encode(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_text::encode(&mut text, registry);
    text
}

impl Collector for Run {
    fn encode(&self, mut out: DescriptorEncoder) -> Result<(), fmt::Error> {
        let s = self.stats.snapshot();
        let what = self.unit.plural();
        let counter = |out: &mut DescriptorEncoder, name: &str, help: &str, v: u64| {
            let c = ConstCounter::new(v);
            c.encode(out.encode_descriptor(name, help, None, c.metric_type())?)
        };
        counter(
            &mut out,
            &format!("{what}_uploaded"),
            match self.unit {
                Unit::Tiles => "Tiles stored, indexed and deleted from the upload queue",
                Unit::Chunks => {
                    "Chunks whose cuboids were all stored, deleted from the upload queue"
                }
            },
            s.uploaded,
        )?;
        if self.unit == Unit::Chunks {
            counter(
                &mut out,
                "cuboids_uploaded",
                "Cuboids of the uploaded chunks",
                s.cuboids,
            )?;
        }
        counter(
            &mut out,
            "bytes_uploaded",
            match self.unit {
                Unit::Tiles => "Bytes of the uploaded tiles",
                Unit::Chunks => "Compressed bytes of the uploaded cuboids",
            },
            s.bytes,
        )?;
        counter(
            &mut out,
            "duplicates",
            &format!(
                "Uploaded {what} whose message had been received before (stored twice at most)"
            ),
            s.duplicates,
        )?;
        {
            let mut family = out.encode_descriptor(
                "failures",
                "Failed attempts, by where they failed (class: processor, upload, index)",
                None,
                MetricType::Counter,
            )?;
            for class in FailureClass::ALL {
                let labels = [("class", class.name())];
                ConstCounter::new(s.failures[class as usize])
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut out,
            "retries",
            "Failed attempts left on the upload queue for another delivery",
            s.retries,
        )?;
        counter(
            &mut out,
            "quarantined",
            &format!(
                "{} given up on and written to the failure report",
                self.unit.capitalised()
            ),
            s.quarantined,
        )?;
        counter(
            &mut out,
            match self.unit {
                Unit::Tiles => "black_tiles",
                Unit::Chunks => "zero_filled_chunks",
            },
            match self.unit {
                Unit::Tiles => "Tiles the processor replaced by black",
                Unit::Chunks => "Chunks smaller than the extent covers, the rest uploaded as zeros",
            },
            s.black,
        )?;
        counter(
            &mut out,
            "delete_failures",
            &format!("Stored {what} whose upload message could not be deleted (uploaded again)"),
            s.delete_failures,
        )?;
        counter(
            &mut out,
            "credential_renewals",
            "Times the job's AWS keys were renewed by re-joining the job",
            self.renewals.count(),
        )?;
        let in_flight = ConstGauge::new(s.in_flight);
        in_flight.encode(out.encode_descriptor(
            "in_flight",
            &format!(
                "{} received and not yet deleted from the upload queue",
                self.unit.capitalised()
            ),
            None,
            in_flight.metric_type(),
        )?)?;
        if let Some(depth) = self.job_wide.queue_depth() {
            let depth = ConstGauge::new(depth);
            depth.encode(out.encode_descriptor(
                "queue_depth",
                "Messages in the job's upload queue (all clients) at the last status reading",
                None,
                depth.metric_type(),
            )?)?;
        }
        histogram(
            &mut out,
            "plugin_seconds",
            match self.unit {
                Unit::Tiles => "Time of the plugin stage per tile: processor call and encoding",
                Unit::Chunks => {
                    "Time of the plugin stage per chunk: processor call and compression"
                }
            },
            &s.plugin,
        )?;
        histogram(
            &mut out,
            "upload_seconds",
            "Time of one S3 PutObject, from the first try to success or failure",
            &s.upload,
        )
    }
}

fn histogram(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    t: &TimingSnapshot,
) -> Result<(), fmt::Error> {
    let buckets: Vec<(f64, u64)> = TIMING_BOUNDS
        .iter()
        .copied()
        .chain([f64::INFINITY])
        .zip(t.buckets)
        .collect();
    out.encode_descriptor(name, help, None, MetricType::Histogram)?
        .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            t.sum_nanos as f64 / 1e9,
            t.count,
            &buckets,
            None,
        )
}

/// Accepts scrapes until the runtime ends, at most [`CONNECTIONS`] at once.
async fn accept(listener: TcpListener, run: Arc<OnceLock<Registry>>) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                log::warn!("metrics endpoint: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let run = run.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let run = run.clone();
                async move { Ok::<_, Infallible>(respond(&req, run.get())) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                // One scrape per connection: an idle kept-alive connection would hold a slot.
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Err(e)) => log::debug!("metrics endpoint: {e}"),
                Err(_) => log::debug!("metrics endpoint: a connection timed out"),
                Ok(Ok(())) => {}
            }
            drop(slot);
        });
    }
}

/// The answer to one request: the metrics at [`PATH`], 404 elsewhere.
fn respond(req: &Request<Incoming>, run: Option<&Registry>) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        if let Ok(v) = content_type.parse() {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    if req.uri().path() != PATH {
        return reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            format!("not found: the metrics are at {PATH}\n"),
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            format!("{PATH} answers GET only\n"),
        );
    }
    let body = run.map(encode).unwrap_or_default();
    reply(StatusCode::OK, prometheus_text::CONTENT_TYPE, body)
}

#[cfg(test)]
mod tests;
