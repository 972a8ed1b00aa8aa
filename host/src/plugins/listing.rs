//! What `boss-ingest plugins` shows: the built-ins, every library file on the search path (loaded,
//! to show its classes or why it cannot be used), and the directories searched.

use std::path::PathBuf;

use plugin_abi::ClassInfo;

use super::cache::{load, Loaded, Source};
use super::{Plugins, PluginsError, SearchDir};

/// Everything boss-ingest knows about a library, for `boss-ingest plugins`.
#[derive(Debug, Clone, PartialEq)]
pub struct LibraryInfo {
    /// The name the library gives itself.
    pub name: String,
    pub source: Source,
    pub abi_version: String,
    pub description: String,
    pub classes: Vec<ClassInfo>,
}

impl LibraryInfo {
    fn of(loaded: &Loaded) -> LibraryInfo {
        LibraryInfo {
            name: loaded.library.name().to_string(),
            source: loaded.source.clone(),
            abi_version: loaded.library.abi_version().to_string(),
            description: loaded.library.description().to_string(),
            classes: loaded.library.classes().to_vec(),
        }
    }
}

/// A library file found on the search path.
#[derive(Debug)]
pub struct FoundLibrary {
    /// The name configs use for it (`foo` for `libboss_ingest_plugin_foo.so`).
    pub name: String,
    pub path: PathBuf,
    /// What loading it gave.
    pub library: Result<LibraryInfo, PluginsError>,
    /// Another library or a built-in has the same name, so configs cannot use this name alone.
    pub ambiguous: bool,
}

/// What `boss-ingest plugins` shows.
#[derive(Debug)]
pub struct Listing {
    pub builtins: Vec<LibraryInfo>,
    pub found: Vec<FoundLibrary>,
    pub searched: Vec<SearchDir>,
}

impl Plugins {
    /// Built-ins, every library file on the search path (loaded, to show its classes), and the
    /// directories searched.
    pub fn list(&self) -> Listing {
        let builtin_names: Vec<&str> = self.builtins.iter().map(|b| b.library.name()).collect();
        let files = self.search.all_libraries();
        let found = files
            .iter()
            .map(|(name, path)| FoundLibrary {
                name: name.clone(),
                path: path.clone(),
                library: load(path).map(|l| LibraryInfo::of(&l)),
                ambiguous: builtin_names.contains(&name.as_str())
                    || files.iter().filter(|(n, _)| n == name).count() > 1,
            })
            .collect();
        Listing {
            builtins: self.builtins.iter().map(LibraryInfo::of).collect(),
            found,
            searched: self.search.dirs().to_vec(),
        }
    }
}
