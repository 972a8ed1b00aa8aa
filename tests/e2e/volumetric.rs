//! Volumetric ingest end to end: the real `boss-ingest` runs volumetric jobs against `boss-sim`,
//! reading chunks from the testing plugin's `TestPatternChunkProcessor` (a known value at every
//! voxel, any dtype and axis order), cutting them into blosc cuboids and storing them in the
//! ingest bucket; every voxel is read back through the cutout API. Extents are not multiples of
//! the chunk size, so edge chunks are partial and partial cuboids are zero-padded.

use boss_ingest_plugin_testing::pattern::value;
use plugin_abi::Dtype;
use serde_json::{json, Value};

use crate::support::cmd::temp_dir;
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumetric::{
    assert_cutout_matches, ingest, job_id, pattern_config, run, write_config,
};

/// x and y not multiples of 512, z not a multiple of 16.
const EXTENT: [u64; 3] = [700, 600, 37];
/// Two cuboids along x and z: 1 × 2 × 2 = 4 chunks of 4 cuboids each.
const CHUNK: [u64; 3] = [1024, 512, 32];
const CHUNKS: u64 = 4;
const CUBOIDS: u64 = 16;

fn sim() -> SimHandle {
    SimHandle::start(SimOptions {
        wait_on_queues_secs: 1.0,
        ..SimOptions::default()
    })
}

/// Ingests the pattern into `channel` and checks the job, the sim's counters and every voxel.
async fn ingest_and_compare(sim: &SimHandle, channel: &str, dtype: Dtype, params: Value) -> u64 {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &pattern_config(sim, channel, EXTENT, CHUNK, params),
    );
    let out = run(ingest(sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    assert!(
        out.stdout.contains(&format!("Job {job} is COMPLETE.")),
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .contains(&format!("Uploaded {CHUNKS} chunks as {CUBOIDS} cuboids")),
        "{}",
        out.both()
    );
    let stats = sim.stats(job).await;
    assert_eq!(stats["state"], "COMPLETE", "{stats}");
    assert_eq!(stats["cuboids_stored"], CUBOIDS, "{stats}");
    assert_eq!(stats["cuboid_errors"], 0, "{stats}");
    assert_cutout_matches(sim, channel, EXTENT, dtype.size(), |x, y, z| {
        value(dtype, x, y, z)
    })
    .await;
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn uint16_volume_in_zyx_order_is_read_back_exactly() {
    let sim = sim();
    ingest_and_compare(
        &sim,
        "ch16",
        Dtype::U16,
        json!({"dtype": "uint16", "order": "ZYX"}),
    )
    .await;
    // Voxels past the extent inside stored cuboids are the zero padding.
    let past =
        crate::support::volumetric::cutout(&sim, "ch16", (700, 1024), (0, 512), (0, 16)).await;
    assert!(past.iter().all(|&b| b == 0));
}
