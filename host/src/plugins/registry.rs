//! The plugin registry of one process: the built-in plugins, registered through the same root
//! module an external library exports, and the search path for libraries.

use std::sync::Arc;

use plugin_abi::loader::Library;

use super::cache::{Loaded, Source};
use super::SearchPath;
use crate::sources::settle::Settle;

/// The built-in plugins' root modules, in the order they are searched.
fn builtin_modules() -> Vec<plugin_abi::PluginModuleRef> {
    vec![
        boss_ingest_plugin_stack::root_module(),
        boss_ingest_plugin_testing::root_module(),
        boss_ingest_plugin_multipage_tiff::root_module(),
        boss_ingest_plugin_zarr::root_module(),
        boss_ingest_plugin_cloudvolume::root_module(),
        boss_ingest_plugin_catmaid::root_module(),
        boss_ingest_plugin_intern::root_module(),
    ]
}

/// The plugin registry of one process: built-ins plus the search path for libraries.
pub struct Plugins {
    pub(super) search: SearchPath,
    pub(super) builtins: Vec<Loaded>,
    /// `--follow`: handed to every processor's host services.
    pub(super) follow: Option<Arc<Settle>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("search", &self.search)
            .finish_non_exhaustive()
    }
}

impl Plugins {
    pub fn new(search: SearchPath) -> Plugins {
        Plugins {
            search,
            builtins: builtin_modules()
                .into_iter()
                .map(|m| Loaded {
                    library: Library::from_root_module(m),
                    source: Source::BuiltIn,
                })
                .collect(),
            follow: None,
        }
    }

    /// Processors constructed from here read their sources as `--follow` does: a missing source
    /// is not there yet, a local file is read only once settled (see [`Settle`]).
    pub fn following(mut self, follow: Option<Arc<Settle>>) -> Plugins {
        self.follow = follow;
        self
    }

    pub fn search_path(&self) -> &SearchPath {
        &self.search
    }
}
