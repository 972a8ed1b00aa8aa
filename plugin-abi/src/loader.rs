//! The host's side: load a plugin library (or take a built-in's root module), read its class
//! list, construct processors, and call them through cheap, thread-safe handles.
//!
//! Loading checks, in this order, that the file is a shared library, that it exports a plugin
//! root module, that it was built with a compatible abi_stable, then a compatible plugin-abi
//! version, then that every type in the interface has the layout this host expects. Each failure
//! is a [`LoadError`] whose text is one readable paragraph.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use abi_stable::library::{lib_header_from_path, LibraryError, RootModule};
use abi_stable::sabi_types::VersionNumber;
use abi_stable::std_types::RResult;

use crate::error::PluginError;
use crate::ffi::{FfiChunkBox, FfiPathBox, FfiTileBox, PluginModuleRef};
use crate::host_services::{into_ffi, HostApi};
use crate::types::{ChunkArray, ClassInfo, TileOutput};

/// Why a library could not be loaded. Each message names the file and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "{} is not a boss-ingest plugin: it could not be loaded as a shared library ({reason}). \
         A plugin is a `.so`/`.dylib` built from a crate with `crate-type = [\"cdylib\"]` that calls \
         plugin_abi::export_plugin!.",
        path.display()
    )]
    NotALibrary { path: PathBuf, reason: String },

    #[error(
        "{} is not a boss-ingest plugin: it is a shared library but exports no plugin root \
         module. A plugin library must call plugin_abi::export_plugin!.",
        path.display()
    )]
    NoRootModule { path: PathBuf },

    #[error(
        "{} was built with an incompatible version of abi_stable (the library under plugin-abi), \
         so it cannot be loaded: rebuild the plugin against plugin-abi {expected}.",
        path.display()
    )]
    AbiStable { path: PathBuf, expected: String },

    #[error(
        "{} was built against plugin-abi {found}, but this boss-ingest uses plugin-abi {expected}, \
         and the two are not compatible: rebuild the plugin against plugin-abi {expected}.",
        path.display()
    )]
    AbiVersion {
        path: PathBuf,
        found: String,
        expected: String,
    },

    #[error(
        "{} was built against plugin-abi {found}, but its interface types do not match this \
         boss-ingest's plugin-abi {expected} ({gist}). The plugin was built against a modified or \
         different copy of plugin-abi: rebuild it against the released plugin-abi {expected}.",
        path.display()
    )]
    Layout {
        path: PathBuf,
        found: String,
        expected: String,
        gist: String,
    },

    #[error("{} failed to initialise its plugin root module: {message}", path.display())]
    Init { path: PathBuf, message: String },
}

/// Is a library built against plugin-abi `found` usable by this plugin-abi (`expected`)? The
/// cargo rule: same major version, and at 0.y the same minor; patch releases only add (see the
/// crate docs).
fn compatible(expected: VersionNumber, found: VersionNumber) -> bool {
    expected.major == found.major && (expected.major != 0 || expected.minor == found.minor)
}

/// The gist of abi_stable's layout report: the report is hundreds of lines of type layouts and
/// ends with what actually differs, so keep the lines that say what was expected and found.
fn layout_gist(report: &str) -> String {
    let lines: Vec<&str> = report
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let interesting: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.starts_with("error")
                || l.contains("mismatch")
                || l.starts_with("expected")
                || l.starts_with("found")
        })
        .collect();
    let picked = if interesting.is_empty() {
        lines.iter().rev().take(3).rev().copied().collect()
    } else {
        interesting
    };
    let mut gist = picked.join("; ");
    if gist.len() > 400 {
        let mut cut = 400;
        while !gist.is_char_boundary(cut) {
            cut -= 1;
        }
        gist.truncate(cut);
        gist.push('…');
    }
    gist
}

/// A loaded plugin library (or a built-in registered through the same root module).
#[derive(Clone)]
pub struct Library {
    module: PluginModuleRef,
    name: String,
    description: String,
    abi_version: String,
    classes: Vec<ClassInfo>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("name", &self.name)
            .field("abi_version", &self.abi_version)
            .field("classes", &self.classes)
            .finish()
    }
}

impl Library {
    /// A library from a root module already in this process (a built-in plugin's
    /// `root_module()`).
    pub fn from_root_module(module: PluginModuleRef) -> Library {
        let d = (module.describe())();
        Library {
            module,
            name: d.library.into_string(),
            description: d.description.into_string(),
            abi_version: module.abi_version().to_string(),
            classes: d.classes.iter().filter_map(|c| c.to_plain()).collect(),
        }
    }

