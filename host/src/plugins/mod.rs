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
//! - `cache`: where a library came from, and loading each library file once.
//! - `listing`: what `boss-ingest plugins` shows.
//! - [`search`]: the search path and finding a library file by name.
//! - [`error`]: [`PluginsError`], one readable paragraph per failure.
//! - [`services`]: the host services (local, `s3://` and `http(s)://` reads, logging) plugins get.

mod cache;
pub mod error;
mod listing;
pub mod optional;
pub mod search;
pub mod services;

use std::path::Path;
use std::sync::Arc;

use plugin_abi::loader::{self, Library};
use plugin_abi::{ChunkArray, ClassInfo, ErrorKind, PluginError, ProcessorKind, TileOutput};

pub use cache::Source;
pub use error::PluginsError;
pub use listing::{FoundLibrary, LibraryInfo, Listing};
pub use search::{SearchDir, SearchPath};

use cache::{load, Loaded};
use services::Services;

/// A processor as a config names it: `class`, optional `plugin` (library), and its params (with
/// the job's `ingest_job` section already added).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorSpec {
    pub class: String,
    pub plugin: Option<String>,
    pub params: serde_json::Value,
}

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

    /// Finds the library and the class name within it for `spec`.
    fn resolve(
        &self,
        spec: &ProcessorSpec,
        kind: ProcessorKind,
    ) -> Result<(Loaded, String), PluginsError> {
        let (library, class) = match (&spec.plugin, spec.class.rsplit_once("::")) {
            (Some(library), _) => (Some(library.as_str()), spec.class.as_str()),
            (None, Some((library, class))) => (Some(library), class),
            (None, None) => (None, spec.class.as_str()),
        };
        match library {
            Some(library) => {
                let loaded = self.library(library, class)?;
                let class = find_class(&loaded, class, kind)?;
                Ok((loaded, class))
            }
            None => self.resolve_unqualified(class, kind),
        }
    }

    /// A class without a library: a built-in's legacy or own name, or an
    /// `ingestclient.plugins.<module>.<Class>` name served by a library `<module>`.
    fn resolve_unqualified(
        &self,
        class: &str,
        kind: ProcessorKind,
    ) -> Result<(Loaded, String), PluginsError> {
        let answers = |c: &ClassInfo| c.name == class || c.legacy_names.iter().any(|n| n == class);
        for b in &self.builtins {
            if let Some(c) = b
                .library
                .classes()
                .iter()
                .find(|c| c.kind == kind && answers(c))
            {
                return Ok((b.clone(), c.name.clone()));
            }
        }
        let other_kind = self
            .builtins
            .iter()
            .flat_map(|b| b.library.classes())
            .find(|c| answers(c))
            .map(|c| c.kind);
        if let Some(actual) = other_kind {
            return Err(PluginsError::UnknownClass {
                class: class.to_string(),
                kind,
                hint: Some(format!("a built-in {actual} processor has that name")),
            });
        }
        if let Some(module) = legacy_module(class) {
            // An optional plugin kept out of the binary (HDF5) is found by its library name.
            let optional = optional::for_class(class);
            let module = optional.map_or(module, |o| o.library);
            let found = self.search.find(module);
            match found.as_slice() {
                [] => {
                    if let Some(o) = optional {
                        let dirs: Vec<String> =
                            self.search.dirs().iter().map(|d| d.to_string()).collect();
                        return Err(o.not_installed(class, kind, &dirs).into());
                    }
                    return Err(PluginsError::UnknownClass {
                        class: class.to_string(),
                        kind,
                        hint: Some(format!(
                            "nor is there a plugin library \"{module}\" ({}) on the plugin \
                             search path",
                            search::library_file_name(module)
                        )),
                    });
                }
                [path] => {
                    let loaded = load(path)?;
                    // The library may list the dotted name as a legacy name, or just the class.
                    let short = class.rsplit('.').next().unwrap_or(class);
                    let name = find_class(&loaded, class, kind)
                        .or_else(|e| find_class(&loaded, short, kind).map_err(|_| e))?;
                    return Ok((loaded, name));
                }
                _ => {
                    return Err(PluginsError::Ambiguous {
                        name: module.to_string(),
                        places: found.iter().map(|p| p.display().to_string()).collect(),
                    })
                }
            }
        }
        Err(PluginsError::UnknownClass {
            class: class.to_string(),
            kind,
            hint: None,
        })
    }

    /// The library a config names: a path, a built-in's name, or a name on the search path.
    fn library(&self, library: &str, class: &str) -> Result<Loaded, PluginsError> {
        if search::is_path(library) {
            return load(Path::new(library));
        }
        let builtin = self.builtins.iter().find(|b| b.library.name() == library);
        let found = self.search.find(library);
        match (builtin, found.as_slice()) {
            (Some(b), []) => Ok(b.clone()),
            (None, [path]) => load(path),
            (None, []) => Err(PluginsError::LibraryNotFound {
                name: library.to_string(),
                class: class.to_string(),
                file: search::library_file_name(library),
                searched: self.search.dirs().iter().map(|d| d.to_string()).collect(),
            }),
            (builtin, paths) => Err(PluginsError::Ambiguous {
                name: library.to_string(),
                places: builtin
                    .map(|_| Source::BuiltIn.to_string())
                    .into_iter()
                    .chain(paths.iter().map(|p| p.display().to_string()))
                    .collect(),
            }),
        }
    }
}

