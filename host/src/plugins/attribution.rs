//! Saying whose error it is: which plugin and class a processor is, and rewriting the errors of
//! its constructor and of its calls so that they name it (a panic is the plugin's bug, not the
//! data's).

use std::sync::Arc;

use plugin_abi::{ErrorKind, PluginError};

use super::cache::{Loaded, Source};
use super::services::Services;
use super::PluginsError;
use crate::sources::settle::Settle;

/// Which processor a handle is, for messages.
#[derive(Debug)]
pub(super) struct Who {
    library: String,
    class: String,
    pub(super) source: Source,
}

impl Who {
    pub(super) fn new(loaded: &Loaded, class: &str) -> Who {
        Who {
            library: loaded.library.name().to_string(),
            class: class.to_string(),
            source: loaded.source.clone(),
        }
    }

    pub(super) fn services(&self, follow: Option<Arc<Settle>>) -> Arc<dyn plugin_abi::HostApi> {
        Arc::new(Services::new(&self.library, &self.class, follow))
    }

    pub(super) fn constructor_error(&self, e: PluginError) -> PluginsError {
        let (library, class, origin, message) = (
            self.library.clone(),
            self.class.clone(),
            self.source.to_string(),
            e.message,
        );
        match e.kind {
            ErrorKind::Params => PluginsError::Params {
                library,
                class,
                origin,
                message,
            },
            ErrorKind::Panic => PluginsError::ConstructorPanic {
                library,
                class,
                origin,
                message,
            },
            _ => PluginsError::Constructor {
                library,
                class,
                origin,
                message,
            },
        }
    }

    /// A processor call's error. A panic is the plugin's bug, not the data's: say whose.
    pub(super) fn call_error(&self, e: PluginError) -> PluginError {
        if e.kind != ErrorKind::Panic {
            return e;
        }
        PluginError::new(
            ErrorKind::Panic,
            format!(
                "the plugin {}::{} ({}) {}; this is a bug in the plugin",
                self.library, self.class, self.source, e.message
            ),
        )
    }

    pub(super) fn name(&self) -> String {
        format!("{}::{}", self.library, self.class)
    }
}
