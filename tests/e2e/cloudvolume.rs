//! The cloudvolume chunk processor end to end: the real `boss-ingest` runs volumetric jobs under
//! the Python client's class names against `boss-sim`, reading generated Neuroglancer
//! precomputed volumes (raw and gzip chunk files, uint8 and uint16) whose sizes are not
//! multiples of the job's chunk size nor of the volume's chunk files; every voxel is read back
//! through the cutout API. A missing chunk file with `fill_missing` reads as zeros and is
//! reported; a volume that does not exist quarantines every chunk with an error naming it.

use serde_json::{json, Value};

use crate::support::cmd::temp_dir;
use crate::support::data::{voxel, Dtype};
use crate::support::job::{ingest, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumes::{failure_report, write_precomputed, Storage};
use crate::support::volumetric::{assert_all_chunks_uploaded, assert_cutout_matches, config};

/// x, y not multiples of 512 and z not a multiple of 16.
const EXTENT: [u64; 3] = [530, 520, 18];
/// Two cuboids along x: 1 × 2 × 2 = 4 chunks of 2 cuboids each.
const CHUNK: [u64; 3] = [1024, 512, 16];
const CHUNKS: u64 = 4;
const CUBOIDS: u64 = 8;
/// The volume's chunk files (x, y, z), aligned with nothing the job uses.
const FILE_CHUNKS: [u64; 3] = [128, 100, 7];

/// A volumetric config reading the volume at `cloudpath`, by the Python class names.
fn cloudvolume_config(sim: &SimHandle, channel: &str, cloudpath: &str, extra: Value) -> Value {
    let mut params = json!({"cloudpath": cloudpath, "mip": 0});
    for (k, v) in extra.as_object().into_iter().flatten() {
        params[k] = v.clone();
    }
    config(
        sim,
        channel,
        EXTENT,
        CHUNK,
        json!({"class": "ingestclient.plugins.cloudvolume.CloudVolumePathProcessor",
               "params": {}}),
        json!({"class": "ingestclient.plugins.cloudvolume.CloudVolumeChunkProcessor",
               "params": params}),
    )
}

/// Writes the volume, ingests it into `channel` and compares every voxel.
async fn ingest_and_compare(storage: Storage, dtype: Dtype, channel: &str) {
    let dir = temp_dir();
    let url = write_precomputed(
        &dir.path().join("volume"),
        storage,
        dtype,
        EXTENT,
        FILE_CHUNKS,
    );
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(
        dir.path(),
        &cloudvolume_config(&sim, channel, &url, json!({})),
    );
    let out = run(ingest(&sim, &config)).await;
    assert_all_chunks_uploaded(&sim, &out, CHUNKS, CUBOIDS).await;
    assert_cutout_matches(&sim, channel, EXTENT, dtype.size(), |x, y, z| {
        voxel(dtype, x, y, z)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uint8_raw_precomputed_volume_is_read_back_exactly() {
    ingest_and_compare(Storage::Raw, Dtype::U8, "ch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn uint16_gzip_precomputed_volume_is_read_back_exactly() {
    ingest_and_compare(Storage::GzipSuffix, Dtype::U16, "ch16").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fill_missing_reads_a_missing_chunk_file_as_zeros_and_reports_it() {
    let dir = temp_dir();
    let volume = dir.path().join("volume");
    let url = write_precomputed(&volume, Storage::Raw, Dtype::U8, EXTENT, FILE_CHUNKS);
    // File (x 1, y 2, z 0) holds voxels x 128..256, y 200..300, z 0..7.
    let missing = volume.join("1_1_1/128-256_200-300_0-7");
    std::fs::remove_file(&missing).unwrap();
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(
        dir.path(),
        &cloudvolume_config(&sim, "ch", &url, json!({"fill_missing": true})),
    );
    let out = run(ingest(&sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let note = format!(
        "chunk x0 y0 z0 (voxels x [0, 530), y [0, 512), z [0, 16)) from : precomputed volume \
         {url}: chunk file {} does not exist; read as zeros (fill_missing)",
        missing.display()
    );
    assert!(
        out.both().contains(&note),
        "{note:?} not in\n{}",
        out.both()
    );
    // The run summary counts the chunk among the zero-filled ones.
    assert!(
        out.stdout
            .contains(", 1 chunks zero-filled past their source,"),
        "{}",
        out.both()
    );
    assert_cutout_matches(&sim, "ch", EXTENT, 1, |x, y, z| {
        let filled = (128..256).contains(&x) && (200..300).contains(&y) && z < 7;
        if filled {
            0
        } else {
            voxel(Dtype::U8, x, y, z)
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_precomputed_volume_that_does_not_exist_quarantines_every_chunk_naming_it() {
    let dir = temp_dir();
    let url = format!("file://{}/nothing", dir.path().display());
    let sim = SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    });
    let config = write_config(
        dir.path(),
        &cloudvolume_config(&sim, "ch16", &url, json!({})),
    );
    let home = dir.path().join("home");
    let out = run(ingest(&sim, &config)
        .env("HOME", &home)
        .args(["--max-attempts", "2"]))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let mut entries = failure_report(&out, &home);
    entries.sort_by_key(|e| (e["z"].as_u64(), e["y"].as_u64(), e["x"].as_u64()));
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
        // The host names the chunk and its voxels; the plugin names the volume.
        let (y1, z1) = ((512 * (y + 1)).min(520), (16 * (z + 1)).min(18));
        let message = format!(
            "chunk x{x} y{y} z{z} (voxels x [0, 530), y [{}, {y1}), z [{}, {z1})): no \
             Neuroglancer precomputed volume at {url}: {}/nothing/info does not exist; check \
             cloudpath",
            512 * y,
            16 * z,
            dir.path().display()
        );
        assert_eq!(e["error"], message.as_str(), "{e}");
    }
}
