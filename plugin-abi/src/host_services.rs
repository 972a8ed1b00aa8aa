//! What a plugin may ask of the host: read bytes from a location (a local path or `file://` URL,
//! `s3://bucket/key`, `http(s)://`), read a byte range or the size of one (so a plugin can read
//! one page of a large file without reading the file), GET an `http(s)://` URL with request
//! headers (an API token), and log. Remote reads retry transient failures in the host, so a
//! plugin needs no AWS SDK or HTTP client of its own.
//!
//! Errors come back as [`PluginError`]s whose message names the location: kind
//! [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for a missing file, object or HTTP 404,
//! [`ErrorKind::Denied`](crate::ErrorKind::Denied) for HTTP 401/403 and S3 AccessDenied,
//! [`ErrorKind::Io`](crate::ErrorKind::Io) for the rest (after the host's retries). Under
//! `boss-ingest --follow` a missing source, or a local file still being written, is
//! [`ErrorKind::NotYet`](crate::ErrorKind::NotYet) instead: pass it on unchanged.
//!
//! The host implements [`HostApi`]; plugins hold a [`HostServices`], a cheap-to-clone handle to
//! that implementation which works the same whether the plugin is built in or loaded from a
//! shared library. [`LocalFiles`] is a plain local-filesystem implementation for plugin tests.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RVec};

use crate::error::{guard, PluginError};
use crate::ffi::{FfiError, FfiHeader, FfiHost, FfiHostBox, FfiHost_TO};
use crate::types::LogLevel;

/// The host's side of the services: implemented by boss-ingest (and by [`LocalFiles`]).
pub trait HostApi: Send + Sync + 'static {
    /// All bytes at `location`.
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError>;
    /// `len` bytes at `offset` of `location` (fewer only at the end of the data).
    fn read_range(&self, location: &str, offset: u64, len: u64) -> Result<Vec<u8>, PluginError>;
    /// The size in bytes of the data at `location`.
    fn size(&self, location: &str) -> Result<u64, PluginError>;
    /// A log line on the plugin's behalf.
    fn log(&self, level: LogLevel, message: &str);
    /// All bytes of an `http(s)://` URL, sending `headers` (`(name, value)`) with the request.
    /// The default refuses, for hosts (and test doubles) without HTTP.
    fn http_get(&self, url: &str, headers: &[(String, String)]) -> Result<Vec<u8>, PluginError> {
        let _ = headers;
        Err(PluginError::unsupported(format!(
            "{url}: HTTP requests are not available from these host services"
        )))
    }
}

/// A plugin's handle to the host's services. Clone it freely into processors.
#[derive(Clone)]
pub struct HostServices {
    inner: Arc<FfiHostBox>,
}

impl std::fmt::Debug for HostServices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostServices")
    }
}

impl HostServices {
    /// Services backed by `api` in this process (what the host does for built-ins, and what
    /// plugin tests do with [`LocalFiles`]).
    pub fn new(api: Arc<dyn HostApi>) -> HostServices {
        HostServices::from_ffi(into_ffi(api))
    }

    /// Services reading the local filesystem and logging to stderr, for plugin tests.
    pub fn local() -> HostServices {
        HostServices::new(Arc::new(LocalFiles))
    }

    pub(crate) fn from_ffi(inner: FfiHostBox) -> HostServices {
        HostServices {
            inner: Arc::new(inner),
        }
    }

    pub fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        from_bytes(self.inner.read(location.into()))
    }

    pub fn read_range(
        &self,
        location: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, PluginError> {
        from_bytes(self.inner.read_range(location.into(), offset, len))
    }

    pub fn size(&self, location: &str) -> Result<u64, PluginError> {
        match self.inner.size(location.into()) {
            RResult::ROk(n) => Ok(n),
            RResult::RErr(e) => Err(e.into()),
        }
    }

    pub fn log(&self, level: LogLevel, message: &str) {
        self.inner.log(level.code(), message.into());
    }

    /// All bytes of the `http(s)://` URL `url`, sending `headers` (`(name, value)`, e.g.
    /// `("Authorization", "Token ...")`) with the request; retried by the host like [`read`].
    ///
    /// [`read`]: HostServices::read
    pub fn http_get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Vec<u8>, PluginError> {
        let headers = headers
            .iter()
            .map(|(name, value)| FfiHeader {
                name: (*name).into(),
                value: (*value).into(),
            })
            .collect();
        from_bytes(self.inner.http_get(url.into(), headers))
    }
}

fn from_bytes(r: RResult<RVec<u8>, FfiError>) -> Result<Vec<u8>, PluginError> {
    match r {
        RResult::ROk(b) => Ok(b.into_vec()),
        RResult::RErr(e) => Err(e.into()),
    }
}

