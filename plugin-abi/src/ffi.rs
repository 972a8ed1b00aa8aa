//! The `#[repr(C)]` side of the interface: the root module a library exports, the processor and
//! host-service trait objects, and the data types as they travel. This is the only module that
//! names abi_stable; everything else in the crate (and every plugin and the host) uses the plain
//! types of `types` and `error`, converted here at the boundary.
//!
//! Changing anything in this file changes the ABI: read the rules in the crate docs first.

// `#[sabi_trait]` expands to impls inside a const block, which this lint flags; the expansion is
// abi_stable's and sound.
#![allow(non_local_definitions)]

use abi_stable::library::RootModule;
use abi_stable::sabi_trait;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, RResult, RStr, RString, RVec};
use abi_stable::StableAbi;

use crate::error::{ErrorKind, PluginError};
use crate::types::{
    AxisOrder, ChunkArray, ClassInfo, Dtype, ImageFormat, Note, NoteKind, ProcessorKind, TileImage,
    TileOutput,
};

/// A [`PluginError`] as it crosses the boundary.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiError {
    pub kind: u32,
    pub message: RString,
}

impl From<PluginError> for FfiError {
    fn from(e: PluginError) -> FfiError {
        FfiError {
            kind: e.kind.code(),
            message: e.message.into(),
        }
    }
}

impl From<FfiError> for PluginError {
    fn from(e: FfiError) -> PluginError {
        PluginError {
            kind: ErrorKind::from_code(e.kind),
            message: e.message.into_string(),
        }
    }
}

#[repr(C)]
#[derive(StableAbi)]
pub struct FfiNote {
    pub kind: u32,
    pub message: RString,
}

/// A [`TileImage`]: `encoded` 1 with `format` and `bytes`, or 0 with `width`, `height`, `dtype`
/// and the raw samples in `bytes`.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiTileImage {
    pub encoded: u32,
    pub format: u32,
    pub width: u32,
    pub height: u32,
    pub dtype: u32,
    pub bytes: RVec<u8>,
}

#[repr(C)]
#[derive(StableAbi)]
pub struct FfiTileOutput {
    pub image: FfiTileImage,
    pub notes: RVec<FfiNote>,
}

#[repr(C)]
#[derive(StableAbi)]
pub struct FfiChunkArray {
    pub shape: RVec<u64>,
    pub order: u32,
    pub dtype: u32,
    pub data: RVec<u8>,
    pub notes: RVec<FfiNote>,
}

#[repr(C)]
#[derive(StableAbi)]
pub struct FfiClassInfo {
    pub name: RString,
    pub kind: u32,
    pub legacy_names: RVec<RString>,
    pub description: RString,
}

/// What a library says about itself.
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiDescription {
    pub library: RString,
    pub description: RString,
    pub classes: RVec<FfiClassInfo>,
}

/// One HTTP request header (`name: value`) for [`FfiHost::http_get`].
#[repr(C)]
#[derive(StableAbi)]
pub struct FfiHeader {
    pub name: RString,
    pub value: RString,
}

