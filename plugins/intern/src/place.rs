//! Which box of the source a chunk or tile index means, and putting the voxels read from the
//! source where the host expects them.
//!
//! The host places a chunk's array at `index × chunk_size` and accepts at most the chunk size
//! clipped to the extent's end; a tile is always the full tile size. The part of that box inside
//! the job's extent is read from the source; the rest (before the extent's start, or past its
//! end in a tile) is zeros.

use plugin_abi::{Dtype, HostServices, PluginError};

use crate::cutout::Channel;
use boss_protocol::cutout::Region;

/// The job's extent, `[start, stop)` per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    pub x: (u64, u64),
    pub y: (u64, u64),
    pub z: (u64, u64),
}

/// An index the job does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} index ({x}, {y}, {z}) lies outside the job's extent x {ex:?}, y {ey:?}, z {ez:?} (as [start, stop))")]
pub struct OutsideExtent {
    what: &'static str,
    x: u64,
    y: u64,
    z: u64,
    ex: (u64, u64),
    ey: (u64, u64),
    ez: (u64, u64),
}

/// A box to fill: `origin` and `shape` (x, y, z), and the part of it the source provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub origin: [u64; 3],
    pub shape: [u64; 3],
    /// The box inside the extent, in absolute coordinates.
    pub inner: Region,
}

impl Placement {
    /// Chunk `index` of a volumetric job: `[index × size, (index + 1) × size)` clipped to the
    /// extent's end.
    pub fn chunk(
        size: [u64; 3],
        extent: &Extent,
        index: [u64; 3],
    ) -> Result<Placement, OutsideExtent> {
        Placement::new("chunk", size, extent, index, true)
    }

    /// Tile `(x, y)` of slice `z`: a full tile, one slice thick.
    pub fn tile(
        size: (u32, u32),
        extent: &Extent,
        index: [u64; 3],
    ) -> Result<Placement, OutsideExtent> {
        let size = [u64::from(size.0), u64::from(size.1), 1];
        // z is a slice number, not a tile index: its "size" is 1.
        Placement::new("tile", size, extent, index, false)
    }

    fn new(
        what: &'static str,
        size: [u64; 3],
        extent: &Extent,
        index: [u64; 3],
        clip_to_end: bool,
    ) -> Result<Placement, OutsideExtent> {
        let ranges = [extent.x, extent.y, extent.z];
        let mut origin = [0; 3];
        let mut shape = [0; 3];
        let mut inner = [(0, 0); 3];
        for axis in 0..3 {
            let (start, stop) = ranges[axis];
            origin[axis] = index[axis].saturating_mul(size[axis]);
            let end = origin[axis].saturating_add(size[axis]);
            shape[axis] = if clip_to_end {
                end.min(stop).saturating_sub(origin[axis])
            } else {
                size[axis]
            };
            inner[axis] = (origin[axis].max(start), end.min(stop));
            if inner[axis].0 >= inner[axis].1 {
                return Err(OutsideExtent {
                    what,
                    x: index[0],
                    y: index[1],
                    z: index[2],
                    ex: extent.x,
                    ey: extent.y,
                    ez: extent.z,
                });
            }
        }
        Ok(Placement {
            origin,
            shape,
            inner: Region {
                x: inner[0],
                y: inner[1],
                z: inner[2],
            },
        })
    }

    /// Whether the source provides the whole box (no zeros to add).
    fn is_whole(&self) -> bool {
        let b = &self.inner;
        [b.x, b.y, b.z]
            .iter()
            .enumerate()
            .all(|(axis, &(a, e))| a == self.origin[axis] && e - a == self.shape[axis])
    }

    /// The box's voxels, C order (z, y, x) of `shape`, and their dtype.
    pub fn read(
        &self,
        channel: &Channel,
        host: &HostServices,
    ) -> Result<(Dtype, Vec<u8>), PluginError> {
        let (dtype, data) = channel.read(host, &self.inner)?;
        if self.is_whole() {
            return Ok((dtype, data));
        }
        Ok((dtype, self.embed(dtype.size(), &data)))
    }

