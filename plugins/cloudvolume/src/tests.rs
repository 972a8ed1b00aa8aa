//! The plugin driven through its root module, as the host drives it, over small generated
//! volumes: exact voxels in XYZT order for raw and gzip chunk files, edge chunks, a voxel
//! offset, a second mip, missing chunk files with and without `fill_missing`, and a volume that
//! does not exist.

use std::path::Path;
use std::sync::Arc;

use plugin_abi::loader::{ChunkProcessor, Library};
use plugin_abi::{AxisOrder, ChunkArray, Dtype, ErrorKind, LocalFiles, Note};
use serde_json::{json, Value};

use crate::fixture::{Fixture, ScaleSpec, Storage};

/// The voxel value every fixture here holds (truncated to the dtype when written).
fn value(mip: usize, x: u64, y: u64, z: u64) -> u64 {
    x + 7 * y + 131 * z + 1000 * mip as u64
}

/// Job: chunk size 32 × 32 × 16 (x, y, z), extent up to `stop`, plus `extra` params.
fn processor(cloudpath: &str, stop: [u64; 3], extra: Value) -> ChunkProcessor {
    let mut params = json!({"cloudpath": cloudpath,
        "ingest_job": {"chunk_size": {"x": 32, "y": 32, "z": 16},
            "extent": {"x": [0, stop[0]], "y": [0, stop[1]], "z": [0, stop[2]], "t": [0, 1]}}});
    for (k, v) in extra.as_object().into_iter().flatten() {
        params[k] = v.clone();
    }
    Library::from_root_module(crate::root_module())
        .chunk_processor(
            "CloudVolumeChunkProcessor",
            &params.to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap()
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// The expected chunk: voxels [start, stop) (x, y, z) of `value` at `mip`, in XYZT C order
/// (z fastest), with voxels for which `zero` holds set to 0.
fn expected(
    mip: usize,
    start: [u64; 3],
    stop: [u64; 3],
    dtype: Dtype,
    zero: impl Fn(u64, u64, u64) -> bool,
) -> ChunkArray {
    let mut data = Vec::new();
    for x in start[0]..stop[0] {
        for y in start[1]..stop[1] {
            for z in start[2]..stop[2] {
                let v = if zero(x, y, z) {
                    0
                } else {
                    value(mip, x, y, z)
                };
                data.extend_from_slice(&v.to_le_bytes()[..dtype.size()]);
            }
        }
    }
    ChunkArray::new(
        vec![
            stop[0] - start[0],
            stop[1] - start[1],
            stop[2] - start[2],
            1,
        ],
        AxisOrder::Xyzt,
        dtype,
        data,
    )
}

/// A (x 50, y 40, z 20) volume in chunk files of 16 × 16 × 8; checks an inner and the far edge
/// chunk of a job over all of it.
fn round_trip(dtype: Dtype, storage: Storage) {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fixture::new(dtype, [50, 40, 20], [16, 16, 8]);
    f.storage = storage;
    f.write(dir.path(), value).unwrap();
    let chunks = processor(&file_url(dir.path()), [50, 40, 20], json!({}));
    let none = |_, _, _| false;
    assert_eq!(
        chunks.chunk("", 0, 0, 0).unwrap(),
        expected(0, [0, 0, 0], [32, 32, 16], dtype, none),
        "{storage:?}"
    );
    assert_eq!(
        chunks.chunk("", 1, 1, 1).unwrap(),
        expected(0, [32, 32, 16], [50, 40, 20], dtype, none),
        "{storage:?}"
    );
}

#[test]
fn raw_and_gzip_chunk_files_read_exactly_in_xyzt_order() {
    round_trip(Dtype::U8, Storage::Raw);
    round_trip(Dtype::U16, Storage::Raw);
    round_trip(Dtype::U16, Storage::GzipSuffix);
    round_trip(Dtype::U8, Storage::GzipInPlace);
}

#[test]
fn mip_picks_the_scale_and_voxels_below_the_offset_are_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fixture::new(Dtype::U16, [50, 40, 20], [16, 16, 8]);
    f.scales.push(ScaleSpec {
        key: "2_2_1".into(),
        size: [30, 20, 20],
        voxel_offset: [5, 0, 3],
        chunk_size: [16, 16, 8],
    });
    f.write(dir.path(), value).unwrap();
    // A plain path works as well as file://.
    let path = dir.path().display().to_string();
    let chunks = processor(&path, [50, 40, 20], json!({"mip": 1}));
    assert_eq!(
        chunks.chunk("", 0, 0, 0).unwrap(),
        expected(1, [0, 0, 0], [32, 20, 16], Dtype::U16, |x, _, z| x < 5
            || z < 3)
        .with_note(Note::other(format!(
            "precomputed volume {path}: voxels below the volume's voxel_offset [5, 0, 3] read \
             as zero"
        )))
    );
    assert_eq!(
        chunks.chunk("", 1, 0, 1).unwrap(),
        expected(1, [32, 0, 16], [35, 20, 20], Dtype::U16, |_, _, _| false)
    );
}

#[test]
fn a_missing_chunk_file_is_an_error_unless_fill_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = Fixture::new(Dtype::U8, [50, 40, 20], [16, 16, 8]);
    f.omit = vec![(0, [1, 0, 0])];
    f.write(dir.path(), value).unwrap();
    let url = file_url(dir.path());
    let err = processor(&url, [50, 40, 20], json!({}))
        .chunk("", 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!(
            "precomputed volume {url} (mip 0): chunk file {}/1_1_1/16-32_0-16_0-8 does not \
             exist; set \"fill_missing\": true in the chunk processor's params to read missing \
             chunks as zeros",
            dir.path().display()
        )
    );
    let filled = processor(&url, [50, 40, 20], json!({"fill_missing": true}))
        .chunk("", 0, 0, 0)
        .unwrap();
    assert_eq!(
        filled,
        expected(0, [0, 0, 0], [32, 32, 16], Dtype::U8, |x, y, z| (16..32)
            .contains(&x)
            && y < 16
            && z < 8)
        .with_note(Note::black_tile(format!(
            "precomputed volume {url}: chunk file {}/1_1_1/16-32_0-16_0-8 does not exist; read \
             as zeros (fill_missing)",
            dir.path().display()
        )))
    );
}

