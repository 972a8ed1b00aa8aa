//! The plugin driven through its root module, as the host drives it, over small generated
//! arrays: exact voxels for v2 and v3 and each codec, edge chunks clipped to the array and the
//! extent, absent chunk objects, and the errors for a missing array or a group.

use std::path::Path;
use std::sync::Arc;

use plugin_abi::loader::{ChunkProcessor, Library};
use plugin_abi::{AxisOrder, ChunkArray, Dtype, ErrorKind, LocalFiles, Note};
use serde_json::json;

use crate::fixture::{Compression, Fixture, Format};

/// The voxel value every fixture here holds (truncated to the dtype when written).
fn value(x: u64, y: u64, z: u64) -> u64 {
    x + 7 * y + 131 * z
}

/// Job: chunk size 32 × 32 × 16 (x, y, z), extent up to `stop` (x, y, z).
fn processor(cloud_path: &Path, volume: &str, stop: [u64; 3]) -> ChunkProcessor {
    let params = json!({"cloud_path": cloud_path, "volume_name": volume,
        "ingest_job": {"chunk_size": {"x": 32, "y": 32, "z": 16},
            "extent": {"x": [0, stop[0]], "y": [0, stop[1]], "z": [0, stop[2]], "t": [0, 1]}}});
    Library::from_root_module(crate::root_module())
        .chunk_processor(
            "ZarrChunkProcessor",
            &params.to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap()
}

/// The expected chunk: voxels [start, stop) (x, y, z) of `value`, ZYX order.
fn expected(start: [u64; 3], stop: [u64; 3], dtype: Dtype) -> ChunkArray {
    let mut data = Vec::new();
    for z in start[2]..stop[2] {
        for y in start[1]..stop[1] {
            for x in start[0]..stop[0] {
                data.extend_from_slice(&value(x, y, z).to_le_bytes()[..dtype.size()]);
            }
        }
    }
    ChunkArray::new(
        vec![stop[2] - start[2], stop[1] - start[1], stop[0] - start[0]],
        AxisOrder::Zyx,
        dtype,
        data,
    )
}

/// Writes an array of shape (z 20, y 40, x 50) with chunks (8, 16, 16) and checks an inner and
/// the far edge chunk of a job over all of it.
fn round_trip(fixture: Fixture) {
    let dir = tempfile::tempdir().unwrap();
    fixture.write(&dir.path().join("raw"), value).unwrap();
    let chunks = processor(dir.path(), "raw", [50, 40, 20]);
    let dtype = fixture.dtype;
    assert_eq!(
        chunks.chunk("", 0, 0, 0).unwrap(),
        expected([0, 0, 0], [32, 32, 16], dtype),
        "{fixture:?}"
    );
    assert_eq!(
        chunks.chunk("", 1, 1, 1).unwrap(),
        expected([32, 32, 16], [50, 40, 20], dtype),
        "{fixture:?}"
    );
}

fn fixture(format: Format, dtype: Dtype, compression: Compression) -> Fixture {
    let mut f = Fixture::new(format, [20, 40, 50], [8, 16, 16], dtype);
    f.compression = compression;
    f
}

#[test]
fn v2_arrays_read_exactly_with_every_compressor() {
    for compression in [
        Compression::None,
        Compression::Blosc,
        Compression::Gzip,
        Compression::Zlib,
        Compression::Zstd,
    ] {
        round_trip(fixture(Format::V2, Dtype::U16, compression));
    }
    round_trip(fixture(Format::V2, Dtype::U8, Compression::Blosc));
}

#[test]
fn v3_arrays_read_exactly_with_every_codec_and_sharded() {
    for compression in [
        Compression::None,
        Compression::Blosc,
        Compression::Gzip,
        Compression::Zstd,
    ] {
        round_trip(fixture(Format::V3, Dtype::U8, compression));
    }
    let mut sharded = fixture(Format::V3, Dtype::U16, Compression::Zstd);
    sharded.shard_inner = Some([4, 8, 8]);
    round_trip(sharded);
}

#[test]
fn v3_checksums_are_verified_and_dropped() {
    let mut plain = fixture(Format::V3, Dtype::U16, Compression::None);
    plain.checksum = true;
    round_trip(plain);
    let mut sharded = fixture(Format::V3, Dtype::U8, Compression::Gzip);
    sharded.checksum = true;
    sharded.shard_inner = Some([4, 8, 8]);
    round_trip(sharded);
}

/// Flips one voxel's byte of an uncompressed chunk: only the checksum can tell, and it does,
/// naming the object and both checksums instead of returning the wrong voxel.
#[test]
fn a_chunk_whose_checksum_does_not_match_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("raw");
    let mut f = fixture(Format::V3, Dtype::U16, Compression::None);
    f.checksum = true;
    f.write(&array, value).unwrap();
    let object = array.join("c/0/0/1");
    let mut bytes = std::fs::read(&object).unwrap();
    let (data, stored) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_le_bytes(stored.try_into().unwrap());
    assert_eq!(stored, crc32c::crc32c(data));
    bytes[10] ^= 0x01;
    let found = crc32c::crc32c(&bytes[..bytes.len() - 4]);
    std::fs::write(&object, &bytes).unwrap();
    let err = processor(dir.path(), "raw", [50, 40, 20])
        .chunk("", 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidImage);
    assert_eq!(
        err.message,
        format!(
            "Zarr array {}: a stored chunk is damaged: its crc32c checksum does not match: \
             stored {stored:#010x}, computed {found:#010x} (object c/0/0/1)",
            array.display()
        )
    );
}