/// Services the host gives each processor at construction.
#[sabi_trait]
pub trait FfiHost: Send + Sync {
    fn read(&self, location: RStr<'_>) -> RResult<RVec<u8>, FfiError>;
    fn read_range(&self, location: RStr<'_>, offset: u64, len: u64) -> RResult<RVec<u8>, FfiError>;
    fn size(&self, location: RStr<'_>) -> RResult<u64, FfiError>;
    #[sabi(last_prefix_field)]
    fn log(&self, level: u32, message: RStr<'_>);

    /// GET an `http(s)://` URL with extra request headers. After the last prefix field: a host
    /// whose services lack it runs this default body instead, so a plugin gets an error saying
    /// so rather than undefined behaviour.
    fn http_get(&self, url: RStr<'_>, headers: RVec<FfiHeader>) -> RResult<RVec<u8>, FfiError> {
        let _ = headers;
        RResult::RErr(FfiError {
            kind: ErrorKind::Unsupported.code(),
            message: format!(
                "{url}: this boss-ingest cannot send HTTP request headers for plugins; \
                 upgrade boss-ingest"
            )
            .into(),
        })
    }
}

/// A boxed host-services object, owned by the plugin that received it.
pub type FfiHostBox = FfiHost_TO<'static, RBox<()>>;

#[sabi_trait]
pub trait FfiPath: Send + Sync {
    #[sabi(last_prefix_field)]
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> RResult<RString, FfiError>;
}

pub type FfiPathBox = FfiPath_TO<'static, RBox<()>>;

#[sabi_trait]
pub trait FfiTile: Send + Sync {
    #[sabi(last_prefix_field)]
    fn tile(
        &self,
        path: RStr<'_>,
        x: u64,
        y: u64,
        z: u64,
        t: u64,
    ) -> RResult<FfiTileOutput, FfiError>;
}

pub type FfiTileBox = FfiTile_TO<'static, RBox<()>>;

#[sabi_trait]
pub trait FfiChunk: Send + Sync {
    #[sabi(last_prefix_field)]
    fn chunk(&self, path: RStr<'_>, x: u64, y: u64, z: u64) -> RResult<FfiChunkArray, FfiError>;
}

pub type FfiChunkBox = FfiChunk_TO<'static, RBox<()>>;

/// The root module every plugin library exports (see the crate docs for how it may evolve). A
/// field added after the `last_prefix_field` reads as `Option` (absent in older libraries).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef, prefix_fields = PluginModule_Prefix)))]
pub struct PluginModule {
    /// The plugin-abi version the library was compiled against.
    pub abi_version: RStr<'static>,
    pub describe: extern "C" fn() -> FfiDescription,
    /// (class, params JSON text, host services) → processor.
    pub new_path: extern "C" fn(RStr<'_>, RStr<'_>, FfiHostBox) -> RResult<FfiPathBox, FfiError>,
    pub new_tile: extern "C" fn(RStr<'_>, RStr<'_>, FfiHostBox) -> RResult<FfiTileBox, FfiError>,
    #[sabi(last_prefix_field)]
    pub new_chunk: extern "C" fn(RStr<'_>, RStr<'_>, FfiHostBox) -> RResult<FfiChunkBox, FfiError>,
}

impl RootModule for PluginModuleRef {
    abi_stable::declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "boss_ingest_plugin";
    const NAME: &'static str = "boss-ingest plugin";
    const VERSION_STRINGS: VersionStrings = abi_stable::package_version_strings!();
}

// ---- conversions between the plain types and their boundary twins ----

impl From<TileOutput> for FfiTileOutput {
    fn from(t: TileOutput) -> FfiTileOutput {
        let image = match t.image {
            TileImage::Encoded { format, bytes } => FfiTileImage {
                encoded: 1,
                format: format.code(),
                width: 0,
                height: 0,
                dtype: 0,
                bytes: bytes.into(),
            },
            TileImage::Raw {
                width,
                height,
                dtype,
                data,
            } => FfiTileImage {
                encoded: 0,
                format: 0,
                width,
                height,
                dtype: dtype.code(),
                bytes: data.into(),
            },
        };
        FfiTileOutput {
            image,
            notes: notes_to_ffi(t.notes),
        }
    }
}

fn notes_to_ffi(notes: Vec<Note>) -> RVec<FfiNote> {
    notes
        .into_iter()
        .map(|n| FfiNote {
            kind: n.kind.code(),
            message: n.message.into(),
        })
        .collect()
}

fn notes_from_ffi(notes: RVec<FfiNote>) -> Vec<Note> {
    notes
        .into_iter()
        .map(|n| Note {
            kind: NoteKind::from_code(n.kind),
            message: n.message.into_string(),
        })
        .collect()
}

fn newer_abi(what: &str, code: u32) -> PluginError {
    PluginError::other(format!(
        "the plugin returned unknown {what} code {code}; it was probably built against a newer \
         plugin-abi than this boss-ingest"
    ))
}

impl TryFrom<FfiTileOutput> for TileOutput {
    type Error = PluginError;

    fn try_from(t: FfiTileOutput) -> Result<TileOutput, PluginError> {
        let i = t.image;
        let image = if i.encoded != 0 {
            TileImage::Encoded {
                format: ImageFormat::from_code(i.format)
                    .ok_or_else(|| newer_abi("image format", i.format))?,
                bytes: i.bytes.into_vec(),
            }
        } else {
            TileImage::Raw {
                width: i.width,
                height: i.height,
                dtype: Dtype::from_code(i.dtype).ok_or_else(|| newer_abi("dtype", i.dtype))?,
                data: i.bytes.into_vec(),
            }
        };
        Ok(TileOutput {
            image,
            notes: notes_from_ffi(t.notes),
        })
    }
}

impl From<ChunkArray> for FfiChunkArray {
    fn from(c: ChunkArray) -> FfiChunkArray {
        FfiChunkArray {
            shape: c.shape.into(),
            order: c.order.code(),
            dtype: c.dtype.code(),
            data: c.data.into(),
            notes: notes_to_ffi(c.notes),
        }
    }
}

impl TryFrom<FfiChunkArray> for ChunkArray {
    type Error = PluginError;

    fn try_from(c: FfiChunkArray) -> Result<ChunkArray, PluginError> {
        Ok(ChunkArray {
            shape: c.shape.into_vec(),
            order: AxisOrder::from_code(c.order).ok_or_else(|| newer_abi("axis order", c.order))?,
            dtype: Dtype::from_code(c.dtype).ok_or_else(|| newer_abi("dtype", c.dtype))?,
            data: c.data.into_vec(),
            notes: notes_from_ffi(c.notes),
        })
    }
}

impl From<&ClassInfo> for FfiClassInfo {
    fn from(c: &ClassInfo) -> FfiClassInfo {
        FfiClassInfo {
            name: c.name.as_str().into(),
            kind: c.kind.code(),
            legacy_names: c.legacy_names.iter().map(|n| n.as_str().into()).collect(),
            description: c.description.as_str().into(),
        }
    }
}

impl FfiClassInfo {
    /// The plain class info, or `None` for a kind this plugin-abi does not know (a class from a
    /// newer library, which this host cannot use and so does not list).
    pub fn to_plain(&self) -> Option<ClassInfo> {
        Some(ClassInfo {
            name: self.name.to_string(),
            kind: ProcessorKind::from_code(self.kind)?,
            legacy_names: self.legacy_names.iter().map(|n| n.to_string()).collect(),
            description: self.description.to_string(),
        })
    }
}

pub(crate) fn from_result<T, U>(r: RResult<T, FfiError>) -> Result<U, PluginError>
where
    U: TryFrom<T, Error = PluginError>,
{
    match r {
        RResult::ROk(v) => U::try_from(v),
        RResult::RErr(e) => Err(e.into()),
    }
}
