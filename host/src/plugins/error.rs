//! Why a processor could not be resolved, loaded or constructed. Each message is one paragraph a
//! user can act on: it names the library, the class and the files involved, and what to do.

use plugin_abi::loader::LoadError;
use plugin_abi::ProcessorKind;

/// Resolving, loading or constructing a processor failed.
#[derive(Debug, thiserror::Error)]
pub enum PluginsError {
    #[error(
        "plugin library \"{name}\" (for processor class \"{class}\") was not found: looked for \
         {file} in {}. Put the library in one of these directories, add its directory to \
         BOSS_INGEST_PLUGIN_PATH, or give the library's path as \"plugin\".",
        searched_text(searched)
    )]
    LibraryNotFound {
        name: String,
        class: String,
        file: String,
        searched: Vec<String>,
    },

    #[error(
        "plugin library \"{name}\" was found in more than one place: {}. Remove all but one, or \
         give the path of the one you mean as \"plugin\".",
        places.join(" and ")
    )]
    Ambiguous { name: String, places: Vec<String> },

    #[error("{0}")]
    Load(#[from] LoadError),

    /// A legacy name of an optional plugin (HDF5) that is not installed.
    #[error("{0}")]
    OptionalNotInstalled(#[from] super::optional::NotInstalled),

    #[error(
        "plugin library \"{library}\" ({origin}) has no {kind} processor class \"{class}\"{}; \
         its classes are: {}.",
        wrong_kind_text(actual_kind),
        classes_text(available)
    )]
    ClassNotFound {
        library: String,
        origin: String,
        class: String,
        kind: ProcessorKind,
        /// The kind of a class of that name, when it exists but is of another kind.
        actual_kind: Option<ProcessorKind>,
        available: Vec<(String, ProcessorKind)>,
    },

    #[error(
        "unknown {kind} processor class \"{class}\": no built-in plugin provides it{}. To use a \
         class from a plugin library, write \"<library>::<Class>\" or add \"plugin\": \
         \"<library>\" next to \"class\"; `boss-ingest plugins` lists what is available.",
        hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default()
    )]
    UnknownClass {
        class: String,
        kind: ProcessorKind,
        hint: Option<String>,
    },

    /// A legacy name in a built-in plugin's module that the plugin does not have: a typo, most
    /// likely, so the message lists the plugin's classes of that kind and the closest one.
    #[error(
        "unknown {kind} processor class \"{class}\": the built-in plugin \"{library}\" has no \
         {kind} processor of that name{}",
        builtin_classes_text(*kind, suggestion, same_kind, available)
    )]
    NotInBuiltin {
        class: String,
        kind: ProcessorKind,
        library: String,
        /// The class of `kind` whose name is closest to the one asked for.
        suggestion: Option<String>,
        /// The plugin's classes of `kind`.
        same_kind: Vec<String>,
        /// All its classes, for when it has none of `kind`.
        available: Vec<(String, ProcessorKind)>,
    },

    #[error("{library}::{class} ({origin}) rejected its params: {message}")]
    Params {
        library: String,
        class: String,
        origin: String,
        message: String,
    },

    #[error(
        "{library}::{class} ({origin}) panicked while being created ({message}); this is a bug in \
         the plugin"
    )]
    ConstructorPanic {
        library: String,
        class: String,
        origin: String,
        message: String,
    },

    #[error("{library}::{class} ({origin}) could not be created: {message}")]
    Constructor {
        library: String,
        class: String,
        origin: String,
        message: String,
    },
}

fn searched_text(searched: &[String]) -> String {
    if searched.is_empty() {
        "no directory (BOSS_INGEST_PLUGIN_PATH is unset, and neither HOME nor the executable's \
         directory is known)"
            .to_string()
    } else {
        searched.join(", ")
    }
}

fn wrong_kind_text(actual: &Option<ProcessorKind>) -> String {
    match actual {
        Some(kind) => format!(" (it has a {kind} processor of that name)"),
        None => String::new(),
    }
}

fn classes_text(available: &[(String, ProcessorKind)]) -> String {
    if available.is_empty() {
        return "none".to_string();
    }
    available
        .iter()
        .map(|(name, kind)| format!("{name} ({kind})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn builtin_classes_text(
    kind: ProcessorKind,
    suggestion: &Option<String>,
    same_kind: &[String],
    available: &[(String, ProcessorKind)],
) -> String {
    match suggestion {
        Some(closest) => format!(
            "; did you mean {closest}? Its {kind} processor classes are: {}.",
            same_kind.join(", ")
        ),
        None => format!(
            "; it has no {kind} processor classes at all. Its classes are: {}.",
            classes_text(available)
        ),
    }
}