#[test]
fn a_volume_that_does_not_exist_names_the_chunk_and_the_info_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}/nothing", dir.path().display());
    let err = processor(&url, [50, 40, 20], json!({}))
        .chunk("", 1, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!(
            "no Neuroglancer precomputed volume at {url}: {}/nothing/info does not exist; \
             check cloudpath",
            dir.path().display()
        )
    );
}

#[test]
fn chunks_outside_the_volume_and_unknown_schemes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    Fixture::new(Dtype::U8, [50, 40, 20], [16, 16, 8])
        .write(dir.path(), value)
        .unwrap();
    let err = processor(&file_url(dir.path()), [50, 40, 20], json!({}))
        .chunk("", 2, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfRange);
    let err = Library::from_root_module(crate::root_module())
        .chunk_processor(
            "CloudVolumeChunkProcessor",
            &json!({"cloudpath": "gs://bucket/vol",
                "ingest_job": {"chunk_size": {"x": 32, "y": 32, "z": 16},
                "extent": {"x": [0, 1], "y": [0, 1], "z": [0, 1]}}})
            .to_string(),
            Arc::new(LocalFiles),
        )
        .err()
        .unwrap();
    assert_eq!(
        err.message,
        "cloudpath gs://bucket/vol: gs:// is not read; use file://, s3:// or http(s)://"
    );
}

#[test]
fn cloudvolume_plugin_conforms() {
    use plugin_abi::conformance::{assert_conforms, Case};
    let dir = tempfile::tempdir().unwrap();
    Fixture::new(Dtype::U16, [50, 40, 20], [16, 16, 8])
        .write(dir.path(), value)
        .unwrap();
    let job = json!({"cloudpath": file_url(dir.path()),
        "ingest_job": {"chunk_size": {"x": 32, "y": 32, "z": 16},
            "extent": {"x": [0, 50], "y": [0, 40], "z": [0, 20], "t": [0, 1]}}});
    assert_conforms(
        crate::root_module(),
        &[
            Case::new("CloudVolumePathProcessor", job.clone()).call("", 0, 0, 0, 0),
            Case::new("CloudVolumeChunkProcessor", job)
                .call("", 0, 0, 0, 0)
                .call("", 1, 1, 1, 0),
        ],
    );
}
