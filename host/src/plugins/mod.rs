//! Finding, loading and resolving processor classes: the built-in plugins compiled into this
//! binary and user plugin libraries (`.so`/`.dylib`) loaded at run time.
//!
//! A processor in a config is a class name, optionally with a library:
//! - a legacy Python name (`ingestclient.plugins.stack.ZindexStackTileProcessor`) or a built-in
//!   class name resolves to the built-in plugin that claims it; an `ingestclient.plugins.<m>.*`
//!   name no built-in claims is looked up in a library named `<m>` on the search path;
//! - `"<library>::<Class>"`, or `"class": "<Class>"` with `"plugin": "<library>"`, names a
//!   library: a path to the file, or a name found on the [`SearchPath`] (or a built-in's name).
//!
//! Built-ins are registered through the very root module an external library exports, so both
//! go through the same code. Libraries are loaded once per process (cached by canonical path)
//! and never unloaded. Processor handles are cheap to clone and safe to share between threads.
//!
//! # Layout
//! - `attribution`: which plugin and class a processor is; its errors rewritten to say so.
//! - `cache`: where a library came from, and loading each library file once.
//! - `listing`: what `boss-ingest plugins` shows.
//! - `resolve`: a config's class name → a built-in or library and the class within it.
//! - [`search`]: the search path and finding a library file by name.
//! - [`error`]: [`PluginsError`], one readable paragraph per failure.
//! - [`services`]: the host services (local, `s3://` and `http(s)://` reads, logging) plugins get.

mod attribution;
mod cache;
pub mod error;
mod listing;
pub mod optional;
mod resolve;
pub mod search;
pub mod services;
#[cfg(test)]
mod test_support;

use std::sync::Arc;

use plugin_abi::loader::{self, Library};
use plugin_abi::{ChunkArray, PluginError, ProcessorKind, TileOutput};

pub use cache::Source;
pub use error::PluginsError;
pub use listing::{FoundLibrary, LibraryInfo, Listing};
pub use resolve::ProcessorSpec;
pub use search::{SearchDir, SearchPath};

use attribution::Who;
use cache::Loaded;

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
    search: SearchPath,
    builtins: Vec<Loaded>,
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
        }
    }

    pub fn search_path(&self) -> &SearchPath {
        &self.search
    }

    /// Constructs the path processor `spec` names.
    pub fn path_processor(&self, spec: &ProcessorSpec) -> Result<PathHandle, PluginsError> {
        let (inner, who) = self.construct(spec, ProcessorKind::Path, Library::path_processor)?;
        Ok(PathHandle { inner, who })
    }

    /// Constructs the tile processor `spec` names.
    pub fn tile_processor(&self, spec: &ProcessorSpec) -> Result<TileHandle, PluginsError> {
        let (inner, who) = self.construct(spec, ProcessorKind::Tile, Library::tile_processor)?;
        Ok(TileHandle { inner, who })
    }

    /// Constructs the chunk processor `spec` names.
    pub fn chunk_processor(&self, spec: &ProcessorSpec) -> Result<ChunkHandle, PluginsError> {
        let (inner, who) = self.construct(spec, ProcessorKind::Chunk, Library::chunk_processor)?;
        Ok(ChunkHandle { inner, who })
    }

    /// Resolves `spec` to a library and class of `kind`, and runs that library's constructor
    /// with the params and host services; a refusal or panic names the plugin and class.
    fn construct<P>(
        &self,
        spec: &ProcessorSpec,
        kind: ProcessorKind,
        new: impl FnOnce(&Library, &str, &str, Arc<dyn plugin_abi::HostApi>) -> Result<P, PluginError>,
    ) -> Result<(P, Arc<Who>), PluginsError> {
        let (loaded, class) = self.resolve(spec, kind)?;
        let who = Who::new(&loaded, &class);
        let inner = new(
            &loaded.library,
            &class,
            &spec.params.to_string(),
            who.services(),
        )
        .map_err(|e| who.constructor_error(e))?;
        Ok((inner, Arc::new(who)))
    }
}

/// A constructed path processor. Clone freely; calls may run on any thread.
#[derive(Clone)]
pub struct PathHandle {
    inner: loader::PathProcessor,
    who: Arc<Who>,
}

impl PathHandle {
    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.inner
            .path(x, y, z, t)
            .map_err(|e| self.who.call_error(e))
    }

    /// `library::Class`.
    pub fn name(&self) -> String {
        self.who.name()
    }

    pub fn source(&self) -> &Source {
        &self.who.source
    }
}

/// A constructed tile processor. Clone freely; calls may run on any thread.
#[derive(Clone)]
pub struct TileHandle {
    inner: loader::TileProcessor,
    who: Arc<Who>,
}

impl TileHandle {
    pub fn tile(
        &self,
        path: &str,
        x: u64,
        y: u64,
        z: u64,
        t: u64,
    ) -> Result<TileOutput, PluginError> {
        self.inner
            .tile(path, x, y, z, t)
            .map_err(|e| self.who.call_error(e))
    }

    /// `library::Class`.
    pub fn name(&self) -> String {
        self.who.name()
    }

    pub fn source(&self) -> &Source {
        &self.who.source
    }
}

/// A constructed chunk processor. Clone freely; calls may run on any thread.
#[derive(Clone)]
pub struct ChunkHandle {
    inner: loader::ChunkProcessor,
    who: Arc<Who>,
}

impl ChunkHandle {
    pub fn chunk(&self, path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        self.inner
            .chunk(path, x, y, z)
            .map_err(|e| self.who.call_error(e))
    }

    /// `library::Class`.
    pub fn name(&self) -> String {
        self.who.name()
    }

    pub fn source(&self) -> &Source {
        &self.who.source
    }
}

#[cfg(test)]
mod tests {
    use plugin_abi::ErrorKind;
    use serde_json::json;

    use super::test_support::{error_text, job, nowhere, spec};
    #[test]
    fn params_rejected_by_the_plugin_carry_its_message() {
        let (_d, plugins) = nowhere();
        let text = error_text(plugins.tile_processor(&spec(
            "testing::PanickingTileProcessor",
            None,
            job(),
        )));
        assert_eq!(
            text,
            "testing::PanickingTileProcessor (built into boss-ingest) rejected its params: \
             PanickingTileProcessor needs an integer param \"panic_at_z\""
        );
    }

    #[test]
    fn a_panicking_processor_costs_one_call_and_names_itself() {
        let (_d, plugins) = nowhere();
        let mut params = job();
        params["panic_at_z"] = json!(3);
        let tile = plugins
            .tile_processor(&spec("testing::PanickingTileProcessor", None, params))
            .unwrap();
        let err = tile.tile("", 0, 0, 3, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panic);
        assert!(
            err.message.starts_with(
                "the plugin testing::PanickingTileProcessor (built into boss-ingest) panicked at "
            ),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with(
                ": PanickingTileProcessor: deliberate panic at z=3; this is a bug in the plugin"
            ),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("testing/src/lib.rs:"),
            "{}",
            err.message
        );
        // The same handle keeps working for other tiles.
        assert!(tile.tile("", 0, 0, 4, 0).is_ok());
    }
}
