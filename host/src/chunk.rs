//! What a chunk processor returned → checked voxels, and the Boss cuboids cut from them
//! (spec §4.3).
//!
//! A chunk processor hands back an array in one of four axis orders (XYZ, ZYX, XYZT, TZYX). The
//! Python client transposed XYZ arrays and then sliced every array as if it were ZYX, which cut
//! TZYX arrays along the wrong axes. Here no array is transposed or copied: [`Chunk`] reads
//! voxels through per-axis strides, so every order is one formula and a chunk costs its own
//! bytes only, never a second converted copy.
//!
//! Volumetric jobs upload time point 0 only (spec §3.3: one message per chunk, t = 0), so a 4-D
//! array must hold exactly one time point; more would silently drop data (and the original
//! uploaded them as an oversized cuboid the service could not read), so it is an error.
//!
//! A chunk may be smaller than the chunk size clipped to the extent (a source that ends early):
//! the missing voxels are zeros, exactly what the Boss returns for never-written voxels, and the
//! caller reports it. A chunk larger than that is an error: its extra voxels would land outside
//! the job's extent or in the neighbouring chunk's cuboids.

use std::fmt;

use boss_protocol::config::{ChunkSize, Extent};
use boss_protocol::cuboid::{CUBOID_X, CUBOID_Y, CUBOID_Z};
use plugin_abi::{AxisOrder, ChunkArray, Dtype};

/// Which chunk of a job, and how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Chunk indices (as in the chunk key).
    pub index: Xyz,
    /// The chunk's first voxel: index × chunk size.
    pub origin: Xyz,
    /// The largest shape the chunk may have: the chunk size clipped to the extent's end.
    pub max: Xyz,
}

/// Three values in x, y, z order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Xyz {
    pub x: u64,
    pub y: u64,
    pub z: u64,
}

impl fmt::Display for Xyz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}×{}", self.x, self.y, self.z)
    }
}

impl Geometry {
    /// The chunk at indices `(x, y, z)` of a job with this chunk size and extent.
    pub fn new(chunk_size: ChunkSize, extent: &Extent, x: u64, y: u64, z: u64) -> Geometry {
        let origin = Xyz {
            x: x.saturating_mul(chunk_size.x),
            y: y.saturating_mul(chunk_size.y),
            z: z.saturating_mul(chunk_size.z),
        };
        let clip = |size: u64, start: u64, stop: u64| size.min(stop.saturating_sub(start));
        Geometry {
            index: Xyz { x, y, z },
            origin,
            max: Xyz {
                x: clip(chunk_size.x, origin.x, extent.x.stop),
                y: clip(chunk_size.y, origin.y, extent.y.stop),
                z: clip(chunk_size.z, origin.z, extent.z.stop),
            },
        }
    }
}

/// Why a chunk cannot be cut into cuboids. Messages name expected and actual values; callers add
/// which chunk, file and processor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The array's shape, order and byte length disagree.
    #[error("malformed chunk array: {0}")]
    Malformed(String),
    #[error("expected {expected} voxels (the channel's datatype), got {got}")]
    WrongDtype { expected: Dtype, got: Dtype },
    #[error("expected uint8, uint16 or uint64 voxels, got {0}: the Boss cannot store it")]
    NotStorable(Dtype),
    #[error(
        "expected a shape of at most {max} (x×y×z: the chunk size clipped to the extent), got \
         {got} (array shape {shape:?} in {order} order)"
    )]
    TooLarge {
        max: Xyz,
        got: Xyz,
        shape: Vec<u64>,
        order: AxisOrder,
    },
    #[error(
        "expected one time point (volumetric jobs upload t = 0 only), got {got} (array shape \
         {shape:?} in {order} order)"
    )]
    TimePoints {
        got: u64,
        shape: Vec<u64>,
        order: AxisOrder,
    },
    #[error("the chunk is empty (array shape {shape:?} in {order} order)")]
    Empty { shape: Vec<u64>, order: AxisOrder },
}

/// A checked chunk: its array and how to find voxel (x, y, z) in it.
#[derive(Debug, Clone)]
pub struct Chunk {
    array: ChunkArray,
    /// Voxels along x, y, z.
    size: Xyz,
    /// Elements between neighbours along x, y, z.
    stride: Xyz,
}

