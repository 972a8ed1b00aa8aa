//! The plugin author's side: the three processor traits, the [`Plugin`] description a library
//! builds (its name and classes with their constructors), and the glue that
//! [`export_plugin!`](crate::export_plugin) wires into a root module.
//!
//! Every call from the host into plugin code passes through [`guard`] here, so a panic in a
//! constructor or processor becomes an [`ErrorKind::Panic`](crate::ErrorKind::Panic) error
//! without the author doing anything.

use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString};

use crate::error::{guard, PluginError};
use crate::ffi::{
    FfiChunk, FfiChunkArray, FfiChunkBox, FfiChunk_TO, FfiDescription, FfiError, FfiHostBox,
    FfiPath, FfiPathBox, FfiPath_TO, FfiTile, FfiTileBox, FfiTileOutput, FfiTile_TO, PluginModule,
    PluginModuleRef,
};
use crate::host_services::HostServices;
use crate::types::{ChunkArray, ClassInfo, ProcessorKind, TileOutput};

/// A path processor: which file (or URL) holds tile `(x, y, z, t)`.
pub trait PathProcess: Send + Sync + 'static {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError>;
}

/// A tile processor: the image for tile `(x, y, z, t)` read from `path`.
pub trait TileProcess: Send + Sync + 'static {
    fn tile(&self, path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError>;
}

/// A chunk processor: the voxels of chunk `(x, y, z)` read from `path`.
pub trait ChunkProcess: Send + Sync + 'static {
    fn chunk(&self, path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError>;
}

/// The params object from the config (with the job's `ingest_job` section added by the host).
pub type Params = serde_json::Value;

type Ctor<T> = Box<dyn Fn(&Params, HostServices) -> Result<T, PluginError> + Send + Sync>;

enum Constructor {
    Path(Ctor<Box<dyn PathProcess>>),
    Tile(Ctor<Box<dyn TileProcess>>),
    Chunk(Ctor<Box<dyn ChunkProcess>>),
}

struct Class {
    info: ClassInfo,
    constructor: Constructor,
}

/// Describes one plugin library: its name, a line about it, and its classes.
///
/// ```
/// use plugin_abi::{Plugin, PathProcess, PluginError};
///
/// struct Fixed(String);
/// impl PathProcess for Fixed {
///     fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
///         Ok(self.0.clone())
///     }
/// }
///
/// fn plugin() -> Plugin {
///     Plugin::new("example", "Example processors").path(
///         "FixedPathProcessor",
///         "Always the same path (params: path)",
///         &[],
///         |params, _host| {
///             let path = params["path"].as_str().ok_or_else(|| {
///                 PluginError::params("FixedPathProcessor needs a string param \"path\"")
///             })?;
///             Ok(Fixed(path.to_string()))
///         },
///     )
/// }
/// plugin_abi::export_plugin!(plugin);
/// # fn main() { assert_eq!(root_module().abi_version().as_str(), plugin_abi::ABI_VERSION); }
/// ```
pub struct Plugin {
    library: String,
    description: String,
    classes: Vec<Class>,
}

impl Plugin {
    /// `library` is the name users write in configs (`"plugin": "<library>"`); the shared library
    /// file is `libboss_ingest_plugin_<library>.so`, built from the crate
    /// `boss_ingest_plugin_<library>` (see the crate docs, "Names").
    pub fn new(library: impl Into<String>, description: impl Into<String>) -> Plugin {
        Plugin {
            library: library.into(),
            description: description.into(),
            classes: Vec::new(),
        }
    }

    fn class(
        mut self,
        name: &str,
        kind: ProcessorKind,
        description: &str,
        legacy_names: &[&str],
        constructor: Constructor,
    ) -> Plugin {
        self.classes.push(Class {
            info: ClassInfo {
                name: name.to_string(),
                kind,
                legacy_names: legacy_names.iter().map(|s| s.to_string()).collect(),
                description: description.to_string(),
            },
            constructor,
        });
        self
    }

    /// Adds a path processor class. `legacy_names` are the dotted Python class names it also
    /// answers to (empty for a new class).
    pub fn path<P, F>(self, name: &str, description: &str, legacy_names: &[&str], new: F) -> Plugin
    where
        P: PathProcess,
        F: Fn(&Params, HostServices) -> Result<P, PluginError> + Send + Sync + 'static,
    {
        let ctor: Ctor<Box<dyn PathProcess>> =
            Box::new(move |p, h| new(p, h).map(|x| Box::new(x) as Box<dyn PathProcess>));
        self.class(
            name,
            ProcessorKind::Path,
            description,
            legacy_names,
            Constructor::Path(ctor),
        )
    }

    /// Adds a tile processor class.
    pub fn tile<P, F>(self, name: &str, description: &str, legacy_names: &[&str], new: F) -> Plugin
    where
        P: TileProcess,
        F: Fn(&Params, HostServices) -> Result<P, PluginError> + Send + Sync + 'static,
    {
        let ctor: Ctor<Box<dyn TileProcess>> =
            Box::new(move |p, h| new(p, h).map(|x| Box::new(x) as Box<dyn TileProcess>));
        self.class(
            name,
            ProcessorKind::Tile,
            description,
            legacy_names,
            Constructor::Tile(ctor),
        )
    }

