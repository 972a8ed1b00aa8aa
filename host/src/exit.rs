//! Exit codes: the contract scripts and cluster schedulers rely on, documented in the README.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success: job complete (with `-m`, everything uploaded); `check`/`verify` found nothing wrong |
//! | 1 | finished, but some tiles were quarantined or (`--follow`) still missing at the follow timeout (ingest: the job stays open to resume), or are bad (`check`, `verify`) |
//! | 2 | usage or config error: fix the command line or the config file, then run again |
//! | 3 | service or job error: the Boss or AWS refused or failed; the job may be resumable |
//! | 130 | interrupted (Ctrl-C, SIGINT); the job can be resumed with `-j` |
//! | 143 | terminated (SIGTERM, as a scheduler stops a job); the job can be resumed with `-j` |
//!
//! A command returns `Ok(Code)` when it ran to its end (0, 1, 130 or 143) and `Err` when it could
//! not.
//! [`code_for`] picks the code of an error: the outermost [`Coded`] marker in its chain wins
//! (attach one with [`ResultExt::exit_code`] or [`with_code`]); otherwise errors of known types
//! map by type (config and command-line errors → 2); anything else is a service or job error (3).

use std::fmt;

/// The process exit codes of `boss-ingest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    Ok = 0,
    /// The run ended with the job incomplete but resumable: tiles quarantined, or `--follow`
    /// gave up waiting for sources. `check`/`verify`: bad tiles.
    Quarantined = 1,
    Usage = 2,
    Service = 3,
    Interrupted = 130,
    Terminated = 143,
}

impl Code {
    /// The number the process exits with.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

impl From<Code> for std::process::ExitCode {
    fn from(code: Code) -> Self {
        // All codes are below 256 by construction.
        std::process::ExitCode::from(code as u8)
    }
}

/// An error that says which exit code it deserves. It displays as the error it wraps, so marking
/// an error does not change what the user reads.
pub struct Coded {
    code: Code,
    error: anyhow::Error,
}

impl Coded {
    pub fn code(&self) -> Code {
        self.code
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only this layer's message: `{:#}` on the outer error walks `source()` for the rest.
        fmt::Display::fmt(&self.error, f)
    }
}

impl fmt::Debug for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (exit code {})", self.error, self.code.as_i32())
    }
}

impl std::error::Error for Coded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Marks `error` with the exit code it deserves.
pub fn with_code(code: Code, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        error: error.into(),
    })
}

/// `.exit_code(Code::Service)` on any result whose error converts into `anyhow::Error`.
pub trait ResultExt<T> {
    fn exit_code(self, code: Code) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn exit_code(self, code: Code) -> anyhow::Result<T> {
        self.map_err(|e| with_code(code, e))
    }
}

/// The exit code for an error that ended a command (module docs).
pub fn code_for(error: &anyhow::Error) -> Code {
    for cause in error.chain() {
        if let Some(coded) = cause.downcast_ref::<Coded>() {
            return coded.code;
        }
    }
    for cause in error.chain() {
        if cause.is::<crate::config::ConfigError>()
            || cause.is::<boss_protocol::config::Invalid>()
            || cause.is::<crate::cli::UsageError>()
            || cause.is::<clap::Error>()
        {
            return Code::Usage;
        }
    }
    Code::Service
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn numbers_are_the_documented_ones() {
        let codes = [
            Code::Ok,
            Code::Quarantined,
            Code::Usage,
            Code::Service,
            Code::Interrupted,
            Code::Terminated,
        ];
        assert_eq!(codes.map(Code::as_i32), [0, 1, 2, 3, 130, 143]);
    }

    #[test]
    fn marker_survives_outer_context_and_keeps_the_message() {
        let inner: anyhow::Result<()> = Err(anyhow::anyhow!("HTTP 503 from the Boss"));
        let err = inner
            .exit_code(Code::Service)
            .context("while joining job 7")
            .unwrap_err();
        assert_eq!(code_for(&err), Code::Service);
        assert_eq!(
            format!("{err:#}"),
            "while joining job 7: HTTP 503 from the Boss"
        );
    }

    #[test]
    fn outermost_marker_wins() {
        let err = with_code(Code::Usage, with_code(Code::Service, anyhow::anyhow!("x")));
        assert_eq!(code_for(&err), Code::Usage);
    }

    #[test]
    fn known_types_map_without_a_marker() {
        let invalid = boss_protocol::config::Invalid {
            problems: vec!["bad".into()],
        };
        let err = anyhow::Error::new(invalid).context("config.json");
        assert_eq!(code_for(&err), Code::Usage);
        let usage = anyhow::Error::new(crate::cli::UsageError::NoConfig);
        assert_eq!(code_for(&usage), Code::Usage);
    }

    #[test]
    fn unknown_errors_are_service_errors() {
        assert_eq!(
            code_for(&anyhow::anyhow!("connection reset")),
            Code::Service
        );
    }
}
