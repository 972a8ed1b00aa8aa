//! The services boss-ingest gives plugins: reading bytes from a location and logging.
//!
//! A location is a local path (or `file://` URL), `s3://bucket/key` (read with the user's own AWS
//! credentials, see [`crate::sources::s3`]) or an `http(s)://` URL (retried with backoff, see
//! [`crate::sources::http`]). Plugins call these from blocking threads; remote reads run on the
//! sources' own runtime (see [`crate::sources`]), so they work in `ingest` and in `check` alike.

use std::sync::Arc;

use plugin_abi::{HostApi, LocalFiles, LogLevel, PluginError};

use crate::sources::http::HttpSource;
use crate::sources::settle::{missing_is_not_yet, Settle};
use crate::sources::{block_on, s3, Location};

/// The host's [`HostApi`], one per constructed processor so log lines name it.
#[derive(Debug, Clone)]
pub struct Services {
    /// `library::Class`, prefixed to every log line of this processor.
    who: String,
    /// `--follow`: missing sources are not there yet, and local files are read only once
    /// settled. Shared by every processor of the run.
    follow: Option<Arc<Settle>>,
}

impl Services {
    pub fn new(library: &str, class: &str, follow: Option<Arc<Settle>>) -> Services {
        Services {
            who: format!("{library}::{class}"),
            follow,
        }
    }

    /// Under follow, refuses a local file that is missing or not settled.
    fn local(&self, path: &str) -> Result<(), PluginError> {
        match &self.follow {
            Some(settle) => settle.check_local(path),
            None => Ok(()),
        }
    }

    /// Under follow, a remote source that is missing is not there yet.
    fn remote<T>(&self, r: Result<T, PluginError>, location: &str) -> Result<T, PluginError> {
        match &self.follow {
            Some(_) => r.map_err(|e| missing_is_not_yet(e, location)),
            None => r,
        }
    }
}

/// Owned copies of a remote location's parts, for the task that reads it.
fn owned(bucket: &str, key: &str) -> (String, String) {
    (bucket.to_string(), key.to_string())
}

impl HostApi for Services {
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        let r = match Location::parse(location)? {
            Location::Local(path) => {
                self.local(path)?;
                LocalFiles.read(path)
            }
            Location::S3 { bucket, key } => {
                let (bucket, key) = owned(bucket, key);
                block_on(async move { s3::read(&bucket, &key).await })
            }
            Location::Http(url) => {
                let url = url.to_string();
                block_on(async move { HttpSource::shared()?.get(&url, &[]).await })
            }
        };
        self.remote(r, location)
    }

    fn read_range(&self, location: &str, offset: u64, len: u64) -> Result<Vec<u8>, PluginError> {
        let r = match Location::parse(location)? {
            Location::Local(path) => {
                self.local(path)?;
                LocalFiles.read_range(path, offset, len)
            }
            Location::S3 { bucket, key } => {
                let (bucket, key) = owned(bucket, key);
                block_on(async move { s3::read_range(&bucket, &key, offset, len).await })
            }
            Location::Http(url) => {
                let url = url.to_string();
                block_on(async move { HttpSource::shared()?.get_range(&url, offset, len).await })
            }
        };
        self.remote(r, location)
    }

    fn size(&self, location: &str) -> Result<u64, PluginError> {
        let r = match Location::parse(location)? {
            Location::Local(path) => {
                self.local(path)?;
                LocalFiles.size(path)
            }
            Location::S3 { bucket, key } => {
                let (bucket, key) = owned(bucket, key);
                block_on(async move { s3::size(&bucket, &key).await })
            }
            Location::Http(url) => {
                let url = url.to_string();
                block_on(async move { HttpSource::shared()?.size(&url).await })
            }
        };
        self.remote(r, location)
    }

    fn http_get(&self, url: &str, headers: &[(String, String)]) -> Result<Vec<u8>, PluginError> {
        match Location::parse(url)? {
            Location::Http(http) => {
                let (http, headers) = (http.to_string(), headers.to_vec());
                let r = block_on(async move { HttpSource::shared()?.get(&http, &headers).await });
                self.remote(r, url)
            }
            _ => Err(PluginError::params(format!(
                "{url}: not an http:// or https:// URL"
            ))),
        }
    }

    fn log(&self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        };
        log::log!(target: "boss_ingest::plugin", level, "{}: {message}", self.who);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_abi::ErrorKind;

    #[test]
    fn reads_local_paths_and_file_urls() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, b"abcdef").unwrap();
        let s = Services::new("lib", "Class", None);
        let path = file.to_str().unwrap();
        assert_eq!(s.read(path).unwrap(), b"abcdef");
        assert_eq!(s.read(&format!("file://{path}")).unwrap(), b"abcdef");
        assert_eq!(s.read_range(path, 2, 3).unwrap(), b"cde");
        assert_eq!(s.size(path).unwrap(), 6);
    }

    #[test]
    fn headers_only_go_to_http_urls() {
        let s = Services::new("lib", "Class", None);
        let err = s.http_get("/local/file", &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Params);
        assert_eq!(err.message, "/local/file: not an http:// or https:// URL");
    }
}
