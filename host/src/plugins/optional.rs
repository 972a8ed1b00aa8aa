//! Legacy class names served by optional plugins: libraries kept out of the `boss-ingest`
//! binary on purpose (HDF5 needs the system libhdf5), found by library name on the plugin
//! search path.
//!
//! `ingestclient.plugins.hdf5.Hdf5ChunkTileProcessor` resolves to the library
//! `hdf5` (`libboss_ingest_plugin_hdf5.so`) when it is installed. When it is not, the user
//! gets one error saying which class asked for it, that it lives in the optional HDF5 plugin,
//! and the exact command that installs it — instead of a generic "unknown class".

use plugin_abi::ProcessorKind;

/// An optional plugin library and the legacy module whose classes it provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Optional {
    /// The Python module: `hdf5` for `ingestclient.plugins.hdf5.*`.
    pub module: &'static str,
    /// The library name searched for (`libboss_ingest_plugin_<library>.so`).
    pub library: &'static str,
    /// How users know it: "the optional HDF5 plugin".
    pub title: &'static str,
    /// The command that installs it, run from a boss-ingest source checkout.
    pub install: &'static str,
}

/// Every optional plugin.
pub const OPTIONAL: &[Optional] = &[Optional {
    module: "hdf5",
    library: "hdf5",
    title: "the optional HDF5 plugin",
    install: "scripts/install-plugin hdf5",
}];

/// The optional plugin serving a legacy `ingestclient.plugins.<module>.<Class>` name, if any.
pub fn for_class(class: &str) -> Option<&'static Optional> {
    let module = class
        .strip_prefix("ingestclient.plugins.")?
        .split_once('.')?
        .0;
    OPTIONAL.iter().find(|o| o.module == module)
}

/// An optional plugin a config needs is not installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {kind} processor class \"{class}\" lives in {title}, which is not installed: no {file} \
     in {searched}. Install it from a boss-ingest source checkout with `{install}` (it needs \
     libhdf5; the command installs libhdf5-dev if missing, builds the plugin and copies it to \
     ~/.boss-ingest/plugins), or put {file} in a directory of BOSS_INGEST_PLUGIN_PATH."
)]
pub struct NotInstalled {
    pub class: String,
    pub kind: ProcessorKind,
    pub title: &'static str,
    pub file: String,
    pub searched: String,
    pub install: &'static str,
}

impl Optional {
    /// The error for `class` when this plugin's library was not found in `searched`.
    pub fn not_installed(
        &self,
        class: &str,
        kind: ProcessorKind,
        searched: &[String],
    ) -> NotInstalled {
        NotInstalled {
            class: class.to_string(),
            kind,
            title: self.title,
            file: super::search::library_file_name(self.library),
            searched: if searched.is_empty() {
                "any directory (no plugin directory is known)".to_string()
            } else {
                searched.join(", ")
            },
            install: self.install,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdf5_names_map_to_the_hdf5_library() {
        let o = for_class("ingestclient.plugins.hdf5.Hdf5ChunkTileProcessor").unwrap();
        assert_eq!(o.library, "hdf5");
        assert_eq!(
            for_class("ingestclient.plugins.stack.ZindexStackTileProcessor"),
            None
        );
        assert_eq!(for_class("Hdf5ChunkTileProcessor"), None);
    }

    #[test]
    fn the_error_names_class_plugin_and_command() {
        let o = for_class("ingestclient.plugins.hdf5.Hdf5SlicePathProcessor").unwrap();
        let e = o.not_installed(
            "ingestclient.plugins.hdf5.Hdf5SlicePathProcessor",
            ProcessorKind::Path,
            &["/p (given)".to_string()],
        );
        assert_eq!(
            e.to_string(),
            format!(
                "the path processor class \"ingestclient.plugins.hdf5.Hdf5SlicePathProcessor\" \
                 lives in the optional HDF5 plugin, which is not installed: no {} in /p (given). \
                 Install it from a boss-ingest source checkout with `scripts/install-plugin \
                 hdf5` (it needs libhdf5; the command installs libhdf5-dev if missing, builds \
                 the plugin and copies it to ~/.boss-ingest/plugins), or put {} in a directory \
                 of BOSS_INGEST_PLUGIN_PATH.",
                super::super::search::library_file_name("hdf5"),
                super::super::search::library_file_name("hdf5"),
            )
        );
    }
}
