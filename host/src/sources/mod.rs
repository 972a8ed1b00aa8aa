//! Reading the user's source data from where it lives: `s3://bucket/key` with the user's own AWS
//! credentials and `http(s)://` with retries, for the host services plugins call.
//!
//! Plugins call these from blocking threads (the engine's plugin stage runs on `spawn_blocking`
//! threads inside the ingest runtime; `check` runs them on plain threads). So the clients live on
//! a runtime of their own, started on first use and kept for the process: a call spawns its
//! request there and waits on a plain channel, which works from any thread, inside a runtime or
//! not, and never ties a client's connection pool to a runtime that a command shuts down.
//!
//! One client per scheme per process, shared by all processors and created lazily: a job that
//! never reads `s3://` never looks for AWS credentials.
//!
//! # Layout
//! - [`s3`]: `s3://` through the AWS SDK with the standard credential chain.
//! - [`http`]: `http(s)://` through reqwest, with retries and backoff.
//! - [`settle`]: `--follow`: sources not there yet, and files still being written.

pub mod http;
pub mod s3;
pub mod settle;

use std::future::Future;
use std::sync::{Mutex, OnceLock};

use plugin_abi::PluginError;

/// The sources' own runtime (two worker threads: the work is waiting on the network).
fn runtime() -> Result<&'static tokio::runtime::Runtime, PluginError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    static BUILDING: Mutex<()> = Mutex::new(());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // One builder at a time, so no second runtime is ever built (and dropped on some thread).
    // A poisoned lock only means another builder panicked; building again is fine.
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("boss-ingest-sources")
        .enable_all()
        .build()
        .map_err(|e| PluginError::io(format!("cannot start the source reader threads: {e}")))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Runs `future` on the sources' runtime and waits for it on this (blocking) thread.
pub(crate) fn block_on<T: Send + 'static>(
    future: impl Future<Output = Result<T, PluginError>> + Send + 'static,
) -> Result<T, PluginError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    runtime()?.spawn(async move {
        // The receiver is gone only if the caller's thread died; nothing to tell it then.
        let _ = tx.send(future.await);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(PluginError::other(
            "a source read was cancelled (its task ended without an answer)",
        ))
    })
}

/// Where a location points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location<'a> {
    Local(&'a str),
    S3 { bucket: &'a str, key: &'a str },
    Http(&'a str),
}

impl<'a> Location<'a> {
    /// Classifies `location`: `s3://bucket/key`, `http(s)://...`, `file://path` or a plain path.
    pub fn parse(location: &'a str) -> Result<Location<'a>, PluginError> {
        if let Some(path) = location.strip_prefix("file://") {
            return Ok(Location::Local(path));
        }
        if let Some(rest) = location.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(Location::S3 { bucket, key })
                }
                _ => Err(PluginError::params(format!(
                    "{location}: an S3 location must be s3://bucket/key"
                ))),
            };
        }
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(Location::Http(location));
        }
        Ok(Location::Local(location))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_classified_by_scheme() {
        assert_eq!(Location::parse("/a/b").unwrap(), Location::Local("/a/b"));
        assert_eq!(
            Location::parse("file:///a/b").unwrap(),
            Location::Local("/a/b")
        );
        assert_eq!(
            Location::parse("s3://bkt/dir/k.png").unwrap(),
            Location::S3 {
                bucket: "bkt",
                key: "dir/k.png"
            }
        );
        assert_eq!(
            Location::parse("https://h/x").unwrap(),
            Location::Http("https://h/x")
        );
        assert_eq!(
            Location::parse("s3://bucket-only").unwrap_err().message,
            "s3://bucket-only: an S3 location must be s3://bucket/key"
        );
    }

    #[test]
    fn block_on_works_from_plain_threads_and_blocking_threads_of_a_runtime() {
        assert_eq!(block_on(async { Ok(5) }), Ok(5));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let got = rt
            .block_on(rt.spawn_blocking(|| block_on(async { Ok(6) })))
            .unwrap();
        assert_eq!(got, Ok(6));
    }
}
