//! Tile jobs: a v0.2 tile config around given processors ([`tile_config`]), and the common case,
//! a generated stack read by the stack plugin ([`stack_config`]). Running the job and reading it
//! back are [`super::job`]'s.

use serde_json::{json, Value};

use crate::support::data::Stack;
use crate::support::sim::SimHandle;

/// A tile job config for `sim`'s `col/exp/<channel>` with the given processors and extent
/// `[0, x) × [0, y) × z`, 512² tiles.
pub fn tile_config(
    sim: &SimHandle,
    channel: &str,
    processors: (Value, Value),
    extent: (u64, u64, (u64, u64)),
) -> Value {
    tile_config_for_host(&sim.host(), channel, processors, extent)
}

/// A v0.2 config reading `stack` (its whole width and height, slices `z`) with the stack plugin
/// under the Python client's class names, for `col/exp/<channel>` of the Boss at `host`.
pub fn stack_config(host: &str, stack: &Stack, channel: &str, z: (u64, u64)) -> Value {
    let extension = stack.format.extension();
    let processors = (
        json!({"class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
               "params": {"root_dir": stack.dir, "extension": extension,
                          "base_filename": format!("{}<>", stack.prefix)}}),
        json!({"class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
               "params": {"filesystem": "local", "extension": extension}}),
    );
    let extent = (stack.width.into(), stack.height.into(), z);
    tile_config_for_host(host, channel, processors, extent)
}

/// [`tile_config`] for a Boss at `host` (`check` needs no running simulator).
pub fn tile_config_for_host(
    host: &str,
    channel: &str,
    (path_processor, tile_processor): (Value, Value),
    (x, y, z): (u64, u64, (u64, u64)),
) -> Value {
    json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": host, "protocol": "http"},
        "path_processor": path_processor,
        "tile_processor": tile_processor
      },
      "database": {"collection": "col", "experiment": "exp", "channel": channel},
      "ingest_job": {
        "ingest_type": "tile",
        "resolution": 0,
        "extent": {"x": [0, x], "y": [0, y], "z": [z.0, z.1], "t": [0, 1]},
        "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}
      }
    })
}
