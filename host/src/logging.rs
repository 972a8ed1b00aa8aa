//! Where the log goes. Every command logs through one filter ([`builder`]): the `-v` level,
//! transport crates held at warnings, and `BOSS_INGEST_LOG` over both. The AWS SDK's `tracing`
//! events arrive here as `log` records (tracing's `log` feature: no tracing subscriber is ever
//! set), under their module paths, e.g. `aws_smithy_runtime::client::orchestrator`. `ingest`, `verify` and
//! `cancel` log to stderr and to a file, by default
//! `~/.boss-ingest/ingest_log<YYYYmmdd-HHMMSS>_pid<pid>.log` as the original client named it;
//! `check` and `plugins` to stderr only. Failure reports live in the same directory.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// `YYYYmmdd-HHMMSS` of now, in UTC.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_timestamp(secs)
}

/// `YYYYmmdd-HHMMSS` of a Unix time (civil-from-days, proleptic Gregorian).
pub fn format_timestamp(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The directory for logs and failure reports: `~/.boss-ingest`.
pub fn state_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".boss-ingest")
}

/// Sends log records to stderr and to `file` (or the default log file). Returns the file used.
/// Safe to call twice: the second call keeps the first logger.
pub fn to_file(file: Option<&Path>, level: log::LevelFilter) -> std::io::Result<PathBuf> {
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => state_dir().join(format!(
            "ingest_log{}_pid{}.log",
            timestamp(),
            std::process::id()
        )),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let tee = Tee {
        file: Mutex::new(out),
    };
    let _ = builder(level)
        .target(env_logger::Target::Pipe(Box::new(tee)))
        .try_init();
    Ok(path)
}

/// Sends log records to stderr only (commands that keep no log file, such as `check`).
pub fn to_stderr(level: log::LevelFilter) {
    let _ = builder(level).target(env_logger::Target::Stderr).try_init();
}

/// The one filter every command logs through: `-v`'s level, chatty transport crates at
/// warnings, and `BOSS_INGEST_LOG` (`env_logger` syntax, e.g. `boss_ingest=debug`) over both.
fn builder(level: log::LevelFilter) -> env_logger::Builder {
    let mut b = env_logger::Builder::new();
    b.filter_level(level)
        .filter_module("aws_smithy_runtime", log::LevelFilter::Warn)
        .filter_module("aws_config", log::LevelFilter::Warn)
        .filter_module("hyper_util", log::LevelFilter::Warn)
        .filter_module("rustls", log::LevelFilter::Warn)
        // Span enter/exit records of the SDK, one pair per layer per request: noise even at
        // trace level unless asked for by name.
        .filter_module("tracing::span", log::LevelFilter::Warn)
        .parse_env("BOSS_INGEST_LOG");
    b
}

/// Writes every log line to both the file and stderr.
struct Tee {
    file: Mutex<std::fs::File>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        self.file.lock().unwrap_or_else(|p| p.into_inner()).flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(format_timestamp(0), "19700101-000000");
        // 2026-11-28 09:28:04 UTC
        assert_eq!(format_timestamp(1_795_858_084), "20261128-092804");
        // a leap day
        assert_eq!(format_timestamp(951_782_400), "20000229-000000");
    }
}
