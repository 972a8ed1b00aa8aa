//! Where plugin libraries are looked for, and finding one by name.
//!
//! A library named `foo` is the file `libboss_ingest_plugin_foo.so` (`.dylib` on macOS: the
//! platform's prefix and suffix), which is what cargo builds from the crate
//! `boss_ingest_plugin_foo` (plugin-abi's docs, "Names"). It is looked for in, in order: each directory of `BOSS_INGEST_PLUGIN_PATH` (split like
//! `PATH`), `~/.boss-ingest/plugins`, the directory of the `boss-ingest` executable, and its
//! `plugins/` subdirectory. Never the current directory: a config must not pick up whatever
//! library happens to sit where the command was started.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// What every plugin library's file name starts with after the platform prefix (`lib`): the
/// crate name `boss_ingest_plugin_<name>` without the name.
pub const FILE_PREFIX: &str = "boss_ingest_plugin_";

/// The environment variable with extra plugin directories.
pub const PLUGIN_PATH_VAR: &str = "BOSS_INGEST_PLUGIN_PATH";

/// Why a directory is on the search path; shown in errors and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A directory of `BOSS_INGEST_PLUGIN_PATH`.
    EnvVar,
    /// `~/.boss-ingest/plugins`.
    Home,
    /// The directory of the boss-ingest executable.
    ExeDir,
    /// The `plugins/` subdirectory of the executable's directory.
    ExePlugins,
    /// Given explicitly (tests, embedding).
    Explicit,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::EnvVar => "from BOSS_INGEST_PLUGIN_PATH",
            Origin::Home => "the user's plugin directory",
            Origin::ExeDir => "the boss-ingest executable's directory",
            Origin::ExePlugins => "plugins/ next to the boss-ingest executable",
            Origin::Explicit => "given",
        })
    }
}

/// One directory of the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    pub path: PathBuf,
    pub origin: Origin,
}

impl fmt::Display for SearchDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}", self.path.display(), self.origin)?;
        if !self.path.is_dir() {
            f.write_str(", does not exist")?;
        }
        f.write_str(")")
    }
}

/// The ordered list of directories searched for plugin libraries by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchPath {
    dirs: Vec<SearchDir>,
}

impl SearchPath {
    /// The standard search path from this process's environment and executable.
    pub fn from_env() -> SearchPath {
        SearchPath::from_parts(
            std::env::var_os(PLUGIN_PATH_VAR),
            std::env::var_os("HOME").map(PathBuf::from),
            std::env::current_exe().ok(),
        )
    }

    /// The standard search path from explicit inputs (what `from_env` reads).
    pub fn from_parts(
        plugin_path: Option<OsString>,
        home: Option<PathBuf>,
        exe: Option<PathBuf>,
    ) -> SearchPath {
        let mut dirs = Vec::new();
        if let Some(value) = plugin_path {
            // An empty entry would mean the current directory to some tools; here it means nothing.
            dirs.extend(
                std::env::split_paths(&value)
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(|path| SearchDir {
                        path,
                        origin: Origin::EnvVar,
                    }),
            );
        }
        if let Some(home) = home.filter(|h| !h.as_os_str().is_empty()) {
            dirs.push(SearchDir {
                path: home.join(".boss-ingest").join("plugins"),
                origin: Origin::Home,
            });
        }
        if let Some(dir) = exe.as_deref().and_then(Path::parent) {
            dirs.push(SearchDir {
                path: dir.to_path_buf(),
                origin: Origin::ExeDir,
            });
            dirs.push(SearchDir {
                path: dir.join("plugins"),
                origin: Origin::ExePlugins,
            });
        }
        SearchPath { dirs }
    }

    /// Exactly these directories, in this order.
    pub fn explicit(dirs: impl IntoIterator<Item = PathBuf>) -> SearchPath {
        SearchPath {
            dirs: dirs
                .into_iter()
                .map(|path| SearchDir {
                    path,
                    origin: Origin::Explicit,
                })
                .collect(),
        }
    }

    pub fn dirs(&self) -> &[SearchDir] {
        &self.dirs
    }

    /// Every file that would be the library `name`, in search order, each file once (a
    /// directory listed twice, or reached through a symlink, does not make a duplicate).
    pub fn find(&self, name: &str) -> Vec<PathBuf> {
        let file = library_file_name(name);
        let mut found: Vec<PathBuf> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        for dir in &self.dirs {
            let candidate = dir.path.join(&file);
            if !candidate.is_file() {
                continue;
            }
            let canonical = candidate
                .canonicalize()
                .unwrap_or_else(|_| candidate.clone());
            if !seen.contains(&canonical) {
                seen.push(canonical);
                found.push(candidate);
            }
        }
        found
    }

