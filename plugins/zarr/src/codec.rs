//! Turning one stored Zarr object (a chunk, or a v3 shard) back into voxels: undo the
//! bytes-to-bytes codecs (blosc, gzip, zlib, zstd, crc32c) in reverse order, then the
//! array-to-bytes step (plain bytes in either byte order, v2 Fortran order, or a shard of inner
//! chunks), giving little-endian samples in C order of the object's shape.
//!
//! [`copy_box`] moves a box of samples between two C-order arrays; the region reader and the
//! shard decoder share it.

use std::io::Read;

use crate::ZarrError;

/// Byte order of stored samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

/// A codec that turns bytes into bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BytesCodec {
    Blosc,
    Gzip,
    Zlib,
    Zstd,
    /// A CRC-32C checksum appended as 4 little-endian bytes; decoding verifies and drops it.
    Crc32c,
}

/// How the samples of one object become bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayToBytes {
    Bytes(Endian),
    Sharding(Box<Sharding>),
}

/// A v3 `sharding_indexed` codec: the object is a shard of inner chunks plus an index of
/// `(offset, length)` pairs, one per inner chunk in C order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharding {
    pub inner_shape: Vec<u64>,
    pub inner: Codecs,
    /// The index ends with a CRC-32C (the usual `index_codecs`).
    pub index_checksum: bool,
    pub index_at_start: bool,
}

/// Everything needed to decode one stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codecs {
    /// v2 `"order": "F"`: samples stored with the first axis varying fastest.
    pub fortran_order: bool,
    pub array: ArrayToBytes,
    /// Applied in this order when writing; undone in reverse.
    pub bytes: Vec<BytesCodec>,
}

fn corrupt(message: impl Into<String>) -> ZarrError {
    ZarrError::Corrupt(message.into())
}

/// Number of samples in `shape`.
pub fn volume(shape: &[u64]) -> u64 {
    shape.iter().product()
}

/// Decodes `stored` into `volume(shape) * itemsize` bytes: little-endian samples in C order.
/// Inner chunks a shard lacks read as `fill` (`itemsize` little-endian bytes).
pub fn decode(
    codecs: &Codecs,
    stored: Vec<u8>,
    shape: &[u64],
    itemsize: usize,
    fill: &[u8],
) -> Result<Vec<u8>, ZarrError> {
    let mut bytes = stored;
    for codec in codecs.bytes.iter().rev() {
        bytes = undo(*codec, bytes)?;
    }
    let expected = volume(shape) as usize * itemsize;
    match &codecs.array {
        ArrayToBytes::Bytes(endian) => {
            if bytes.len() != expected {
                return Err(corrupt(format!(
                    "decodes to {} bytes, but a chunk of shape {shape:?} holds {expected}",
                    bytes.len()
                )));
            }
            if *endian == Endian::Big {
                for sample in bytes.chunks_exact_mut(itemsize) {
                    sample.reverse();
                }
            }
            if codecs.fortran_order {
                bytes = fortran_to_c(&bytes, shape, itemsize);
            }
            Ok(bytes)
        }
        ArrayToBytes::Sharding(sharding) => decode_shard(sharding, &bytes, shape, itemsize, fill),
    }
}

fn undo(codec: BytesCodec, bytes: Vec<u8>) -> Result<Vec<u8>, ZarrError> {
    let mut out = Vec::new();
    match codec {
        BytesCodec::Blosc => {
            return boss_protocol::cuboid::decompress(&bytes).map_err(|e| corrupt(e.to_string()))
        }
        BytesCodec::Gzip => flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| corrupt(format!("gzip: {e}")))?,
        BytesCodec::Zlib => flate2::read::ZlibDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| corrupt(format!("zlib: {e}")))?,
        BytesCodec::Zstd => {
            return zstd::stream::decode_all(bytes.as_slice())
                .map_err(|e| corrupt(format!("zstd: {e}")))
        }
        BytesCodec::Crc32c => {
            let keep = checked(&bytes, "its")?.len();
            let mut bytes = bytes;
            bytes.truncate(keep);
            return Ok(bytes);
        }
    };
    Ok(out)
}

/// The bytes before the CRC-32C checksum that ends `bytes`, when the checksum matches them. A
/// mismatch is the damage no other codec may notice (uncompressed bytes have no other check):
/// the error gives both checksums, `whose` names the checked part ("its", "its shard index's").
fn checked<'a>(bytes: &'a [u8], whose: &str) -> Result<&'a [u8], ZarrError> {
    let keep = bytes
        .len()
        .checked_sub(4)
        .ok_or_else(|| corrupt(format!("shorter than {whose} crc32c checksum")))?;
    let (data, stored) = bytes.split_at(keep);
    let expected = u32::from_le_bytes(stored.try_into().expect("4 bytes"));
    let found = crc32c::crc32c(data);
    if found != expected {
        return Err(corrupt(format!(
            "{whose} crc32c checksum does not match: stored {expected:#010x}, computed \
             {found:#010x}"
        )));
    }
    Ok(data)
}