    /// Adds a chunk processor class.
    pub fn chunk<P, F>(self, name: &str, description: &str, legacy_names: &[&str], new: F) -> Plugin
    where
        P: ChunkProcess,
        F: Fn(&Params, HostServices) -> Result<P, PluginError> + Send + Sync + 'static,
    {
        let ctor: Ctor<Box<dyn ChunkProcess>> =
            Box::new(move |p, h| new(p, h).map(|x| Box::new(x) as Box<dyn ChunkProcess>));
        self.class(
            name,
            ProcessorKind::Chunk,
            description,
            legacy_names,
            Constructor::Chunk(ctor),
        )
    }

    fn find(&self, name: &str, kind: ProcessorKind) -> Result<&Constructor, PluginError> {
        self.classes
            .iter()
            .find(|c| c.info.name == name && c.info.kind == kind)
            .map(|c| &c.constructor)
            .ok_or_else(|| {
                PluginError::params(format!(
                    "library {} has no {kind} processor class {name}",
                    self.library
                ))
            })
    }
}

fn parse_params(class: &str, json: &str) -> Result<Params, PluginError> {
    serde_json::from_str(json)
        .map_err(|e| PluginError::params(format!("params for {class} are not valid JSON: {e}")))
}

// ---- adapters: plain processors behind the boundary traits, every call guarded ----

struct PathAdapter(Box<dyn PathProcess>);
struct TileAdapter(Box<dyn TileProcess>);
struct ChunkAdapter(Box<dyn ChunkProcess>);

fn to_ffi<T, U: From<T>>(r: Result<T, PluginError>) -> RResult<U, FfiError> {
    match r {
        Ok(v) => RResult::ROk(U::from(v)),
        Err(e) => RResult::RErr(e.into()),
    }
}

impl FfiPath for PathAdapter {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> RResult<RString, FfiError> {
        to_ffi(guard(|| self.0.path(x, y, z, t)))
    }
}

impl FfiTile for TileAdapter {
    fn tile(
        &self,
        path: RStr<'_>,
        x: u64,
        y: u64,
        z: u64,
        t: u64,
    ) -> RResult<FfiTileOutput, FfiError> {
        to_ffi(guard(|| self.0.tile(path.as_str(), x, y, z, t)))
    }
}

impl FfiChunk for ChunkAdapter {
    fn chunk(&self, path: RStr<'_>, x: u64, y: u64, z: u64) -> RResult<FfiChunkArray, FfiError> {
        to_ffi(guard(|| self.0.chunk(path.as_str(), x, y, z)))
    }
}

// ---- the root-module glue used by `export_plugin!` ----

/// Implemented by the hidden type `export_plugin!` generates: gives the root module's
/// `extern "C"` functions access to this library's [`Plugin`].
#[doc(hidden)]
pub trait PluginDef: 'static {
    fn plugin() -> &'static Plugin;
}

extern "C" fn describe<D: PluginDef>() -> FfiDescription {
    let p = D::plugin();
    FfiDescription {
        library: p.library.as_str().into(),
        description: p.description.as_str().into(),
        classes: p.classes.iter().map(|c| (&c.info).into()).collect(),
    }
}

extern "C" fn new_path<D: PluginDef>(
    class: RStr<'_>,
    params: RStr<'_>,
    host: FfiHostBox,
) -> RResult<FfiPathBox, FfiError> {
    to_ffi(guard(|| {
        let Constructor::Path(new) = D::plugin().find(class.as_str(), ProcessorKind::Path)? else {
            unreachable!("find matched the kind")
        };
        let p = new(
            &parse_params(class.as_str(), params.as_str())?,
            HostServices::from_ffi(host),
        )?;
        Ok(FfiPath_TO::from_value(PathAdapter(p), TD_Opaque))
    }))
}

extern "C" fn new_tile<D: PluginDef>(
    class: RStr<'_>,
    params: RStr<'_>,
    host: FfiHostBox,
) -> RResult<FfiTileBox, FfiError> {
    to_ffi(guard(|| {
        let Constructor::Tile(new) = D::plugin().find(class.as_str(), ProcessorKind::Tile)? else {
            unreachable!("find matched the kind")
        };
        let p = new(
            &parse_params(class.as_str(), params.as_str())?,
            HostServices::from_ffi(host),
        )?;
        Ok(FfiTile_TO::from_value(TileAdapter(p), TD_Opaque))
    }))
}

extern "C" fn new_chunk<D: PluginDef>(
    class: RStr<'_>,
    params: RStr<'_>,
    host: FfiHostBox,
) -> RResult<FfiChunkBox, FfiError> {
    to_ffi(guard(|| {
        let Constructor::Chunk(new) = D::plugin().find(class.as_str(), ProcessorKind::Chunk)?
        else {
            unreachable!("find matched the kind")
        };
        let p = new(
            &parse_params(class.as_str(), params.as_str())?,
            HostServices::from_ffi(host),
        )?;
        Ok(FfiChunk_TO::from_value(ChunkAdapter(p), TD_Opaque))
    }))
}

/// Builds the root module for `D`. Called once per library by the `root_module()` that
/// `export_plugin!` generates (which keeps the result in its own static: a static here would be
/// shared by every plugin linked into one binary).
#[doc(hidden)]
pub fn module<D: PluginDef>() -> PluginModuleRef {
    PluginModule {
        abi_version: RStr::from_str(crate::ABI_VERSION),
        describe: describe::<D>,
        new_path: new_path::<D>,
        new_tile: new_tile::<D>,
        new_chunk: new_chunk::<D>,
    }
    .leak_into_prefix()
}
