//! The services boss-ingest gives plugins: reading bytes from a location and logging.
//!
//! Locations are local paths (or `file://` URLs) for now. `s3://` and `http(s)://` locations get
//! a clear "not supported yet" error instead of a confusing "file not found", so a plugin that
//! asks for one fails with a message that says so.

use plugin_abi::{HostApi, LocalFiles, LogLevel, PluginError};

/// The host's [`HostApi`], one per constructed processor so log lines name it.
#[derive(Debug, Clone)]
pub struct Services {
    /// `library::Class`, prefixed to every log line of this processor.
    who: String,
}

impl Services {
    pub fn new(library: &str, class: &str) -> Services {
        Services {
            who: format!("{library}::{class}"),
        }
    }
}

/// The local path for `location`, or an error for schemes not supported yet.
fn local_path(location: &str) -> Result<&str, PluginError> {
    if let Some(path) = location.strip_prefix("file://") {
        return Ok(path);
    }
    for scheme in ["s3://", "http://", "https://"] {
        if location.starts_with(scheme) {
            return Err(PluginError::unsupported(format!(
                "{location}: reading {scheme} locations is not supported by this boss-ingest yet; \
                 copy the data to a local directory and point the config there"
            )));
        }
    }
    Ok(location)
}

impl HostApi for Services {
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        LocalFiles.read(local_path(location)?)
    }

    fn read_range(&self, location: &str, offset: u64, len: u64) -> Result<Vec<u8>, PluginError> {
        LocalFiles.read_range(local_path(location)?, offset, len)
    }

    fn size(&self, location: &str) -> Result<u64, PluginError> {
        LocalFiles.size(local_path(location)?)
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
        let s = Services::new("lib", "Class");
        let path = file.to_str().unwrap();
        assert_eq!(s.read(path).unwrap(), b"abcdef");
        assert_eq!(s.read(&format!("file://{path}")).unwrap(), b"abcdef");
        assert_eq!(s.read_range(path, 2, 3).unwrap(), b"cde");
        assert_eq!(s.size(path).unwrap(), 6);
    }

    #[test]
    fn remote_schemes_are_refused_clearly() {
        let s = Services::new("lib", "Class");
        let err = s.read("s3://bucket/key.png").unwrap_err();
        assert_eq!(err.kind, ErrorKind::Unsupported);
        assert_eq!(
            err.message,
            "s3://bucket/key.png: reading s3:// locations is not supported by this boss-ingest \
             yet; copy the data to a local directory and point the config there"
        );
        assert_eq!(
            s.size("https://example.org/x").unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }
}