#[test]
fn a_shard_whose_index_checksum_does_not_match_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("raw");
    let mut f = fixture(Format::V3, Dtype::U8, Compression::None);
    f.checksum = true;
    f.shard_inner = Some([4, 8, 8]);
    f.write(&array, value).unwrap();
    let object = array.join("c/1/0/0");
    let mut bytes = std::fs::read(&object).unwrap();
    // The index of 2·2·2 (offset, length) pairs and its checksum end the shard.
    let n = bytes.len();
    let stored = u32::from_le_bytes(bytes[n - 4..].try_into().unwrap());
    bytes[n - 4 - 8 * 16] ^= 0x01;
    let found = crc32c::crc32c(&bytes[n - 4 - 8 * 16..n - 4]);
    std::fs::write(&object, &bytes).unwrap();
    let err = processor(dir.path(), "raw", [50, 40, 20])
        .chunk("", 0, 0, 0)
        .unwrap_err();
    assert_eq!(
        err.message,
        format!(
            "Zarr array {}: a stored chunk is damaged: its shard index's crc32c checksum does \
             not match: stored {stored:#010x}, computed {found:#010x} (object c/1/0/0)",
            array.display()
        )
    );
}

#[test]
fn chunks_are_clipped_to_the_extent_and_s3_style_paths_join() {
    let dir = tempfile::tempdir().unwrap();
    fixture(Format::V2, Dtype::U16, Compression::None)
        .write(&dir.path().join("vol/raw"), value)
        .unwrap();
    // A trailing slash on cloud_path and a leading one on volume_name still name the array.
    let base = format!("{}/", dir.path().display());
    let chunks = processor(Path::new(&base), "/vol/raw", [40, 35, 18]);
    assert_eq!(
        chunks.chunk("", 1, 1, 1).unwrap(),
        expected([32, 32, 16], [40, 35, 18], Dtype::U16)
    );
    let err = chunks.chunk("", 2, 0, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::OutOfRange);
}

#[test]
fn absent_chunk_objects_read_as_the_fill_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = fixture(Format::V3, Dtype::U16, Compression::Gzip);
    f.fill_value = 9;
    f.omit = vec![[0, 0, 1]];
    f.write(&dir.path().join("raw"), value).unwrap();
    let got = processor(dir.path(), "raw", [50, 40, 20])
        .chunk("", 0, 0, 0)
        .unwrap();
    let at = format!("{}/raw", dir.path().display());
    let mut want = expected([0, 0, 0], [32, 32, 16], Dtype::U16).with_note(Note::other(format!(
        "Zarr array {at}: 1 of the 8 stored chunks this chunk covers do not exist and read as \
         the fill value 9"
    )));
    // Object (z 0, y 0, x 1) covers x 16..32, y 0..16, z 0..8 of this chunk.
    for z in 0..8 {
        for y in 0..16 {
            for x in 16..32 {
                let i = 2 * (z * 32 * 32 + y * 32 + x);
                want.data[i..i + 2].copy_from_slice(&9u16.to_le_bytes());
            }
        }
    }
    assert_eq!(got, want);
}

