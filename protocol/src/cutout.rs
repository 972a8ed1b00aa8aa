//! Reading voxels back through the Boss cutout API (protocol §2.6): the request path, the one
//! representation every reader asks for, and decoding the answer.
//!
//! The real cutout view (boss `bossspatialdb/views.py` `Cutout.renderer_classes`) renders
//! `application/blosc` (its default), `application/blosc-python`, `application/npygz`,
//! `image/jpeg` and JSON; there is no raw `application/octet-stream`, which DRF refuses. So every
//! reader here — `boss-ingest verify`, the intern plugin, the tests' read-backs — asks for
//! `application/blosc`. Its body is `blosc.compress(zyx array, typesize=bit depth)` (spdb
//! `get_bit_depth`: 8/16/64, bits again), C order, little-endian samples of the channel's dtype.
//! A blosc header's type size only steers the shuffle, so the samples' width is read from the
//! decompressed length instead, which also tells a reader the channel's dtype without asking.

use crate::cuboid::{self, CuboidError, Dtype};

/// The `Accept` header of every cutout request.
pub const ACCEPT: &str = "application/blosc";

/// A box `[start, stop)` per axis, in voxels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: (u64, u64),
    pub y: (u64, u64),
    pub z: (u64, u64),
}

impl Region {
    /// Voxels in the box (0 when any axis is empty).
    pub fn voxels(&self) -> u64 {
        let len = |(a, b): (u64, u64)| b.saturating_sub(a);
        len(self.x)
            .saturating_mul(len(self.y))
            .saturating_mul(len(self.z))
    }

    pub fn is_empty(&self) -> bool {
        self.voxels() == 0
    }
}

/// The request path of a cutout of `region` at resolution `res`, under the `/v1` prefix the
/// cutout service lives at.
pub fn path(collection: &str, experiment: &str, channel: &str, res: u64, region: Region) -> String {
    let Region { x, y, z } = region;
    format!(
        "/v1/cutout/{collection}/{experiment}/{channel}/{res}/{}:{}/{}:{}/{}:{}/",
        x.0, x.1, y.0, y.1, z.0, z.1
    )
}

/// The voxels of a cutout: C order (z, y, x), little-endian samples of `dtype`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voxels {
    pub dtype: Dtype,
    pub bytes: Vec<u8>,
}

/// Why a cutout answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CutoutError {
    #[error("the answer is not the blosc buffer asked for: {0}")]
    Blosc(#[from] CuboidError),
    #[error(
        "the answer holds {bytes} bytes for {voxels} voxels, which is no whole uint8, uint16 or \
         uint64 sample per voxel"
    )]
    Length { bytes: usize, voxels: u64 },
}

/// Decodes the body of a 200 answer to a cutout of `voxels` voxels.
pub fn decode(body: &[u8], voxels: u64) -> Result<Voxels, CutoutError> {
    let bytes = cuboid::decompress(body)?;
    let length = CutoutError::Length {
        bytes: bytes.len(),
        voxels,
    };
    let per_voxel = match usize::try_from(voxels) {
        Ok(n) if n > 0 && bytes.len() % n == 0 => bytes.len() / n,
        _ => return Err(length),
    };
    let dtype = match per_voxel {
        1 => Dtype::U8,
        2 => Dtype::U16,
        4 => Dtype::U32,
        8 => Dtype::U64,
        _ => return Err(length),
    };
    Ok(Voxels { dtype, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: Region = Region {
        x: (0, 4),
        y: (10, 13),
        z: (2, 3),
    };

    #[test]
    fn path_names_every_axis() {
        assert_eq!(
            path("col", "exp", "ch", 0, REGION),
            "/v1/cutout/col/exp/ch/0/0:4/10:13/2:3/"
        );
        assert_eq!(REGION.voxels(), 12);
    }

    #[test]
    fn decodes_what_the_real_renderer_sends() {
        // blosc.compress(arr, typesize=16) of a (1, 3, 4) uint16 array.
        let samples: Vec<u8> = (0u16..12).flat_map(|v| (v * 1000).to_le_bytes()).collect();
        let body = cuboid::compress_with_typesize(&samples, 16);
        assert_eq!(body[3], 16, "the header's type size is in bits");
        let got = decode(&body, REGION.voxels()).unwrap();
        assert_eq!(got.dtype, Dtype::U16);
        assert_eq!(got.bytes, samples);
        // uint64 compresses with typesize 64; uint8 with 8, which is not the uint64 byte width.
        let wide: Vec<u8> = (0u64..12).flat_map(u64::to_le_bytes).collect();
        let got = decode(&cuboid::compress_with_typesize(&wide, 64), 12).unwrap();
        assert_eq!((got.dtype, got.bytes), (Dtype::U64, wide));
        let narrow: Vec<u8> = (0u8..12).collect();
        let got = decode(&cuboid::compress_with_typesize(&narrow, 8), 12).unwrap();
        assert_eq!((got.dtype, got.bytes), (Dtype::U8, narrow));
    }

    #[test]
    fn refuses_what_is_not_a_cutout() {
        assert_eq!(
            decode(b"definitely not blosc", 12).unwrap_err().to_string(),
            "the answer is not the blosc buffer asked for: not a blosc buffer (20 bytes; blosc \
             headers are 16 bytes and must be consistent)"
        );
        let body = cuboid::compress_with_typesize(&[0u8; 36], 8);
        assert_eq!(
            decode(&body, 12).unwrap_err().to_string(),
            "the answer holds 36 bytes for 12 voxels, which is no whole uint8, uint16 or uint64 \
             sample per voxel"
        );
    }
}
