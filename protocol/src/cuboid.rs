//! Boss cuboids: the 512 × 512 × 16 storage unit, and their python-blosc compatible compression
//! (protocol §1, §4.3).
//!
//! Volumetric clients upload cuboids compressed exactly as the Python client does with
//! `blosc.compress(data, typesize=bits)`: c-blosc 1, blosclz, clevel 9, byte shuffle, and the
//! *type size given in bits* (8, 16, 64) — a quirk the service relies on when it decompresses.
//! The simulator serves cuboids the same way, so the one implementation is here.

use std::ffi::{c_int, c_void};

pub const CUBOID_X: u64 = 512;
pub const CUBOID_Y: u64 = 512;
pub const CUBOID_Z: u64 = 16;
/// Voxels in one cuboid.
pub const CUBOID_VOXELS: usize = (CUBOID_X * CUBOID_Y * CUBOID_Z) as usize;

/// The cuboids of a volumetric chunk of `size` voxels, as offsets inside the chunk, in the order
/// the service lists them in its upload message (spec §3.3): x fastest, then y, then z, covering
/// the whole chunk size (partial cuboids at the high end included).
pub fn offsets(size: crate::config::ChunkSize) -> impl Iterator<Item = (u64, u64, u64)> {
    let steps = |len: u64, step: u64| (0..len).step_by(step as usize);
    steps(size.z, CUBOID_Z).flat_map(move |z| {
        steps(size.y, CUBOID_Y).flat_map(move |y| steps(size.x, CUBOID_X).map(move |x| (x, y, z)))
    })
}

/// Why compressed bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CuboidError {
    #[error("not a blosc buffer ({len} bytes; blosc headers are 16 bytes and must be consistent)")]
    NotBlosc { len: usize },
    #[error("blosc buffer is corrupt (decompression failed with {code})")]
    Corrupt { code: i32 },
    #[error("the buffer decompresses to {found} bytes; a {dtype} cuboid is {expected} bytes")]
    WrongSize {
        dtype: Dtype,
        expected: usize,
        found: usize,
    },
    #[error("channel datatype {0:?} is not one of uint8, uint16, uint32, uint64")]
    Datatype(String),
}

pub use plugin_abi::Dtype;

/// Bytes of one uncompressed cuboid of `dtype`: `16 * 512 * 512 * size`.
pub fn cuboid_bytes(dtype: Dtype) -> usize {
    CUBOID_VOXELS * dtype.size()
}

/// A channel's dtype from its Boss name.
pub fn parse_dtype(name: &str) -> Result<Dtype, CuboidError> {
    Dtype::from_name(name).ok_or_else(|| CuboidError::Datatype(name.to_string()))
}

/// Compresses voxel bytes (little-endian, C order) as python-blosc does for the Boss:
/// blosclz, clevel 9, byte shuffle, type size `itemsize * 8`.
pub fn compress(data: &[u8], dtype: Dtype) -> Vec<u8> {
    compress_with_typesize(data, dtype.size() * 8)
}

/// Compresses with an explicit blosc type size (the Boss passes bits; tests may pass bytes).
pub fn compress_with_typesize(data: &[u8], typesize: usize) -> Vec<u8> {
    compress_ctx(data, typesize, 9)
}

/// Compresses as [`compress`] does but at blosc level 1: for bytes that stay inside one process
/// (the simulator's own store), where a cuboid is rewritten far more often than it is read and
/// level 9 costs several times the CPU for a few percent of size. Any reader decompresses it
/// the same way, since the level is not part of the format.
pub fn compress_fast(data: &[u8], dtype: Dtype) -> Vec<u8> {
    compress_ctx(data, dtype.size() * 8, 1)
}

fn compress_ctx(data: &[u8], typesize: usize, clevel: c_int) -> Vec<u8> {
    let capacity = data.len() + blosc_src::BLOSC_MAX_OVERHEAD as usize;
    let mut out = vec![0u8; capacity];
    // SAFETY: `data` is valid for `data.len()` bytes, `out` for `capacity` bytes, they do not
    // overlap, and the compressor name is a NUL-terminated static string. The context variant
    // keeps no global state, so concurrent calls are fine.
    let written = unsafe {
        blosc_src::blosc_compress_ctx(
            clevel,
            blosc_src::BLOSC_SHUFFLE as c_int,
            typesize,
            data.len(),
            data.as_ptr() as *const c_void,
            out.as_mut_ptr() as *mut c_void,
            capacity,
            c"blosclz".as_ptr(),
            0,
            1,
        )
    };
    // With room for the maximum overhead compression always succeeds (c-blosc guarantees it);
    // a non-positive result would be an internal c-blosc bug.
    assert!(written > 0, "c-blosc failed to compress ({written})");
    out.truncate(written as usize);
    out
}

