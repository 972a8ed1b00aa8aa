//! The library cache: a plugin library file is loaded once per process, by canonical path, and
//! never unloaded (its code may be running on any thread).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use plugin_abi::loader::Library;

use super::PluginsError;

/// Where a library came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    BuiltIn,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::BuiltIn => f.write_str("built into boss-ingest"),
            Source::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// A library ready to construct processors.
#[derive(Debug, Clone)]
pub(super) struct Loaded {
    pub(super) library: Library,
    pub(super) source: Source,
}

/// Libraries loaded in this process, by canonical path. Never emptied: a loaded library is never
/// unloaded (its code may be running on any thread), and loading a file once is enough.
fn loaded_libraries() -> &'static Mutex<HashMap<PathBuf, Library>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Library>>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (or returns the already loaded) library at `path`.
pub(super) fn load(path: &Path) -> Result<Loaded, PluginsError> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    // A poisoned lock only means another thread panicked while holding it; the map is still a
    // valid cache.
    let mut cache = loaded_libraries()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let library = match cache.get(&canonical) {
        Some(library) => library.clone(),
        None => {
            let library = Library::load(path)?;
            cache.insert(canonical, library.clone());
            library
        }
    };
    Ok(Loaded {
        library,
        source: Source::File(path.to_path_buf()),
    })
}