#[test]
fn a_missing_array_names_the_chunk_and_the_location() {
    let dir = tempfile::tempdir().unwrap();
    let chunks = processor(dir.path(), "nope", [50, 40, 20]);
    let err = chunks.chunk("", 1, 0, 2).unwrap_err();
    let at = format!("{}/nope", dir.path().display());
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!(
            "no Zarr array at {at} (neither {at}/.zarray nor {at}/zarr.json exists); check \
             cloud_path and volume_name"
        )
    );
}

#[test]
fn a_group_is_not_an_array() {
    let dir = tempfile::tempdir().unwrap();
    crate::fixture::write_v3_group(dir.path()).unwrap();
    let err = processor(dir.path(), "", [50, 40, 20])
        .chunk("", 0, 0, 0)
        .unwrap_err();
    let at = dir.path().display();
    assert_eq!(
        err.message,
        format!("{at} is a Zarr group, not an array; set volume_name to the array inside it")
    );
}

#[test]
fn a_damaged_object_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("raw");
    fixture(Format::V2, Dtype::U8, Compression::Gzip)
        .write(&array, value)
        .unwrap();
    std::fs::write(array.join("0.0.1"), b"not gzip").unwrap();
    let err = processor(dir.path(), "raw", [50, 40, 20])
        .chunk("", 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidImage);
    assert!(
        err.message.ends_with("(object 0.0.1)") && err.message.contains("gzip"),
        "{}",
        err.message
    );
}

#[test]
fn blosc_lz4_and_zstd_chunks_decode() {
    // numcodecs' default Blosc compressor is lz4: the c-blosc build must include it.
    let data: Vec<u8> = (0..4096u32)
        .flat_map(|v| (v as u16).to_le_bytes())
        .collect();
    for cname in [c"lz4", c"zstd", c"zlib"] {
        let mut out = vec![0u8; data.len() + blosc_src::BLOSC_MAX_OVERHEAD as usize];
        // SAFETY: both buffers are valid for the lengths passed; `cname` is NUL-terminated.
        let n = unsafe {
            blosc_src::blosc_compress_ctx(
                5,
                1,
                2,
                data.len(),
                data.as_ptr().cast(),
                out.as_mut_ptr().cast(),
                out.len(),
                cname.as_ptr(),
                0,
                1,
            )
        };
        assert!(n > 0, "{cname:?} compression failed");
        out.truncate(n as usize);
        let codecs = crate::codec::Codecs {
            fortran_order: false,
            array: crate::codec::ArrayToBytes::Bytes(crate::codec::Endian::Little),
            bytes: vec![crate::codec::BytesCodec::Blosc],
        };
        assert_eq!(
            crate::codec::decode(&codecs, out, &[4096], 2, &[0, 0]).unwrap(),
            data,
            "{cname:?}"
        );
    }
}

#[test]
fn zarr_plugin_conforms() {
    use plugin_abi::conformance::{assert_conforms, Case};
    let dir = tempfile::tempdir().unwrap();
    fixture(Format::V2, Dtype::U8, Compression::Blosc)
        .write(&dir.path().join("raw"), value)
        .unwrap();
    let job = json!({"cloud_path": dir.path(), "volume_name": "raw",
        "ingest_job": {"chunk_size": {"x": 32, "y": 32, "z": 16},
            "extent": {"x": [0, 50], "y": [0, 40], "z": [0, 20], "t": [0, 1]}}});
    assert_conforms(
        crate::root_module(),
        &[
            Case::new("ZarrPathProcessor", job.clone()).call("", 0, 0, 0, 0),
            Case::new("ZarrChunkProcessor", job)
                .call("", 0, 0, 0, 0)
                .call("", 1, 1, 1, 0),
        ],
    );
}