/// The uncompressed size a blosc buffer declares, after checking its header is consistent.
pub fn decompressed_len(compressed: &[u8]) -> Result<usize, CuboidError> {
    let mut nbytes = 0usize;
    // SAFETY: validate reads at most `compressed.len()` bytes and writes one usize.
    let ok = unsafe {
        blosc_src::blosc_cbuffer_validate(
            compressed.as_ptr() as *const c_void,
            compressed.len(),
            &mut nbytes,
        )
    };
    if ok != 0 || compressed.len() < 16 {
        return Err(CuboidError::NotBlosc {
            len: compressed.len(),
        });
    }
    Ok(nbytes)
}

/// Decompresses any blosc (c-blosc 1) buffer.
pub fn decompress(compressed: &[u8]) -> Result<Vec<u8>, CuboidError> {
    let nbytes = decompressed_len(compressed)?;
    let mut out = vec![0u8; nbytes];
    if nbytes == 0 {
        return Ok(out);
    }
    // SAFETY: the header was validated above, so decompression reads within `compressed`;
    // it writes at most `nbytes` bytes into `out`, which has exactly that length.
    let code = unsafe {
        blosc_src::blosc_decompress_ctx(
            compressed.as_ptr() as *const c_void,
            out.as_mut_ptr() as *mut c_void,
            nbytes,
            1,
        )
    };
    if code < 0 || code as usize != nbytes {
        return Err(CuboidError::Corrupt { code });
    }
    Ok(out)
}

/// Decompresses an uploaded cuboid and checks it holds exactly one cuboid of `dtype`.
pub fn decompress_cuboid(compressed: &[u8], dtype: Dtype) -> Result<Vec<u8>, CuboidError> {
    let expected = cuboid_bytes(dtype);
    let found = decompressed_len(compressed)?;
    if found != expected {
        return Err(CuboidError::WrongSize {
            dtype,
            expected,
            found,
        });
    }
    decompress(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunks_cuboids_come_x_first_and_cover_its_size() {
        let size = crate::config::ChunkSize {
            x: 1024,
            y: 600,
            z: 20,
        };
        let all: Vec<_> = offsets(size).collect();
        assert_eq!(
            all,
            [
                (0, 0, 0),
                (512, 0, 0),
                (0, 512, 0),
                (512, 512, 0),
                (0, 0, 16),
                (512, 0, 16),
                (0, 512, 16),
                (512, 512, 16)
            ]
        );
    }

    #[test]
    fn round_trip_every_dtype() {
        for dtype in [Dtype::U8, Dtype::U16, Dtype::U64] {
            let data: Vec<u8> = (0..cuboid_bytes(dtype))
                .map(|i| (i * 7 % 251) as u8)
                .collect();
            let packed = compress(&data, dtype);
            assert!(packed.len() < data.len());
            assert_eq!(decompress_cuboid(&packed, dtype).unwrap(), data);
        }
    }

    #[test]
    fn header_records_typesize_in_bits_and_blosclz() {
        let packed = compress(&[1u8; 4096], Dtype::U16);
        // Header: version, versionlz, flags, typesize, nbytes (LE u32), ...
        assert_eq!(packed[3], 16, "typesize byte holds bits");
        assert_eq!(u32::from_le_bytes(packed[4..8].try_into().unwrap()), 4096);
        // Flags bits 5-7 name the compressor: 0 = blosclz. Bit 0 = byte shuffle.
        assert_eq!(packed[2] >> 5, 0);
        assert_eq!(packed[2] & 1, 1);
    }

    #[test]
    fn wrong_size_and_garbage_are_named() {
        let packed = compress(&[0u8; 1000], Dtype::U8);
        assert_eq!(
            decompress_cuboid(&packed, Dtype::U8)
                .unwrap_err()
                .to_string(),
            "the buffer decompresses to 1000 bytes; a uint8 cuboid is 4194304 bytes"
        );
        assert!(matches!(
            decompress(b"definitely not blosc"),
            Err(CuboidError::NotBlosc { .. })
        ));
    }

    #[test]
    fn datatype_names() {
        assert_eq!(parse_dtype("uint16").unwrap().size(), 2);
        assert_eq!(
            parse_dtype("float32").unwrap_err().to_string(),
            "channel datatype \"float32\" is not one of uint8, uint16, uint32, uint64"
        );
    }
}
