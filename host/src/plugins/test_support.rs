//! What the module tests of plugin resolution and construction share: a registry with an empty
//! search path, a spec, and the text of an error.

use serde_json::json;

use super::{Plugins, PluginsError, ProcessorSpec, SearchPath};

pub(super) fn spec(class: &str, plugin: Option<&str>, params: serde_json::Value) -> ProcessorSpec {
    ProcessorSpec {
        class: class.to_string(),
        plugin: plugin.map(str::to_string),
        params,
    }
}

pub(super) fn job() -> serde_json::Value {
    json!({"ingest_job": {"tile_size": {"x": 4, "y": 2, "z": 1, "t": 1}}})
}

pub(super) fn nowhere() -> (tempfile::TempDir, Plugins) {
    let dir = tempfile::tempdir().unwrap();
    let plugins = Plugins::new(SearchPath::explicit([dir.path().to_path_buf()]));
    (dir, plugins)
}

pub(super) fn error_text<T>(r: Result<T, PluginsError>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}