    /// `data` (the inner box, C order) copied into a zero array of the whole box.
    fn embed(&self, item: usize, data: &[u8]) -> Vec<u8> {
        let [sx, sy, sz] = self.shape.map(|n| n as usize);
        let b = &self.inner;
        let (ix, iy, iz) = (
            (b.x.1 - b.x.0) as usize,
            (b.y.1 - b.y.0) as usize,
            (b.z.1 - b.z.0) as usize,
        );
        let (dx, dy, dz) = (
            (b.x.0 - self.origin[0]) as usize,
            (b.y.0 - self.origin[1]) as usize,
            (b.z.0 - self.origin[2]) as usize,
        );
        let mut out = vec![0u8; sx * sy * sz * item];
        let row = ix * item;
        for z in 0..iz {
            for y in 0..iy {
                let from = ((z * iy + y) * ix) * item;
                let to = (((z + dz) * sy + (y + dy)) * sx + dx) * item;
                out[to..to + row].copy_from_slice(&data[from..from + row]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXTENT: Extent = Extent {
        x: (0, 1100),
        y: (0, 600),
        z: (0, 40),
    };

    #[test]
    fn chunks_tile_the_extent_without_overlap() {
        let size = [512, 512, 16];
        let a = Placement::chunk(size, &EXTENT, [1, 0, 2]).unwrap();
        assert_eq!(a.origin, [512, 0, 32]);
        assert_eq!(a.shape, [512, 512, 8]);
        assert_eq!(
            a.inner,
            Region {
                x: (512, 1024),
                y: (0, 512),
                z: (32, 40)
            }
        );
        let b = Placement::chunk(size, &EXTENT, [2, 1, 2]).unwrap();
        assert_eq!(
            b.inner,
            Region {
                x: (1024, 1100),
                y: (512, 600),
                z: (32, 40)
            }
        );
        assert_eq!(b.shape, [76, 88, 8]);
        assert!(b.is_whole());
        assert_eq!(
            Placement::chunk(size, &EXTENT, [3, 0, 0]).unwrap_err().to_string(),
            "chunk index (3, 0, 0) lies outside the job's extent x (0, 1100), y (0, 600), z (0, 40) \
             (as [start, stop))"
        );
    }

    #[test]
    fn an_extent_starting_inside_the_first_chunk_reads_from_its_start() {
        let extent = Extent {
            x: (100, 600),
            y: (0, 512),
            z: (4, 16),
        };
        let p = Placement::chunk([512, 512, 16], &extent, [0, 0, 0]).unwrap();
        assert_eq!(p.origin, [0, 0, 0]);
        assert_eq!(p.shape, [512, 512, 16]);
        assert_eq!(
            p.inner,
            Region {
                x: (100, 512),
                y: (0, 512),
                z: (4, 16)
            }
        );
        assert!(!p.is_whole());
    }

    #[test]
    fn tiles_are_full_size_and_one_slice_thick() {
        let p = Placement::tile((512, 512), &EXTENT, [2, 1, 39]).unwrap();
        assert_eq!(p.origin, [1024, 512, 39]);
        assert_eq!(p.shape, [512, 512, 1]);
        assert_eq!(
            p.inner,
            Region {
                x: (1024, 1100),
                y: (512, 600),
                z: (39, 40)
            }
        );
    }

    #[test]
    fn embedding_puts_rows_at_their_offsets() {
        // A 4 × 3 × 2 box whose inner part is x 1..3, y 1..3, z 1..2.
        let p = Placement {
            origin: [0, 0, 0],
            shape: [4, 3, 2],
            inner: Region {
                x: (1, 3),
                y: (1, 3),
                z: (1, 2),
            },
        };
        let out = p.embed(1, &[1, 2, 3, 4]);
        let mut want = vec![0u8; 24];
        want[12 + 4 + 1] = 1;
        want[12 + 4 + 2] = 2;
        want[12 + 8 + 1] = 3;
        want[12 + 8 + 2] = 4;
        assert_eq!(out, want);
    }
}
