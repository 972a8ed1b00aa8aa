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

/// The gist of abi_stable's layout report. The report is hundreds of lines: the layouts of every
/// type on the way down to the one that differs, then one `Error:` block per difference with
/// `Expected:` and `Found:` items. Keep the innermost type's name and, for each difference, the
/// message and the `field_name`/`type` of what was expected and found.
fn layout_gist(report: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    let value = |line: &str, key: &str| line.trim().strip_prefix(key).map(str::to_string);
    let innermost = lines
        .iter()
        .rposition(|l| l.trim() == "Layout of expected type:")
        .and_then(|i| lines[i..].iter().find_map(|l| value(l, "type:")));
    // `field: Type` (or just `Type`) from the indented lines after `Expected:` / `Found:`.
    let item = |from: usize| -> String {
        let block: Vec<&str> = lines[from.min(lines.len())..]
            .iter()
            .take_while(|l| l.starts_with(' ') || l.starts_with('\t'))
            .copied()
            .collect();
        let field = block.iter().find_map(|l| value(l, "field_name:"));
        let ty = block.iter().find_map(|l| value(l, "type:"));
        match (field, ty) {
            (Some(f), Some(t)) => format!("`{f}: {t}`"),
            (None, Some(t)) => format!("`{t}`"),
            (Some(f), None) => format!("`{f}`"),
            (None, None) => "something else".to_string(),
        }
    };
    let mut differences: Vec<String> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(message) = line.strip_prefix("Error:") else {
            continue;
        };
        let after = &lines[i + 1..];
        let next_error = after
            .iter()
            .position(|l| l.starts_with("Error:"))
            .unwrap_or(after.len());
        let block = &after[..next_error];
        let expected = block.iter().position(|l| l.trim() == "Expected:");
        let found = block.iter().position(|l| l.trim() == "Found:");
        let difference = match (expected, found) {
            (Some(e), Some(f)) => format!(
                "{}: expected {}, found {}",
                message.trim(),
                item(i + 1 + e + 1),
                item(i + 1 + f + 1)
            ),
            _ => message.trim().to_string(),
        };
        if !differences.contains(&difference) {
            differences.push(difference);
        }
    }
    if differences.is_empty() {
        // Not the report shape we know: its last non-empty line is still better than nothing.
        let last = lines.iter().rev().find(|l| !l.trim().is_empty());
        return last.map_or("no details", |l| l.trim()).to_string();
    }
    let shown = differences.len().min(3);
    let mut gist = match innermost {
        Some(ty) => format!("in {ty}: "),
        None => String::new(),
    };
    gist.push_str(&differences[..shown].join("; "));
    if differences.len() > shown {
        gist.push_str(&format!("; and {} more", differences.len() - shown));
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
    fn layout_gist_names_the_type_and_each_difference() {
        // The shape of abi_stable's report, much shortened.
        let report = "Compared <this>:
    --- Type Layout ---
    type:PrefixRef<'a, PluginModule>
Layout of expected type:
    --- Type Layout ---
    type:PluginModule
Layout of expected type:
    --- Type Layout ---
    type:FfiDescription
    size:96 align:8
Layout of found type:
    --- Type Layout ---
    type:FfiDescription


Error:unexpected field
Expected:
    field_name:library
    type:RString
    size:32 align:8
Found:
    field_name:description
    type:RString

Error:mismatched type
Expected:
    type:u32
Found:
    type:u64
";
        assert_eq!(
            layout_gist(report),
            "in FfiDescription: unexpected field: expected `library: RString`, found \
             `description: RString`; mismatched type: expected `u32`, found `u64`"
        );
        assert_eq!(layout_gist("odd\nreport\n\n"), "report");
    }
}