/// `stack` for `ingestclient.plugins.stack.ZindexStackTileProcessor`.
fn legacy_module(class: &str) -> Option<&str> {
    let rest = class.strip_prefix("ingestclient.plugins.")?;
    let (module, _class) = rest.split_once('.')?;
    Some(module)
}

/// The class of `kind` in `loaded` that `class` names (by its name or a legacy name).
fn find_class(loaded: &Loaded, class: &str, kind: ProcessorKind) -> Result<String, PluginsError> {
    let classes = loaded.library.classes();
    let answers = |c: &&ClassInfo| c.name == class || c.legacy_names.iter().any(|n| n == class);
    if let Some(c) = classes.iter().filter(|c| c.kind == kind).find(answers) {
        return Ok(c.name.clone());
    }
    Err(PluginsError::ClassNotFound {
        library: loaded.library.name().to_string(),
        origin: loaded.source.to_string(),
        class: class.to_string(),
        kind,
        actual_kind: classes.iter().find(answers).map(|c| c.kind),
        available: classes.iter().map(|c| (c.name.clone(), c.kind)).collect(),
    })
}

/// Which processor a handle is, for messages.
#[derive(Debug)]
struct Who {
    library: String,
    class: String,
    source: Source,
}

impl Who {
    fn new(loaded: &Loaded, class: &str) -> Who {
        Who {
            library: loaded.library.name().to_string(),
            class: class.to_string(),
            source: loaded.source.clone(),
        }
    }

    fn services(&self) -> Arc<dyn plugin_abi::HostApi> {
        Arc::new(Services::new(&self.library, &self.class))
    }

