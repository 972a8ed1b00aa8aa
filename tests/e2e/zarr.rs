//! The zarr chunk processor end to end: the real `boss-ingest` runs volumetric jobs under the
//! Python client's class names against `boss-sim`, reading generated Zarr arrays (v2 and v3,
//! uint8 and uint16) whose sizes are not multiples of the chunk size nor of the array's own
//! chunks; every voxel is read back through the cutout API. A job naming an array that does not
//! exist quarantines every chunk with an error naming the chunk and the location.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::cmd::temp_dir;
use crate::support::data::{voxel, Dtype};
use crate::support::job::{ingest, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumes::{failure_report, write_zarr, Compression, Format};
use crate::support::volumetric::{assert_all_chunks_uploaded, assert_cutout_matches, config};

/// x, y not multiples of 512 and z not a multiple of 16.
const EXTENT: [u64; 3] = [530, 520, 18];
/// Two cuboids along x: 1 × 2 × 2 = 4 chunks of 2 cuboids each.
const CHUNK: [u64; 3] = [1024, 512, 16];
const CHUNKS: u64 = 4;
const CUBOIDS: u64 = 8;
/// The array's own chunks (x, y, z), aligned with nothing the job uses.
const ZARR_CHUNKS: [u64; 3] = [128, 100, 7];

/// A volumetric config reading `volume_name` under `cloud_path`, by the Python class names.
fn zarr_config(sim: &SimHandle, channel: &str, cloud_path: &Path, volume_name: &str) -> Value {
    config(
        sim,
        channel,
        EXTENT,
        CHUNK,
        json!({"class": "ingestclient.plugins.zarr.ZarrPathProcessor", "params": {}}),
        json!({"class": "ingestclient.plugins.zarr.ZarrChunkProcessor",
               "params": {"cloud_path": cloud_path, "volume_name": volume_name}}),
    )
}

/// Writes the array, ingests it into `channel` and compares every voxel.
async fn ingest_and_compare(format: Format, compression: Compression, dtype: Dtype, channel: &str) {
    let dir = temp_dir();
    let group = write_zarr(
        &dir.path().join("volume.zarr"),
        "raw",
        format,
        compression,
        dtype,
        EXTENT,
        ZARR_CHUNKS,
    );
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &zarr_config(&sim, channel, &group, "raw"));
    let out = run(ingest(&sim, &config)).await;
    assert_all_chunks_uploaded(&sim, &out, CHUNKS, CUBOIDS).await;
    assert_cutout_matches(&sim, channel, EXTENT, dtype.size(), |x, y, z| {
        voxel(dtype, x, y, z)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uint8_zarr_v2_array_with_blosc_is_read_back_exactly() {
    ingest_and_compare(Format::V2, Compression::Blosc, Dtype::U8, "ch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uint16_zarr_v3_array_with_zstd_is_read_back_exactly() {
    ingest_and_compare(Format::V3, Compression::Zstd, Dtype::U16, "ch16").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zarr_array_that_does_not_exist_quarantines_every_chunk_naming_it() {
    let dir = temp_dir();
    let group = dir.path().join("missing.zarr");
    let sim = SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &zarr_config(&sim, "ch", &group, "raw"));
    let home = dir.path().join("home");
    let out = run(ingest(&sim, &config)
        .env("HOME", &home)
        .args(["--max-attempts", "2"]))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let mut entries = failure_report(&out, &home);
    entries.sort_by_key(|e| (e["z"].as_u64(), e["y"].as_u64(), e["x"].as_u64()));
    let at = format!("{}/raw", group.display());
    let indices: Vec<(u64, u64, u64)> = entries
        .iter()
        .map(|e| {
            let i = |k: &str| e[k].as_u64().unwrap_or_else(|| panic!("{k} in {e}"));
            (i("x"), i("y"), i("z"))
        })
        .collect();
    assert_eq!(indices, vec![(0, 0, 0), (0, 1, 0), (0, 0, 1), (0, 1, 1)]);
    for (e, (x, y, z)) in entries.iter().zip(indices) {
        assert_eq!(e["attempts"], 2, "{e}");
        // The host names the chunk and its voxels; the plugin names the array.
        let (y1, z1) = ((512 * (y + 1)).min(520), (16 * (z + 1)).min(18));
        let message = format!(
            "chunk x{x} y{y} z{z} (voxels x [0, 530), y [{}, {y1}), z [{}, {z1})): no Zarr \
             array at {at} (neither {at}/.zarray nor {at}/zarr.json exists); check cloud_path \
             and volume_name",
            512 * y,
            16 * z
        );
        assert_eq!(e["error"], message.as_str(), "{e}");
    }
}