impl Chunk {
    /// Checks `array` against the chunk's geometry and the channel's dtype (`None`: any dtype the
    /// Boss stores).
    pub fn new(
        array: ChunkArray,
        geometry: &Geometry,
        dtype: Option<Dtype>,
    ) -> Result<Chunk, ChunkError> {
        array.validate().map_err(ChunkError::Malformed)?;
        if array.dtype == Dtype::U32 {
            return Err(ChunkError::NotStorable(array.dtype));
        }
        if let Some(expected) = dtype {
            if expected != array.dtype {
                return Err(ChunkError::WrongDtype {
                    expected,
                    got: array.dtype,
                });
            }
        }
        let s = &array.shape;
        // (x, y, z, t) lengths by order; `validate` checked the rank.
        let (nx, ny, nz, nt) = match array.order {
            AxisOrder::Xyz => (s[0], s[1], s[2], 1),
            AxisOrder::Zyx => (s[2], s[1], s[0], 1),
            AxisOrder::Xyzt => (s[0], s[1], s[2], s[3]),
            AxisOrder::Tzyx => (s[3], s[2], s[1], s[0]),
        };
        if nt != 1 {
            return Err(ChunkError::TimePoints {
                got: nt,
                shape: s.clone(),
                order: array.order,
            });
        }
        let size = Xyz {
            x: nx,
            y: ny,
            z: nz,
        };
        if nx == 0 || ny == 0 || nz == 0 {
            return Err(ChunkError::Empty {
                shape: s.clone(),
                order: array.order,
            });
        }
        let max = geometry.max;
        if nx > max.x || ny > max.y || nz > max.z {
            return Err(ChunkError::TooLarge {
                max,
                got: size,
                shape: s.clone(),
                order: array.order,
            });
        }
        // C order: the last axis is contiguous. With t = 0 only, the t stride never matters
        // for TZYX; for XYZT it multiplies the others.
        let stride = match array.order {
            AxisOrder::Zyx | AxisOrder::Tzyx => Xyz {
                x: 1,
                y: nx,
                z: nx * ny,
            },
            AxisOrder::Xyz | AxisOrder::Xyzt => Xyz {
                x: ny * nz * nt,
                y: nz * nt,
                z: nt,
            },
        };
        Ok(Chunk {
            array,
            size,
            stride,
        })
    }

    /// Voxels along x, y, z.
    pub fn size(&self) -> Xyz {
        self.size
    }

    pub fn dtype(&self) -> Dtype {
        self.array.dtype
    }

    pub fn order(&self) -> AxisOrder {
        self.array.order
    }

    /// Whether the chunk is smaller than `max` along some axis (the rest reads as zeros).
    pub fn is_short_of(&self, max: Xyz) -> bool {
        self.size != max
    }

    /// The little-endian bytes of voxel (x, y, z) relative to the chunk; `None` outside it.
    pub fn voxel(&self, x: u64, y: u64, z: u64) -> Option<&[u8]> {
        if x >= self.size.x || y >= self.size.y || z >= self.size.z {
            return None;
        }
        let item = self.array.dtype.size();
        let at = (x * self.stride.x + y * self.stride.y + z * self.stride.z) as usize * item;
        Some(&self.array.data[at..at + item])
    }

    /// The cuboid whose first voxel is at `(x, y, z)` inside the chunk: shape (1, 16, 512, 512)
    /// (t, z, y, x) in C order, little-endian, zero where the chunk ends. Offsets come from the
    /// upload message; one past the chunk's data gives an all-zero cuboid, as the service
    /// expects a cuboid for every entry of the message.
    pub fn cuboid(&self, x: u64, y: u64, z: u64) -> Vec<u8> {
        let item = self.array.dtype.size();
        let (cx, cy, cz) = (CUBOID_X as usize, CUBOID_Y as usize, CUBOID_Z as usize);
        let mut out = vec![0u8; cx * cy * cz * item];
        let span = |offset: u64, len: u64, cuboid: usize| {
            len.saturating_sub(offset).min(cuboid as u64) as usize
        };
        let (wx, wy, wz) = (
            span(x, self.size.x, cx),
            span(y, self.size.y, cy),
            span(z, self.size.z, cz),
        );
        if wx == 0 || wy == 0 || wz == 0 {
            return out;
        }
        let data = &self.array.data;
        let stride = |v: u64| v as usize;
        let (sx, sy, sz) = (
            stride(self.stride.x),
            stride(self.stride.y),
            stride(self.stride.z),
        );
        for dz in 0..wz {
            for dy in 0..wy {
                let src0 = (x as usize) * sx + (y as usize + dy) * sy + (z as usize + dz) * sz;
                let dst0 = (dz * cy + dy) * cx;
                if sx == 1 {
                    // ZYX and TZYX rows are contiguous in x: one copy per row.
                    out[dst0 * item..(dst0 + wx) * item]
                        .copy_from_slice(&data[src0 * item..(src0 + wx) * item]);
                } else {
                    for dx in 0..wx {
                        let src = (src0 + dx * sx) * item;
                        let dst = (dst0 + dx) * item;
                        out[dst..dst + item].copy_from_slice(&data[src..src + item]);
                    }
                }
            }
        }
        out
    }