    /// Every plugin library file (`libboss_ingest_plugin_*.so`) in the search directories, as
    /// (library name, path), in search order, each file once.
    pub fn all_libraries(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(&dir.path) else {
                continue;
            };
            let mut names: Vec<(String, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let path = e.path();
                    let name = library_name_of(&path)?;
                    path.is_file().then_some((name, path))
                })
                .collect();
            names.sort();
            for (name, path) in names {
                let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
                if !seen.contains(&canonical) {
                    seen.push(canonical);
                    out.push((name, path));
                }
            }
        }
        out
    }
}

/// `libboss_ingest_plugin_foo.so` for `foo` (platform prefix and suffix).
pub fn library_file_name(name: &str) -> String {
    format!("{DLL_PREFIX}{FILE_PREFIX}{name}{DLL_SUFFIX}")
}

/// `foo` for `.../libboss_ingest_plugin_foo.so`, or `None` if the file is not a plugin library's.
pub fn library_name_of(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let name = file
        .strip_prefix(DLL_PREFIX)?
        .strip_prefix(FILE_PREFIX)?
        .strip_suffix(DLL_SUFFIX)?;
    (!name.is_empty()).then(|| name.to_string())
}

/// Does `library` (from a config) name a file rather than a library to search for?
pub fn is_path(library: &str) -> bool {
    library.contains(std::path::MAIN_SEPARATOR)
        || library.contains('/')
        || library.ends_with(DLL_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_env_then_home_then_exe_dir_then_its_plugins() {
        let env = std::env::join_paths(["/a", "", "/b"]).unwrap();
        let sp = SearchPath::from_parts(
            Some(env),
            Some("/home/u".into()),
            Some("/opt/bi/bin/boss-ingest".into()),
        );
        let dirs: Vec<(PathBuf, Origin)> = sp
            .dirs()
            .iter()
            .map(|d| (d.path.clone(), d.origin))
            .collect();
        assert_eq!(
            dirs,
            vec![
                ("/a".into(), Origin::EnvVar),
                ("/b".into(), Origin::EnvVar),
                ("/home/u/.boss-ingest/plugins".into(), Origin::Home),
                ("/opt/bi/bin".into(), Origin::ExeDir),
                ("/opt/bi/bin/plugins".into(), Origin::ExePlugins),
            ]
        );
    }

    #[test]
    fn an_empty_entry_is_not_the_current_directory() {
        // In a shell's PATH an empty entry means the current directory; here it means nothing.
        let empty_entries = std::env::join_paths(["", ""]).unwrap();
        let sp = SearchPath::from_parts(Some(empty_entries), None, None);
        assert_eq!(sp.dirs(), &[]);
    }

    #[test]
    fn finds_each_file_once_in_search_order() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let file = library_file_name("demo");
        std::fs::write(a.path().join(&file), b"x").unwrap();
        std::fs::write(b.path().join(&file), b"y").unwrap();
        let sp = SearchPath::explicit([
            a.path().to_path_buf(),
            a.path().to_path_buf(),
            b.path().to_path_buf(),
        ]);
        assert_eq!(
            sp.find("demo"),
            vec![a.path().join(&file), b.path().join(&file)]
        );
        assert_eq!(sp.find("other"), Vec::<PathBuf>::new());
        let all = sp.all_libraries();
        assert_eq!(
            all,
            vec![
                ("demo".to_string(), a.path().join(&file)),
                ("demo".to_string(), b.path().join(&file))
            ]
        );
    }

    #[test]
    fn library_names_and_paths() {
        let file = library_file_name("x_y");
        assert_eq!(
            library_name_of(Path::new(&format!("/d/{file}"))),
            Some("x_y".into())
        );
        assert_eq!(library_name_of(Path::new("/d/readme.txt")), None);
        // Other shared libraries are not plugins: the system's libhdf5 is not the plugin `hdf5`.
        let system_hdf5 = format!("/d/{DLL_PREFIX}hdf5{DLL_SUFFIX}");
        assert_eq!(library_name_of(Path::new(&system_hdf5)), None);
        assert_eq!(
            library_file_name("hdf5"),
            format!("{DLL_PREFIX}boss_ingest_plugin_hdf5{DLL_SUFFIX}")
        );
        assert!(is_path("./libfoo.so") || is_path("./libfoo.dylib"));
        assert!(is_path(&format!("/opt/{file}")));
        assert!(!is_path("foo"));
    }
}
