//! Volumetric jobs against the simulator, for every test that ingests chunks: a config builder
//! (any path and chunk processor; [`pattern_config`] for the testing plugin's known pattern), a
//! simulator with channels of one's choosing, and a cutout comparison that reads the whole extent
//! back and names the first voxel that differs. Running the job is [`super::job`]'s.
//!
//! Typical use (a generated source of your own, any chunk processor):
//! ```text
//! let sim = SimHandle::start(SimOptions::default());
//! let config = config(&sim, "ch16", [700, 600, 37], [1024, 512, 32], path_processor, chunk_processor);
//! let out = run(ingest(&sim, &write_config(dir, &config))).await;
//! assert_eq!(out.code, Some(0), "{}", out.both());
//! assert_cutout_matches(&sim, "ch16", [700, 600, 37], 2, |x, y, z| my_voxel(x, y, z)).await;
//! ```
//! The simulator's channels are `ch` (uint8), `ch16` (uint16) and `ch64` (uint64) in `col/exp`.

use serde_json::{json, Value};

use super::cmd::Output;
use super::job::{assert_complete, cutout};
use super::sim::SimHandle;

/// A v0.2 volumetric config for the simulator's `col/exp/<channel>`, extent from 0 to `extent`
/// (x, y, z; t [0, 1)), with the given processor objects (`{"class": ..., "params": {...}}`).
pub fn config(
    sim: &SimHandle,
    channel: &str,
    extent: [u64; 3],
    chunk_size: [u64; 3],
    path_processor: Value,
    chunk_processor: Value,
) -> Value {
    config_for_host(
        &sim.host(),
        channel,
        extent,
        chunk_size,
        path_processor,
        chunk_processor,
    )
}

/// [`config`] for a Boss at `host` (`check` needs no running simulator).
pub fn config_for_host(
    host: &str,
    channel: &str,
    extent: [u64; 3],
    chunk_size: [u64; 3],
    path_processor: Value,
    chunk_processor: Value,
) -> Value {
    json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": host, "protocol": "http"},
        "path_processor": path_processor,
        "chunk_processor": chunk_processor
      },
      "database": {"collection": "col", "experiment": "exp", "channel": channel},
      "ingest_job": {
        "ingest_type": "volumetric",
        "resolution": 0,
        "extent": {"x": [0, extent[0]], "y": [0, extent[1]], "z": [0, extent[2]], "t": [0, 1]},
        "chunk_size": {"x": chunk_size[0], "y": chunk_size[1], "z": chunk_size[2]}
      }
    })
}

/// A config whose chunks come from `testing::TestPatternChunkProcessor` with `params` (its
/// `dtype`, `order` and bad-input switches); every voxel is
/// `boss_ingest_plugin_testing::pattern::value(dtype, x, y, z)`.
pub fn pattern_config(
    sim: &SimHandle,
    channel: &str,
    extent: [u64; 3],
    chunk_size: [u64; 3],
    params: Value,
) -> Value {
    pattern_config_for_host(&sim.host(), channel, extent, chunk_size, params)
}

/// [`pattern_config`] for a Boss at `host`.
pub fn pattern_config_for_host(
    host: &str,
    channel: &str,
    extent: [u64; 3],
    chunk_size: [u64; 3],
    params: Value,
) -> Value {
    config_for_host(
        host,
        channel,
        extent,
        chunk_size,
        json!({"class": "testing::TestPatternPathProcessor", "params": {}}),
        json!({"class": "testing::TestPatternChunkProcessor", "params": params}),
    )
}

/// A simulator whose `col/exp` holds exactly `channels` (name, datatype), with ids 7/12/40+i.
/// The returned dir holds its resources file.
pub fn sim_with_channels(channels: &[(&str, &str)]) -> (SimHandle, tempfile::TempDir) {
    let dir = super::cmd::temp_dir();
    let list: Vec<Value> = channels
        .iter()
        .enumerate()
        .map(|(i, (name, datatype))| {
            json!({"collection": "col", "collection_id": 7, "experiment": "exp",
                   "experiment_id": 12, "channel": name, "channel_id": 40 + i,
                   "datatype": datatype, "base_resolution": 0})
        })
        .collect();
    let path = dir.path().join("resources.json");
    let resources = json!({"tokens": {"boss-sim-token": "alice"}, "channels": list});
    std::fs::write(&path, resources.to_string()).expect("write resources");
    let sim = SimHandle::start(super::sim::SimOptions {
        resources: Some(path),
        ..super::sim::SimOptions::default()
    });
    (sim, dir)
}

/// Asserts that a volumetric ingest exited 0 with its job completed cleanly
/// ([`SimHandle::assert_completed_cleanly`]), that the summary and the sim's counters show
/// `chunks` chunks stored as `cuboids` cuboids, and returns the job id.
pub async fn assert_all_chunks_uploaded(
    sim: &SimHandle,
    out: &Output,
    chunks: u64,
    cuboids: u64,
) -> u64 {
    let job = assert_complete(
        out,
        &format!("Uploaded {chunks} chunks as {cuboids} cuboids"),
    );
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["cuboids_stored"], cuboids, "{stats}");
    job
}

/// Reads `[0, extent)` back 16 slices at a time and asserts every voxel equals `value(x, y, z)`
/// (`itemsize` bytes each); on a mismatch names the first differing voxel and how many differ.
pub async fn assert_cutout_matches(
    sim: &SimHandle,
    channel: &str,
    extent: [u64; 3],
    itemsize: usize,
    value: impl Fn(u64, u64, u64) -> u64,
) {
    let [nx, ny, nz] = extent;
    for z0 in (0..nz).step_by(16) {
        let z1 = (z0 + 16).min(nz);
        let got = cutout(sim, channel, (0, nx), (0, ny), (z0, z1)).await;
        let voxels = ((z1 - z0) * ny * nx) as usize;
        assert_eq!(
            got.len(),
            voxels * itemsize,
            "slices {z0}..{z1}: cutout size"
        );
        let (mut first, mut differ) = (None, 0u64);
        for (i, bytes) in got.chunks_exact(itemsize).enumerate() {
            let i = i as u64;
            let (x, y, z) = (i % nx, (i / nx) % ny, z0 + i / (nx * ny));
            let mut le = [0u8; 8];
            le[..itemsize].copy_from_slice(bytes);
            let (stored, want) = (u64::from_le_bytes(le), value(x, y, z));
            if stored != want {
                differ += 1;
                first.get_or_insert((x, y, z, stored, want));
            }
        }
        assert_eq!(
            differ, 0,
            "slices {z0}..{z1}: {differ} voxels differ; first at (x, y, z, stored, expected) {first:?}"
        );
    }
}