    /// What the processor reported about how it made the chunk.
    pub fn notes(&self) -> &[plugin_abi::Note] {
        &self.array.notes
    }

    /// Bytes the array holds (what this chunk costs in memory).
    pub fn bytes(&self) -> usize {
        self.array.data.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boss_protocol::config::Span;

    /// A value that differs along every axis and uses both bytes of a uint16.
    fn value(x: u64, y: u64, z: u64) -> u16 {
        (x * 3 + y * 1000 + z * 7919) as u16
    }

    /// A uint16 array of `(nx, ny, nz)` voxels (plus `nt` time points, t = 0 holding `value`
    /// and later ones 0xFFFF) laid out in `order`.
    fn array(order: AxisOrder, (nx, ny, nz): (u64, u64, u64), nt: u64) -> ChunkArray {
        let mut data = Vec::new();
        let mut push = |x, y, z, t| {
            let v = if t == 0 { value(x, y, z) } else { u16::MAX };
            data.extend_from_slice(&v.to_le_bytes());
        };
        let shape = match order {
            AxisOrder::Xyz => {
                for x in 0..nx {
                    for y in 0..ny {
                        for z in 0..nz {
                            push(x, y, z, 0);
                        }
                    }
                }
                vec![nx, ny, nz]
            }
            AxisOrder::Zyx => {
                for z in 0..nz {
                    for y in 0..ny {
                        for x in 0..nx {
                            push(x, y, z, 0);
                        }
                    }
                }
                vec![nz, ny, nx]
            }
            AxisOrder::Xyzt => {
                for x in 0..nx {
                    for y in 0..ny {
                        for z in 0..nz {
                            for t in 0..nt {
                                push(x, y, z, t);
                            }
                        }
                    }
                }
                vec![nx, ny, nz, nt]
            }
            AxisOrder::Tzyx => {
                for t in 0..nt {
                    for z in 0..nz {
                        for y in 0..ny {
                            for x in 0..nx {
                                push(x, y, z, t);
                            }
                        }
                    }
                }
                vec![nt, nz, ny, nx]
            }
        };
        ChunkArray::new(shape, order, Dtype::U16, data)
    }

    fn geometry(max: (u64, u64, u64)) -> Geometry {
        Geometry {
            index: Xyz { x: 0, y: 0, z: 0 },
            origin: Xyz { x: 0, y: 0, z: 0 },
            max: Xyz {
                x: max.0,
                y: max.1,
                z: max.2,
            },
        }
    }

    fn at(cuboid: &[u8], x: usize, y: usize, z: usize) -> u16 {
        let i = ((z * 512 + y) * 512 + x) * 2;
        u16::from_le_bytes([cuboid[i], cuboid[i + 1]])
    }

    /// Every voxel of the cuboid at `offset` equals the source inside the chunk, zero outside.
    fn assert_cuboid(chunk: &Chunk, offset: (u64, u64, u64), size: (u64, u64, u64)) {
        let c = chunk.cuboid(offset.0, offset.1, offset.2);
        assert_eq!(c.len(), 16 * 512 * 512 * 2);
        for z in 0..16u64 {
            for y in 0..512u64 {
                for x in 0..512u64 {
                    let (ax, ay, az) = (offset.0 + x, offset.1 + y, offset.2 + z);
                    let want = if ax < size.0 && ay < size.1 && az < size.2 {
                        value(ax, ay, az)
                    } else {
                        0
                    };
                    let got = at(&c, x as usize, y as usize, z as usize);
                    assert_eq!(got, want, "voxel ({ax}, {ay}, {az}) of offset {offset:?}");
                }
            }
        }
    }

    #[test]
    fn every_order_cuts_the_same_cuboids_padded_with_zeros() {
        // 2 × 1 × 2 cuboids of a 1024×512×32 chunk, of which 700×300×20 hold data.
        let size = (700, 300, 20);
        for order in AxisOrder::ALL {
            let chunk = Chunk::new(array(order, size, 1), &geometry(size), Some(Dtype::U16))
                .unwrap_or_else(|e| panic!("{order}: {e}"));
            assert_eq!(
                chunk.size(),
                Xyz {
                    x: 700,
                    y: 300,
                    z: 20
                }
            );
            for offset in [(0, 0, 0), (512, 0, 0), (0, 0, 16), (512, 0, 16)] {
                assert_cuboid(&chunk, offset, size);
            }
        }
    }

    #[test]
    fn a_cuboid_past_the_data_is_all_zero() {
        let chunk = Chunk::new(
            array(AxisOrder::Zyx, (10, 10, 10), 1),
            &geometry((1024, 1024, 32)),
            None,
        )
        .unwrap();
        assert!(chunk.cuboid(512, 0, 0).iter().all(|&b| b == 0));
        assert!(chunk.cuboid(0, 0, 16).iter().all(|&b| b == 0));
        assert!(chunk.is_short_of(Xyz {
            x: 1024,
            y: 1024,
            z: 32
        }));
    }

    #[test]
    fn voxel_reads_through_the_order() {
        for order in AxisOrder::ALL {
            let chunk = Chunk::new(array(order, (5, 4, 3), 1), &geometry((5, 4, 3)), None).unwrap();
            for (x, y, z) in [
                (0, 0, 0),
                (4, 0, 0),
                (0, 3, 0),
                (0, 0, 2),
                (4, 3, 2),
                (2, 1, 1),
            ] {
                let v = chunk.voxel(x, y, z).unwrap();
                assert_eq!(u16::from_le_bytes([v[0], v[1]]), value(x, y, z), "{order}");
            }
            assert_eq!(chunk.voxel(5, 0, 0), None);
        }
    }

    #[test]
    fn more_than_one_time_point_is_refused_in_both_4d_orders() {
        let e = Chunk::new(
            array(AxisOrder::Tzyx, (4, 4, 4), 2),
            &geometry((4, 4, 4)),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected one time point (volumetric jobs upload t = 0 only), got 2 (array shape \
             [2, 4, 4, 4] in TZYX order)"
        );
        let e = Chunk::new(
            array(AxisOrder::Xyzt, (4, 4, 4), 3),
            &geometry((4, 4, 4)),
            None,
        )
        .unwrap_err();
        assert!(matches!(e, ChunkError::TimePoints { got: 3, .. }), "{e}");
    }

    #[test]
    fn shape_and_dtype_errors_name_both_values() {
        let e = Chunk::new(
            array(AxisOrder::Zyx, (600, 10, 5), 1),
            &geometry((512, 600, 37)),
            None,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a shape of at most 512×600×37 (x×y×z: the chunk size clipped to the \
             extent), got 600×10×5 (array shape [5, 10, 600] in ZYX order)"
        );
        let e = Chunk::new(
            array(AxisOrder::Xyz, (4, 4, 4), 1),
            &geometry((4, 4, 4)),
            Some(Dtype::U8),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected uint8 voxels (the channel's datatype), got uint16"
        );
        let mut a = array(AxisOrder::Xyz, (4, 4, 4), 1);
        a.data.pop();
        let e = Chunk::new(a, &geometry((4, 4, 4)), None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "malformed chunk array: chunk of shape [4, 4, 4] (uint16) needs 128 bytes but has 127"
        );
        let u32s = ChunkArray::new(vec![1, 1, 1], AxisOrder::Zyx, Dtype::U32, vec![0; 4]);
        assert_eq!(
            Chunk::new(u32s, &geometry((4, 4, 4)), None)
                .unwrap_err()
                .to_string(),
            "expected uint8, uint16 or uint64 voxels, got uint32: the Boss cannot store it"
        );
    }

    #[test]
    fn geometry_clips_the_chunk_size_to_the_extent() {
        let extent = Extent {
            x: Span {
                start: 0,
                stop: 700,
            },
            y: Span {
                start: 0,
                stop: 600,
            },
            z: Span { start: 0, stop: 37 },
            t: Span { start: 0, stop: 1 },
        };
        let cs = ChunkSize {
            x: 512,
            y: 512,
            z: 16,
        };
        let g = Geometry::new(cs, &extent, 1, 1, 2);
        assert_eq!(
            g.origin,
            Xyz {
                x: 512,
                y: 512,
                z: 32
            }
        );
        assert_eq!(
            g.max,
            Xyz {
                x: 188,
                y: 88,
                z: 5
            }
        );
        let g = Geometry::new(cs, &extent, 0, 0, 0);
        assert_eq!(
            g.max,
            Xyz {
                x: 512,
                y: 512,
                z: 16
            }
        );
    }
}
