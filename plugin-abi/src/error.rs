//! The one error type that crosses the plugin boundary, and the panic guard that turns a panic
//! inside plugin code into such an error.
//!
//! A panic must never unwind across the boundary: abi_stable aborts the whole host process when
//! one does. Every call into plugin code goes through [`guard`], which the export wrappers apply
//! for the plugin author, so a forgotten `unwrap()` costs one tile, not the run.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

/// An error a processor (or a host service) returns. `message` is written for the user: what
/// went wrong with which file, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
}

/// What kind of failure a [`PluginError`] is, so the host can count and classify them. A code the
/// host does not know arrives as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A source file or object does not exist.
    NotFound,
    /// A source exists but is not a readable image (or not the expected one).
    InvalidImage,
    /// The source's sample type is not one the job accepts.
    Dtype,
    /// The params given to the constructor are wrong.
    Params,
    /// A tile/chunk index outside what the source or the job covers.
    OutOfRange,
    /// Reading the source failed for another reason (network, a server error, ...).
    Io,
    /// Something this plugin or host does not support (yet).
    Unsupported,
    /// Plugin code panicked; the message says where.
    Panic,
    /// The source exists (or may) but refused access: HTTP 401/403, S3 AccessDenied, a local
    /// file without read permission. A plugin tells "forbidden" from "missing" with it (a CATMAID
    /// server answers 403 for tiles it does not have).
    Denied,
    /// The source is not there *yet*: under `--follow` the host's services answer this for a file
    /// that does not exist yet or is still being written, instead of `NotFound`. The host leaves
    /// the tile or chunk for later without counting a failed attempt, so a plugin passes this
    /// kind on unchanged (and never turns it into a black tile or a fill value). A plugin that
    /// knows by itself that a source is incomplete returns it too.
    NotYet,
    Other,
}

impl ErrorKind {
    const ALL: [ErrorKind; 11] = [
        ErrorKind::NotFound,
        ErrorKind::InvalidImage,
        ErrorKind::Dtype,
        ErrorKind::Params,
        ErrorKind::OutOfRange,
        ErrorKind::Io,
        ErrorKind::Unsupported,
        ErrorKind::Panic,
        ErrorKind::Denied,
        ErrorKind::NotYet,
        ErrorKind::Other,
    ];

    pub(crate) fn code(self) -> u32 {
        match self {
            ErrorKind::NotFound => 1,
            ErrorKind::InvalidImage => 2,
            ErrorKind::Dtype => 3,
            ErrorKind::Params => 4,
            ErrorKind::OutOfRange => 5,
            ErrorKind::Io => 6,
            ErrorKind::Unsupported => 7,
            ErrorKind::Panic => 8,
            ErrorKind::Denied => 9,
            // Added after 0.1.0's first kinds: an older host reads it as `Other`.
            ErrorKind::NotYet => 10,
            ErrorKind::Other => 0,
        }
    }

    pub(crate) fn from_code(code: u32) -> ErrorKind {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.code() == code)
            .unwrap_or(ErrorKind::Other)
    }

    /// A short lowercase name for reports (`not found`, `invalid image`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidImage => "invalid image",
            ErrorKind::Dtype => "dtype",
            ErrorKind::Params => "params",
            ErrorKind::OutOfRange => "out of range",
            ErrorKind::Io => "io",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Panic => "panic",
            ErrorKind::Denied => "denied",
            ErrorKind::NotYet => "not yet",
            ErrorKind::Other => "other",
        }
    }
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> PluginError {
        PluginError {
            kind,
            message: message.into(),
        }
    }
    pub fn not_found(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::NotFound, message)
    }
    pub fn invalid_image(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::InvalidImage, message)
    }
    pub fn dtype(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Dtype, message)
    }
    pub fn params(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Params, message)
    }
    pub fn out_of_range(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::OutOfRange, message)
    }
    pub fn io(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Io, message)
    }
    pub fn unsupported(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Unsupported, message)
    }
    pub fn denied(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Denied, message)
    }
    pub fn not_yet(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::NotYet, message)
    }
    pub fn other(message: impl Into<String>) -> PluginError {
        PluginError::new(ErrorKind::Other, message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PluginError {}

thread_local! {
    /// Set while this thread runs plugin code under [`guard`]: the panic hook then records the
    /// panic's location here instead of printing it, because the host reports it as an error.
    static IN_GUARD: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL_HOOK: Once = Once::new();

/// Installs (once per copy of the standard library: each plugin library has its own) a panic hook
/// that remembers where a guarded panic happened and defers every other panic to the hook that
/// was there before.
fn install_hook() {
    INSTALL_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if IN_GUARD.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
                LAST_PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
            } else {
                previous(info);
            }
        }));
    });
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// Runs plugin code, turning a panic into a [`ErrorKind::Panic`] error whose message reads
/// `panicked at src/lib.rs:12:5: the panic message`.
pub fn guard<T>(f: impl FnOnce() -> Result<T, PluginError>) -> Result<T, PluginError> {
    install_hook();
    let was_guarded = IN_GUARD.with(|g| g.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    IN_GUARD.with(|g| g.set(was_guarded));
    match result {
        Ok(result) => result,
        Err(payload) => {
            let message = payload_message(payload.as_ref());
            let location = LAST_PANIC_LOCATION.with(|cell| cell.borrow_mut().take());
            Err(PluginError::new(
                ErrorKind::Panic,
                match location {
                    Some(location) => format!("panicked at {location}: {message}"),
                    None => format!("panicked: {message}"),
                },
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_is_other() {
        for k in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(k.code()), k);
        }
        assert_eq!(ErrorKind::from_code(1000), ErrorKind::Other);
    }

    #[test]
    fn codes_are_frozen() {
        // Codes cross the boundary: a code once given never changes meaning.
        let codes = ErrorKind::ALL.map(ErrorKind::code);
        assert_eq!(codes, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0]);
    }

    #[test]
    fn guard_turns_a_panic_into_an_error_with_its_location() {
        let line = line!() + 1;
        let err = guard::<()>(|| panic!("boom {}", 7)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panic);
        assert_eq!(
            err.message,
            format!("panicked at {}:{line}:34: boom 7", file!())
        );
    }

    #[test]
    fn guard_passes_values_and_errors_through() {
        assert_eq!(guard(|| Ok(5)), Ok(5));
        assert_eq!(
            guard::<()>(|| Err(PluginError::params("bad"))),
            Err(PluginError::params("bad"))
        );
    }
}
