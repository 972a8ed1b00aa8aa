//! Resolving the class a config names to a library (a built-in or a library file) and the class
//! of the wanted kind within it.

use std::path::Path;

use plugin_abi::{ClassInfo, ProcessorKind};

use super::cache::{load, Loaded, Source};
use super::{optional, search, Plugins, PluginsError};

/// A processor as a config names it: `class`, optional `plugin` (library), and its params (with
/// the job's `ingest_job` section already added).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessorSpec {
    pub class: String,
    pub plugin: Option<String>,
    pub params: serde_json::Value,
}

impl Plugins {
    /// Finds the library and the class name within it for `spec`.
    pub(super) fn resolve(
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

#[cfg(test)]
mod tests {
    use plugin_abi::TileImage;

    use super::super::test_support::{error_text, job, nowhere, spec};
    use super::*;
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
}
