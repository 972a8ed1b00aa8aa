//! The second stage of argument handling: from checked settings (`cli`) to what a command runs
//! with — the log set up, the config loaded and validated, its processors constructed, the API
//! token found and the REST client built. Each command asks for the parts it needs; every part
//! is made here once, and every failure carries its exit code (a bad config, class or token is
//! the user's to fix: 2).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::backend::{token, Backend};
use crate::config::{self, JobConfig};
use crate::exit::{Code, ResultExt};
use crate::logging;
use crate::processors::Processors;
use crate::sources::settle::Settle;

/// A job's config with its processors, ready to run.
pub struct Prepared {
    pub job: JobConfig,
    pub processors: Processors,
}

impl Prepared {
    /// Loads and validates `config`, then loads and constructs its processors, before anything
    /// else happens, so a bad class fails at once.
    /// `follow` (`--follow`) makes the processors wait for sources still being written.
    pub fn load(config: &Path, follow: Option<Arc<Settle>>) -> anyhow::Result<Prepared> {
        let job = config::load(config)?;
        let processors = Processors::load(&job, follow).exit_code(Code::Usage)?;
        Ok(Prepared { job, processors })
    }

    /// The REST client for this job's Boss.
    pub fn backend(&self, api_token: Option<&str>) -> anyhow::Result<Backend> {
        backend(&self.job.api_base_url(), api_token)
    }
}

/// Logs to stderr and to `file` (or the default log file); returns the file.
pub fn log_to_file(file: Option<&Path>, level: log::LevelFilter) -> anyhow::Result<PathBuf> {
    let path = logging::to_file(file, level)
        .context("cannot open the log file")
        .exit_code(Code::Usage)?;
    log::info!("logging to {}", path.display());
    Ok(path)
}

/// Logs to `file` and stderr when `-l` names one, else to stderr only (`check`, `plugins`).
pub fn log_to_stderr_or(file: Option<&Path>, level: log::LevelFilter) -> anyhow::Result<()> {
    match file {
        Some(_) => log_to_file(file, level).map(|_| ()),
        None => {
            logging::to_stderr(level);
            Ok(())
        }
    }
}

/// The REST client for the Boss at `base`, with the token from `-a`, `INTERN_TOKEN`,
/// `~/.intern/intern.cfg` or `./token.json`.
pub fn backend(base: &str, api_token: Option<&str>) -> anyhow::Result<Backend> {
    let token = token::lookup(api_token).exit_code(Code::Usage)?;
    // Where it came from, never the token itself.
    log::info!("API token from {}", token.source);
    Backend::new(base, &token.value).context("cannot set up the HTTP client")
}