    /// Opens the shared library at `path` and checks it (see the module docs). The library stays
    /// loaded for the life of the process; loading one file twice gives the same code.
    pub fn load(path: &Path) -> Result<Library, LoadError> {
        let expected = crate::ABI_VERSION.to_string();
        let header = lib_header_from_path(path).map_err(|e| match e {
            LibraryError::OpenError { err, .. } => LoadError::NotALibrary {
                path: path.to_owned(),
                reason: err.to_string(),
            },
            LibraryError::GetSymbolError { .. } => LoadError::NoRootModule {
                path: path.to_owned(),
            },
            LibraryError::InvalidAbiHeader(_) => LoadError::AbiStable {
                path: path.to_owned(),
                expected: expected.clone(),
            },
            other => LoadError::Init {
                path: path.to_owned(),
                message: one_line(&other.to_string()),
            },
        })?;
        let found = header.version_strings();
        let found_text = found.version.to_string();
        let version_error = || LoadError::AbiVersion {
            path: path.to_owned(),
            found: found_text.clone(),
            expected: expected.clone(),
        };
        let found_number = VersionNumber::new(found).map_err(|_| version_error())?;
        let expected_number = VersionNumber::new(PluginModuleRef::VERSION_STRINGS)
            .expect("plugin-abi's own version string is a valid version");
        if !compatible(expected_number, found_number) {
            return Err(version_error());
        }
        let module = header
            .init_root_module::<PluginModuleRef>()
            .map_err(|e| match e {
                LibraryError::AbiInstability(report) => LoadError::Layout {
                    path: path.to_owned(),
                    found: found_text.clone(),
                    expected: expected.clone(),
                    gist: layout_gist(&report.to_string()),
                },
                LibraryError::IncompatibleVersionNumber { .. } => version_error(),
                other => LoadError::Init {
                    path: path.to_owned(),
                    message: one_line(&other.to_string()),
                },
            })?;
        Ok(Library::from_root_module(module))
    }

    /// The library's name as its plugin declares it.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The plugin-abi version the library was built against.
    pub fn abi_version(&self) -> &str {
        &self.abi_version
    }

    pub fn classes(&self) -> &[ClassInfo] {
        &self.classes
    }

    /// Constructs a path processor of `class` with `params` (JSON text).
    pub fn path_processor(
        &self,
        class: &str,
        params: &str,
        host: Arc<dyn HostApi>,
    ) -> Result<PathProcessor, PluginError> {
        match (self.module.new_path())(class.into(), params.into(), into_ffi(host)) {
            RResult::ROk(p) => Ok(PathProcessor(Arc::new(p))),
            RResult::RErr(e) => Err(e.into()),
        }
    }

    /// Constructs a tile processor of `class` with `params` (JSON text).
    pub fn tile_processor(
        &self,
        class: &str,
        params: &str,
        host: Arc<dyn HostApi>,
    ) -> Result<TileProcessor, PluginError> {
        match (self.module.new_tile())(class.into(), params.into(), into_ffi(host)) {
            RResult::ROk(p) => Ok(TileProcessor(Arc::new(p))),
            RResult::RErr(e) => Err(e.into()),
        }
    }

    /// Constructs a chunk processor of `class` with `params` (JSON text).
    pub fn chunk_processor(
        &self,
        class: &str,
        params: &str,
        host: Arc<dyn HostApi>,
    ) -> Result<ChunkProcessor, PluginError> {
        match (self.module.new_chunk())(class.into(), params.into(), into_ffi(host)) {
            RResult::ROk(p) => Ok(ChunkProcessor(Arc::new(p))),
            RResult::RErr(e) => Err(e.into()),
        }
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A constructed path processor; clone it into as many threads as needed.
#[derive(Clone)]
pub struct PathProcessor(Arc<FfiPathBox>);

impl PathProcessor {
    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        match self.0.path(x, y, z, t) {
            RResult::ROk(p) => Ok(p.into_string()),
            RResult::RErr(e) => Err(e.into()),
        }
    }
}

/// A constructed tile processor; clone it into as many threads as needed.
#[derive(Clone)]
pub struct TileProcessor(Arc<FfiTileBox>);

impl TileProcessor {
    pub fn tile(
        &self,
        path: &str,
        x: u64,
        y: u64,
        z: u64,
        t: u64,
    ) -> Result<TileOutput, PluginError> {
        crate::ffi::from_result(self.0.tile(path.into(), x, y, z, t))
    }
}

/// A constructed chunk processor; clone it into as many threads as needed.
#[derive(Clone)]
pub struct ChunkProcessor(Arc<FfiChunkBox>);

impl ChunkProcessor {
    pub fn chunk(&self, path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        crate::ffi::from_result(self.0.chunk(path.into(), x, y, z))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32, patch: u32) -> VersionNumber {
        VersionNumber {
            major,
            minor,
            patch,
        }
    }

    #[test]
    fn version_compatibility_follows_cargo() {
        assert!(compatible(v(0, 1, 0), v(0, 1, 3)));
        assert!(compatible(v(0, 1, 3), v(0, 1, 0)));
        assert!(!compatible(v(0, 1, 0), v(0, 2, 0)));
        assert!(!compatible(v(0, 2, 0), v(0, 1, 0)));
        assert!(compatible(v(1, 0, 0), v(1, 4, 0)));
        assert!(!compatible(v(1, 0, 0), v(2, 0, 0)));
    }

    #[test]
    fn layout_gist_keeps_what_differs() {
        let report = "\nlots of layout\n  field a: u8\n\nError: mismatched type\nExpected: u64\nFound: u32\n";
        assert_eq!(
            layout_gist(report),
            "Error: mismatched type; Expected: u64; Found: u32"
        );
    }
}
