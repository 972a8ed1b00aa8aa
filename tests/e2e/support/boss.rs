//! Tile jobs against a test `boss-sim` for the source tests (s3://, http(s)://, CATMAID,
//! intern): a v0.2 tile config around given processors, and creating a job without the client.
//! Running the job and reading it back use [`super::volumetric`]'s `ingest`, `run`, `job_id` and
//! `cutout`, which work for any job.

use serde_json::{json, Value};

use crate::support::sim::SimHandle;

/// A tile job config for `sim`'s `col/exp/<channel>` with the given processors and extent
/// `[0, x) × [0, y) × z`, 512² tiles.
pub fn tile_config(
    sim: &SimHandle,
    channel: &str,
    (path_processor, tile_processor): (Value, Value),
    (x, y, z): (u64, u64, (u64, u64)),
) -> Value {
    json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
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

/// Creates the job through the REST API, as another tool (or an earlier run) would.
pub async fn create_job(sim: &SimHandle, config: &Value) -> u64 {
    let reply: Value = reqwest::Client::new()
        .post(format!("{}/latest/ingest/", sim.api))
        .header("Authorization", format!("Token {}", sim.token))
        .json(config)
        .send()
        .await
        .expect("create request")
        .json()
        .await
        .expect("create answer is JSON");
    reply["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("create answered {reply}"))
}
