//! Constructing a processor, and the handle to it: cheap to clone, safe to share between threads,
//! and every error it returns names the plugin (see `attribution`). One definition for the three
//! kinds; what differs is only the call.

use std::sync::Arc;

use plugin_abi::loader::{self, Library};
use plugin_abi::{ChunkArray, PluginError, ProcessorKind, TileOutput};

use super::attribution::Who;
use super::{Plugins, PluginsError, ProcessorSpec, Source};

impl Plugins {
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
            who.services(self.follow.clone()),
        )
        .map_err(|e| who.constructor_error(e))?;
        Ok((inner, Arc::new(who)))
    }
}

/// A constructed processor. Clone freely; calls may run on any thread.
#[derive(Clone)]
pub struct Handle<P> {
    inner: P,
    who: Arc<Who>,
}

/// A constructed path processor.
pub type PathHandle = Handle<loader::PathProcessor>;
/// A constructed tile processor.
pub type TileHandle = Handle<loader::TileProcessor>;
/// A constructed chunk processor.
pub type ChunkHandle = Handle<loader::ChunkProcessor>;

impl<P> Handle<P> {
    /// `library::Class`.
    pub fn name(&self) -> String {
        self.who.name()
    }

    pub fn source(&self) -> &Source {
        &self.who.source
    }
}

impl PathHandle {
    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.inner
            .path(x, y, z, t)
            .map_err(|e| self.who.call_error(e))
    }
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
}

impl ChunkHandle {
    pub fn chunk(&self, path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        self.inner
            .chunk(path, x, y, z)
            .map_err(|e| self.who.call_error(e))
    }
}

#[cfg(test)]
mod tests {
    use plugin_abi::ErrorKind;
    use serde_json::json;

    use super::super::test_support::{error_text, job, nowhere, spec};
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
