//! Generated volumes for the volumetric end-to-end tests: a Zarr group holding one array (v2 or
//! v3) and a Neuroglancer precomputed volume (raw or gzip chunk files), each with voxel
//! (x, y, z) = [`voxel`], so a test knows the value of every voxel it reads back through the
//! cutout API. The plugins' own fixture writers lay out the files; this module only picks the
//! voxel pattern and the layouts the tests use. Nothing large is committed: each test writes the
//! volume it needs into its own temp dir.

use std::path::{Path, PathBuf};

use boss_ingest_plugin_cloudvolume::fixture as precomputed;
use boss_ingest_plugin_zarr::fixture as zarr;

use super::data::{voxel, Dtype};

pub use precomputed::Storage;
pub use zarr::{Compression, Format};

/// Writes a Zarr group at `dir` holding the array `name`: `size` voxels and chunks of `chunks`,
/// both (x, y, z); the array itself is (z, y, x) as the plugin expects. Returns `dir`.
pub fn write_zarr(
    dir: &Path,
    name: &str,
    format: Format,
    compression: Compression,
    dtype: Dtype,
    size: [u64; 3],
    chunks: [u64; 3],
) -> PathBuf {
    let mut fixture = zarr::Fixture::new(
        format,
        [size[2], size[1], size[0]],
        [chunks[2], chunks[1], chunks[0]],
        dtype,
    );
    fixture.compression = compression;
    match format {
        Format::V2 => {
            std::fs::create_dir_all(dir).expect("create the Zarr group");
            std::fs::write(dir.join(".zgroup"), r#"{"zarr_format": 2}"#).expect("write .zgroup");
        }
        Format::V3 => zarr::write_v3_group(dir).expect("write the v3 group"),
    }
    fixture
        .write(&dir.join(name), |x, y, z| voxel(dtype, x, y, z))
        .unwrap_or_else(|e| panic!("writing Zarr array {}: {e}", dir.display()));
    dir.to_path_buf()
}

/// Writes a one-scale precomputed volume at `dir` (offset 0): `size` voxels in chunk files of
/// `chunks` (both x, y, z), stored as `storage` says. Returns its `file://` URL.
pub fn write_precomputed(
    dir: &Path,
    storage: Storage,
    dtype: Dtype,
    size: [u64; 3],
    chunks: [u64; 3],
) -> String {
    let mut fixture = precomputed::Fixture::new(dtype, size, chunks);
    fixture.storage = storage;
    fixture
        .write(dir, |_mip, x, y, z| voxel(dtype, x, y, z))
        .unwrap_or_else(|e| panic!("writing precomputed volume {}: {e}", dir.display()));
    format!("file://{}", dir.display())
}

/// The failure report a run wrote under `home` (its path is printed as "Failure report: <path>"),
/// one JSON object per quarantined tile or chunk.
pub fn failure_report(out: &super::cmd::Output, home: &Path) -> Vec<serde_json::Value> {
    let path = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Failure report: "))
        .unwrap_or_else(|| panic!("no failure report printed:\n{}", out.both()));
    let path = PathBuf::from(path.trim());
    assert!(path.starts_with(home.join(".boss-ingest")), "{path:?}");
    let report = std::fs::read_to_string(&path).expect("the failure report exists");
    report
        .lines()
        .map(|l| serde_json::from_str(l).expect("a report line is JSON"))
        .collect()
}