    fn constructor_error(&self, e: PluginError) -> PluginsError {
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
    fn call_error(&self, e: PluginError) -> PluginError {
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

    fn name(&self) -> String {
        format!("{}::{}", self.library, self.class)
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
    use super::*;
    use plugin_abi::TileImage;
    use serde_json::json;

    fn spec(class: &str, plugin: Option<&str>, params: serde_json::Value) -> ProcessorSpec {
        ProcessorSpec {
            class: class.to_string(),
            plugin: plugin.map(str::to_string),
            params,
        }
    }

    fn job() -> serde_json::Value {
        json!({"ingest_job": {"tile_size": {"x": 4, "y": 2, "z": 1, "t": 1}}})
    }

    fn nowhere() -> (tempfile::TempDir, Plugins) {
        let dir = tempfile::tempdir().unwrap();
        let plugins = Plugins::new(SearchPath::explicit([dir.path().to_path_buf()]));
        (dir, plugins)
    }

    #[test]
    fn legacy_python_names_resolve_to_builtins() {
        let (_d, plugins) = nowhere();
        let tile = plugins
            .tile_processor(&spec(
                "ingestclient.plugins.tile.TestRandomTileProcessor",
                None,
                job(),
            ))
            .unwrap();
        assert_eq!(tile.name(), "testing::TestRandomTileProcessor");
        assert_eq!(tile.source(), &Source::BuiltIn);
        let out = tile.tile("", 0, 0, 0, 0).unwrap();
        let TileImage::Raw { width, height, .. } = out.image else {
            panic!("expected raw pixels, got {:?}", out.image)
        };
        assert_eq!((width, height), (4, 2));
    }

    #[test]
    fn library_qualified_names_resolve_both_ways() {
        let (_d, plugins) = nowhere();
        let a = plugins
            .path_processor(&spec("testing::TestPassThroughPathProcessor", None, job()))
            .unwrap();
        let b = plugins
            .path_processor(&spec(
                "TestPassThroughPathProcessor",
                Some("testing"),
                job(),
            ))
            .unwrap();
        assert_eq!(a.path(1, 2, 3, 0).unwrap(), "");
        assert_eq!(b.name(), "testing::TestPassThroughPathProcessor");
    }

    fn error_text<T>(r: Result<T, PluginsError>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn class_not_in_library_lists_its_classes() {
        let (_d, plugins) = nowhere();
        let text = error_text(plugins.tile_processor(&spec("testing::Nope", None, job())));
        assert_eq!(
            text,
            "plugin library \"testing\" (built into boss-ingest) has no tile processor class \
             \"Nope\"; its classes are: TestPathProcessor (path), TestPassThroughPathProcessor \
             (path), TestTileProcessor (tile), TestRandomTileProcessor (tile), \
             PanickingTileProcessor (tile), TestPatternPathProcessor (path), \
             TestPatternChunkProcessor (chunk)."
        );
        let text =
            error_text(plugins.tile_processor(&spec("TestPathProcessor", Some("testing"), job())));
        assert!(
            text.starts_with(
                "plugin library \"testing\" (built into boss-ingest) has no tile processor class \
                 \"TestPathProcessor\" (it has a path processor of that name); its classes are: "
            ),
            "{text}"
        );
    }

    #[test]
    fn unknown_classes_say_how_to_name_a_library() {
        let (_d, plugins) = nowhere();
        let text = error_text(plugins.tile_processor(&spec("MyTileProcessor", None, job())));
        assert_eq!(
            text,
            "unknown tile processor class \"MyTileProcessor\": no built-in plugin provides it. To \
             use a class from a plugin library, write \"<library>::<Class>\" or add \"plugin\": \
             \"<library>\" next to \"class\"; `boss-ingest plugins` lists what is available."
        );
        let text = error_text(plugins.path_processor(&spec(
            "ingestclient.plugins.mylab.MyPathProcessor",
            None,
            job(),
        )));
        assert!(
            text.starts_with(&format!(
                "unknown path processor class \"ingestclient.plugins.mylab.MyPathProcessor\": \
                 no built-in plugin provides it (nor is there a plugin library \"mylab\" ({}) on \
                 the plugin search path).",
                search::library_file_name("mylab")
            )),
            "{text}"
        );
        let text = error_text(plugins.path_processor(&spec(
            "ingestclient.plugins.tile.TestTileProcessor",
            None,
            job(),
        )));
        assert!(
            text.contains(
                "no built-in plugin provides it (a built-in tile processor has that name)"
            ),
            "{text}"
        );
    }

    #[test]
    fn library_not_found_lists_every_place_searched() {
        let (dir, plugins) = nowhere();
        let text = error_text(plugins.tile_processor(&spec("mylib::MyTile", None, job())));
        assert_eq!(
            text,
            format!(
                "plugin library \"mylib\" (for processor class \"MyTile\") was not found: looked \
                 for {} in {} (given). Put the library in one of these directories, add its \
                 directory to BOSS_INGEST_PLUGIN_PATH, or give the library's path as \"plugin\".",
                search::library_file_name("mylib"),
                dir.path().display()
            )
        );
    }

    #[test]
    fn a_name_that_is_a_builtin_and_a_file_is_ambiguous() {
        let (dir, plugins) = nowhere();
        let file = dir.path().join(search::library_file_name("testing"));
        std::fs::write(&file, b"not loaded: the ambiguity is found first").unwrap();
        let text =
            error_text(plugins.tile_processor(&spec("TestTileProcessor", Some("testing"), job())));
        assert_eq!(
            text,
            format!(
                "plugin library \"testing\" was found in more than one place: built into \
                 boss-ingest and {}. Remove all but one, or give the path of the one you mean as \
                 \"plugin\".",
                file.display()
            )
        );
    }

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