/// Reorders samples stored first-axis-fastest into C order.
fn fortran_to_c(bytes: &[u8], shape: &[u64], itemsize: usize) -> Vec<u8> {
    let n = volume(shape) as usize;
    let mut out = vec![0; bytes.len()];
    // Strides of the Fortran layout, in samples.
    let mut f_strides = vec![1usize; shape.len()];
    for d in 1..shape.len() {
        f_strides[d] = f_strides[d - 1] * shape[d - 1] as usize;
    }
    let mut index = vec![0u64; shape.len()];
    for c in 0..n {
        let f: usize = index
            .iter()
            .zip(&f_strides)
            .map(|(i, s)| *i as usize * s)
            .sum();
        out[c * itemsize..(c + 1) * itemsize]
            .copy_from_slice(&bytes[f * itemsize..(f + 1) * itemsize]);
        // Advance the C-order index (last axis fastest).
        for d in (0..shape.len()).rev() {
            index[d] += 1;
            if index[d] < shape[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// Decodes a whole shard: reads the index, decodes each present inner chunk into place.
fn decode_shard(
    sharding: &Sharding,
    bytes: &[u8],
    shape: &[u64],
    itemsize: usize,
    fill: &[u8],
) -> Result<Vec<u8>, ZarrError> {
    let inner = &sharding.inner_shape;
    if inner.len() != shape.len() || shape.iter().zip(inner).any(|(s, i)| s % i != 0) {
        return Err(ZarrError::Metadata(format!(
            "shard shape {shape:?} is not a multiple of the inner chunk shape {inner:?}"
        )));
    }
    let grid: Vec<u64> = shape.iter().zip(inner).map(|(s, i)| s / i).collect();
    let entries = volume(&grid) as usize;
    let index_len = entries * 16 + if sharding.index_checksum { 4 } else { 0 };
    if bytes.len() < index_len {
        return Err(corrupt(format!(
            "a shard of {} bytes cannot hold its {index_len}-byte index",
            bytes.len()
        )));
    }
    let index = if sharding.index_at_start {
        &bytes[..index_len]
    } else {
        &bytes[bytes.len() - index_len..]
    };
    let index = if sharding.index_checksum {
        checked(index, "its shard index's")?
    } else {
        index
    };
    let mut out = fill.repeat(volume(shape) as usize);
    let mut position = vec![0u64; grid.len()];
    for entry in index[..entries * 16].chunks_exact(16) {
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8-byte slice"));
        let (offset, length) = (word(&entry[..8]), word(&entry[8..]));
        if (offset, length) != (u64::MAX, u64::MAX) {
            let stored = offset
                .checked_add(length)
                .and_then(|end| bytes.get(offset as usize..end as usize))
                .ok_or_else(|| {
                    corrupt(format!(
                        "shard index points past the shard ({offset} + {length} > {})",
                        bytes.len()
                    ))
                })?;
            let chunk = decode(&sharding.inner, stored.to_vec(), inner, itemsize, fill)?;
            let start: Vec<u64> = position.iter().zip(inner).map(|(p, i)| p * i).collect();
            copy_box(
                Block::new(&chunk, inner, &vec![0; inner.len()]),
                &mut out,
                shape,
                &start,
                inner,
                itemsize,
            );
        }
        for d in (0..grid.len()).rev() {
            position[d] += 1;
            if position[d] < grid[d] {
                break;
            }
            position[d] = 0;
        }
    }
    Ok(out)
}

/// A C-order array and the corner of the box to copy out of it.
pub struct Block<'a> {
    pub data: &'a [u8],
    pub shape: &'a [u64],
    pub start: &'a [u64],
}

impl<'a> Block<'a> {
    pub fn new(data: &'a [u8], shape: &'a [u64], start: &'a [u64]) -> Block<'a> {
        Block { data, shape, start }
    }
}

/// Copies the box of `extent` samples at `src.start` of `src` to `dst_start` of `dst` (a C-order
/// array of `dst_shape`). Rows along the last axis are copied whole.
pub fn copy_box(
    src: Block<'_>,
    dst: &mut [u8],
    dst_shape: &[u64],
    dst_start: &[u64],
    extent: &[u64],
    itemsize: usize,
) {
    let rank = extent.len();
    if rank == 0 || extent.contains(&0) {
        if rank == 0 {
            dst[..itemsize].copy_from_slice(&src.data[..itemsize]);
        }
        return;
    }
    let strides = |shape: &[u64]| {
        let mut s = vec![itemsize; rank];
        for d in (0..rank - 1).rev() {
            s[d] = s[d + 1] * shape[d + 1] as usize;
        }
        s
    };
    let (src_strides, dst_strides) = (strides(src.shape), strides(dst_shape));
    let row = extent[rank - 1] as usize * itemsize;
    let rows = volume(&extent[..rank - 1]);
    let mut index = vec![0u64; rank - 1];
    for _ in 0..rows {
        let offset = |start: &[u64], strides: &[usize]| -> usize {
            (0..rank)
                .map(|d| {
                    let i = if d < rank - 1 { index[d] } else { 0 };
                    (start[d] + i) as usize * strides[d]
                })
                .sum()
        };
        let s = offset(src.start, &src_strides);
        let d = offset(dst_start, &dst_strides);
        dst[d..d + row].copy_from_slice(&src.data[s..s + row]);
        for axis in (0..rank - 1).rev() {
            index[axis] += 1;
            if index[axis] < extent[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn raw(endian: Endian) -> Codecs {
        Codecs {
            fortran_order: false,
            array: ArrayToBytes::Bytes(endian),
            bytes: Vec::new(),
        }
    }

    #[test]
    fn big_endian_and_fortran_order_become_little_endian_c_order() {
        // Shape (2, 3), values v = 10 * i + j, stored big-endian u16 in Fortran order.
        let mut stored = Vec::new();
        for j in 0..3u16 {
            for i in 0..2u16 {
                stored.extend_from_slice(&(10 * i + j).to_be_bytes());
            }
        }
        let mut codecs = raw(Endian::Big);
        codecs.fortran_order = true;
        let out = decode(&codecs, stored, &[2, 3], 2, &[0, 0]).unwrap();
        let values: Vec<u16> = out
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(values, vec![0, 1, 2, 10, 11, 12]);
    }

    #[test]
    fn compressed_bytes_round_trip_and_a_short_chunk_is_corrupt() {
        let data: Vec<u8> = (0..24).collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let mut codecs = raw(Endian::Little);
        codecs.bytes = vec![BytesCodec::Gzip];
        assert_eq!(
            decode(&codecs, gz.finish().unwrap(), &[2, 3, 4], 1, &[0]).unwrap(),
            data
        );
        codecs.bytes = vec![BytesCodec::Zstd];
        let z = zstd::encode_all(data.as_slice(), 1).unwrap();
        assert_eq!(decode(&codecs, z, &[2, 3, 4], 1, &[0]).unwrap(), data);
        let err = decode(&raw(Endian::Little), data, &[2, 3, 5], 1, &[0]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a stored chunk is damaged: decodes to 24 bytes, but a chunk of shape [2, 3, 5] \
             holds 30"
        );
    }

    #[test]
    fn copy_box_moves_rows_between_arrays() {
        // src 2×4 = [[0..4], [4..8]]; copy its 2×2 box at (0, 1) to (1, 0) of a 3×3 target.
        let src: Vec<u8> = (0..8).collect();
        let mut dst = vec![9u8; 9];
        copy_box(
            Block::new(&src, &[2, 4], &[0, 1]),
            &mut dst,
            &[3, 3],
            &[1, 0],
            &[2, 2],
            1,
        );
        assert_eq!(dst, vec![9, 9, 9, 1, 2, 9, 5, 6, 9]);
    }

    #[test]
    fn a_shard_with_one_missing_inner_chunk_fills_it() {
        // Shard 2×4 of u8 with inner chunks 2×2: chunk (0,0) present, chunk (0,1) absent.
        let inner: Vec<u8> = vec![1, 2, 3, 4];
        let mut index = Vec::new();
        for (offset, length) in [(0u64, 4u64), (u64::MAX, u64::MAX)] {
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&length.to_le_bytes());
        }
        let mut shard = inner.clone();
        shard.extend_from_slice(&index);
        shard.extend_from_slice(&crc32c::crc32c(&index).to_le_bytes());
        let codecs = Codecs {
            fortran_order: false,
            array: ArrayToBytes::Sharding(Box::new(Sharding {
                inner_shape: vec![2, 2],
                inner: raw(Endian::Little),
                index_checksum: true,
                index_at_start: false,
            })),
            bytes: Vec::new(),
        };
        let out = decode(&codecs, shard, &[2, 4], 1, &[7]).unwrap();
        assert_eq!(out, vec![1, 2, 7, 7, 3, 4, 7, 7]);
    }
}