/// Boxes a host implementation for handing to a plugin constructor.
pub(crate) fn into_ffi(api: Arc<dyn HostApi>) -> FfiHostBox {
    FfiHost_TO::from_value(HostAdapter(api), TD_Opaque)
}

/// Runs the host's implementation behind the boundary; a panic in it must not unwind into the
/// plugin either.
struct HostAdapter(Arc<dyn HostApi>);

fn to_ffi<T, U: From<T>>(r: Result<T, PluginError>) -> RResult<U, FfiError> {
    match r {
        Ok(v) => RResult::ROk(U::from(v)),
        Err(e) => RResult::RErr(e.into()),
    }
}

impl FfiHost for HostAdapter {
    fn read(&self, location: RStr<'_>) -> RResult<RVec<u8>, FfiError> {
        to_ffi(guard(|| self.0.read(location.as_str())))
    }

    fn read_range(&self, location: RStr<'_>, offset: u64, len: u64) -> RResult<RVec<u8>, FfiError> {
        to_ffi(guard(|| self.0.read_range(location.as_str(), offset, len)))
    }

    fn size(&self, location: RStr<'_>) -> RResult<u64, FfiError> {
        to_ffi(guard(|| self.0.size(location.as_str())))
    }

    fn log(&self, level: u32, message: RStr<'_>) {
        // A failing logger is not worth a tile: the error is dropped on purpose.
        let _ = guard(|| {
            self.0.log(LogLevel::from_code(level), message.as_str());
            Ok(())
        });
    }

    fn http_get(&self, url: RStr<'_>, headers: RVec<FfiHeader>) -> RResult<RVec<u8>, FfiError> {
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|h| (h.name.into_string(), h.value.into_string()))
            .collect();
        to_ffi(guard(|| self.0.http_get(url.as_str(), &headers)))
    }
}

/// [`HostApi`] over the local filesystem, logging to stderr. Locations are paths.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalFiles;

/// Maps an I/O error on `path` to a [`PluginError`] of the matching kind.
pub fn io_error(path: &str, e: &std::io::Error) -> PluginError {
    match e.kind() {
        std::io::ErrorKind::NotFound => PluginError::not_found(format!("{path}: file not found")),
        std::io::ErrorKind::PermissionDenied => {
            PluginError::denied(format!("{path}: permission denied"))
        }
        _ => PluginError::io(format!("{path}: {e}")),
    }
}

impl HostApi for LocalFiles {
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        std::fs::read(location).map_err(|e| io_error(location, &e))
    }

    fn read_range(&self, location: &str, offset: u64, len: u64) -> Result<Vec<u8>, PluginError> {
        let mut file = std::fs::File::open(location).map_err(|e| io_error(location, &e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| io_error(location, &e))?;
        let mut buf = Vec::new();
        file.take(len)
            .read_to_end(&mut buf)
            .map_err(|e| io_error(location, &e))?;
        Ok(buf)
    }

    fn size(&self, location: &str) -> Result<u64, PluginError> {
        std::fs::metadata(location)
            .map(|m| m.len())
            .map_err(|e| io_error(location, &e))
    }

    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn local_services_read_ranges_and_sizes_through_the_boundary_types() {
        let dir = std::env::temp_dir().join(format!("plugin-abi-hs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("data.bin");
        std::fs::write(&file, b"0123456789").unwrap();
        let file = file.to_str().unwrap();
        let host = HostServices::local();
        assert_eq!(host.read(file).unwrap(), b"0123456789");
        assert_eq!(host.read_range(file, 3, 4).unwrap(), b"3456");
        assert_eq!(host.read_range(file, 8, 4).unwrap(), b"89");
        assert_eq!(host.size(file).unwrap(), 10);
        let missing = format!("{file}.missing");
        let err = host.read(&missing).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(err.message, format!("{missing}: file not found"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    struct Panicky;
    impl HostApi for Panicky {
        fn read(&self, _: &str) -> Result<Vec<u8>, PluginError> {
            panic!("host bug")
        }
        fn read_range(&self, _: &str, _: u64, _: u64) -> Result<Vec<u8>, PluginError> {
            unreachable!("not called by this test")
        }
        fn size(&self, _: &str) -> Result<u64, PluginError> {
            unreachable!("not called by this test")
        }
        fn log(&self, _: LogLevel, _: &str) {}
    }

    #[test]
    fn a_panicking_host_service_becomes_an_error() {
        let err = HostServices::new(Arc::new(Panicky)).read("x").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panic);
        assert!(err.message.ends_with(": host bug"), "{}", err.message);
    }
}
