//! `boss-ingest plugins`: what processor classes this boss-ingest can use, and from where.
//!
//! It lists the built-in plugins, then every library file on the plugin search path (loading each,
//! so a broken or incompatible one shows its load error right there), then the directories it
//! searched. It is the first thing to run when a config's class is not found.

use std::fmt::Write as _;

use crate::cli::PluginsSettings;
use crate::exit::Code;
use crate::plugins::{LibraryInfo, Listing, Plugins, SearchPath};

/// Prints the listing for this process's search path.
pub fn run(settings: &PluginsSettings) -> anyhow::Result<Code> {
    crate::prepared::log_to_stderr_or(settings.log_file.as_deref(), settings.log_level)?;
    let plugins = Plugins::new(SearchPath::from_env());
    print!("{}", render(&plugins.list()));
    Ok(Code::Ok)
}

/// The listing as text.
pub fn render(listing: &Listing) -> String {
    let mut out = String::new();
    out.push_str("Built-in plugins:\n");
    for library in &listing.builtins {
        render_library(&mut out, library, &library.name, None);
    }
    out.push('\n');
    if listing.found.is_empty() {
        out.push_str("Plugin libraries on the search path: none\n");
    } else {
        out.push_str("Plugin libraries on the search path:\n");
        for found in &listing.found {
            let path = found.path.display().to_string();
            match &found.library {
                Ok(library) => render_library(&mut out, library, &found.name, Some(&path)),
                Err(error) => {
                    let _ = writeln!(out, "  {}  {path}\n    cannot be used: {error}", found.name);
                }
            }
            if found.ambiguous {
                let _ = writeln!(
                    out,
                    "    note: another library (or a built-in) is also named \"{}\", so configs \
                     must give this one by its path",
                    found.name
                );
            }
        }
    }
    out.push_str("\nSearched, in order (set BOSS_INGEST_PLUGIN_PATH to add directories):\n");
    for dir in &listing.searched {
        let _ = writeln!(out, "  {dir}");
    }
    out
}

fn render_library(out: &mut String, library: &LibraryInfo, name: &str, path: Option<&str>) {
    let _ = write!(out, "  {name}");
    if let Some(path) = path {
        let _ = write!(out, "  {path}");
    }
    let _ = write!(out, "  (plugin-abi {}", library.abi_version);
    if library.name != name {
        let _ = write!(out, ", calls itself \"{}\"", library.name);
    }
    out.push(')');
    if !library.description.is_empty() {
        let _ = write!(out, ": {}", library.description);
    }
    out.push('\n');
    for class in &library.classes {
        let _ = write!(out, "    {:<5} {}", class.kind.name(), class.name);
        if !class.description.is_empty() {
            let _ = write!(out, " — {}", class.description);
        }
        out.push('\n');
        for legacy in &class.legacy_names {
            let _ = writeln!(out, "          also: {legacy}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{FoundLibrary, SearchPath, Source};
    use plugin_abi::{ClassInfo, ProcessorKind};

    #[test]
    fn renders_builtins_found_libraries_and_searched_dirs() {
        let lib = LibraryInfo {
            name: "demo".into(),
            source: Source::BuiltIn,
            abi_version: "0.1.0".into(),
            description: "Demo processors".into(),
            classes: vec![ClassInfo {
                name: "DemoPath".into(),
                kind: ProcessorKind::Path,
                legacy_names: vec!["ingestclient.plugins.demo.DemoPath".into()],
                description: "a path".into(),
            }],
        };
        let listing = Listing {
            builtins: vec![lib.clone()],
            found: vec![FoundLibrary {
                name: "other".into(),
                path: "/p/libother.so".into(),
                library: Ok(LibraryInfo {
                    source: Source::File("/p/libother.so".into()),
                    ..lib
                }),
                ambiguous: false,
            }],
            searched: SearchPath::explicit(["/p".into()]).dirs().to_vec(),
        };
        let text = render(&listing);
        assert_eq!(
            text,
            "Built-in plugins:\n\
             \x20 demo  (plugin-abi 0.1.0): Demo processors\n\
             \x20   path  DemoPath — a path\n\
             \x20         also: ingestclient.plugins.demo.DemoPath\n\
             \n\
             Plugin libraries on the search path:\n\
             \x20 other  /p/libother.so  (plugin-abi 0.1.0, calls itself \"demo\"): Demo processors\n\
             \x20   path  DemoPath — a path\n\
             \x20         also: ingestclient.plugins.demo.DemoPath\n\
             \n\
             Searched, in order (set BOSS_INGEST_PLUGIN_PATH to add directories):\n\
             \x20 /p (given, does not exist)\n"
        );
    }
}
