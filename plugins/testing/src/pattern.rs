//! `TestPatternChunkProcessor`: volumetric chunks whose every voxel is a known function of its
//! absolute position ([`value`]), in any dtype and axis order, so volumetric tests need no file
//! format and can say exactly what every voxel read back must be.
//!
//! The chunk at indices (x, y, z) covers `[idx × chunk_size, (idx + 1) × chunk_size)` clipped
//! to the extent's end, as the Python volume plugins return it. Params:
//! - `dtype`: `uint8` (default), `uint16`, `uint32`, `uint64`;
//! - `order`: `ZYX` (default), `XYZ`, `XYZT`, `TZYX` (4-D orders get `time_points`, default 1;
//!   t = 0 holds the pattern, later time points hold the dtype's maximum);
//! - `plus`: added to every voxel (wrapping in the dtype), so a test can make a source that
//!   differs from what was ingested;
//! - bad-input switches, each a chunk index `[x, y, z]` (or `"all"`): `wrong_shape_at` (one
//!   voxel too many along x), `wrong_dtype_at` (uint16 for a uint8 job, uint8 otherwise),
//!   `missing_at` (a not-found error, like a missing source file).

use plugin_abi::{AxisOrder, ChunkArray, ChunkProcess, Dtype, PluginError};
use serde_json::Value;

/// The value of voxel (x, y, z) in `dtype`: never 0 (so zero padding cannot pass for data),
/// different along every axis and across cuboid boundaries, and using the high bytes of wider
/// types, so a swapped axis, an off-by-one or a truncating cast shows up as a mismatch.
pub fn value(dtype: Dtype, x: u64, y: u64, z: u64) -> u64 {
    match dtype {
        Dtype::U8 => 1 + (x * 7 + y * 13 + z * 31 + (x / 512) * 17) % 251,
        Dtype::U16 | Dtype::U32 => 1 + (x * 5 + y * 11 + z * 257 + (y / 512) * 1009) % 65521,
        Dtype::U64 => 1 + (x | (y << 21) | (z << 42)),
    }
}

/// Where a bad-input switch applies.
#[derive(Debug, Clone, PartialEq, Eq)]
enum At {
    Never,
    All,
    Chunk([u64; 3]),
}

impl At {
    fn parse(params: &Value, name: &str) -> Result<At, PluginError> {
        match &params[name] {
            Value::Null => Ok(At::Never),
            Value::String(s) if s == "all" => Ok(At::All),
            Value::Array(a) if a.len() == 3 && a.iter().all(Value::is_u64) => {
                let n = |i: usize| a[i].as_u64().unwrap_or_default();
                Ok(At::Chunk([n(0), n(1), n(2)]))
            }
            other => Err(PluginError::params(format!(
                "TestPatternChunkProcessor: {name} must be a chunk index [x, y, z] or \"all\", \
                 got {other}"
            ))),
        }
    }

    fn hits(&self, x: u64, y: u64, z: u64) -> bool {
        match self {
            At::Never => false,
            At::All => true,
            At::Chunk(c) => *c == [x, y, z],
        }
    }
}

/// The processor; see the module docs for its params.
pub struct Pattern {
    dtype: Dtype,
    order: AxisOrder,
    time_points: u64,
    plus: u64,
    chunk_size: [u64; 3],
    extent_stop: [u64; 3],
    wrong_shape_at: At,
    wrong_dtype_at: At,
    missing_at: At,
}

impl Pattern {
    pub fn new(params: &Value) -> Result<Pattern, PluginError> {
        let bad = |m: String| PluginError::params(format!("TestPatternChunkProcessor: {m}"));
        let dtype = match params["dtype"].as_str() {
            None => Dtype::U8,
            Some(name) => {
                Dtype::from_name(name).ok_or_else(|| bad(format!("unknown dtype {name:?}")))?
            }
        };
        let order = match params["order"].as_str().unwrap_or("ZYX") {
            "XYZ" => AxisOrder::Xyz,
            "ZYX" => AxisOrder::Zyx,
            "XYZT" => AxisOrder::Xyzt,
            "TZYX" => AxisOrder::Tzyx,
            other => {
                return Err(bad(format!(
                    "order {other:?} is not one of XYZ, ZYX, XYZT, TZYX"
                )))
            }
        };
        let time_points = params["time_points"].as_u64().unwrap_or(1);
        let ij = &params["ingest_job"];
        let axis = |section: &str, a: &str, i: usize| {
            let v = &ij[section][a];
            let v = if i == usize::MAX { v } else { &v[i] };
            v.as_u64().ok_or_else(|| {
                bad(format!(
                    "params lack ingest_job.{section}.{a} (the host adds the config's ingest_job \
                     section under \"ingest_job\")"
                ))
            })
        };
        Ok(Pattern {
            dtype,
            order,
            time_points,
            plus: params["plus"].as_u64().unwrap_or(0),
            chunk_size: [
                axis("chunk_size", "x", usize::MAX)?,
                axis("chunk_size", "y", usize::MAX)?,
                axis("chunk_size", "z", usize::MAX)?,
            ],
            extent_stop: [
                axis("extent", "x", 1)?,
                axis("extent", "y", 1)?,
                axis("extent", "z", 1)?,
            ],
            wrong_shape_at: At::parse(params, "wrong_shape_at")?,
            wrong_dtype_at: At::parse(params, "wrong_dtype_at")?,
            missing_at: At::parse(params, "missing_at")?,
        })
    }
}

impl ChunkProcess for Pattern {
    fn chunk(&self, path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        if self.missing_at.hits(x, y, z) {
            return Err(PluginError::not_found(format!(
                "{path}: no such chunk x{x} y{y} z{z} (TestPatternChunkProcessor missing_at)"
            )));
        }
        let index = [x, y, z];
        let mut origin = [0; 3];
        let mut size = [0; 3];
        for a in 0..3 {
            origin[a] = index[a] * self.chunk_size[a];
            if origin[a] >= self.extent_stop[a] {
                return Err(PluginError::other(format!(
                    "chunk x{x} y{y} z{z} starts past the extent"
                )));
            }
            size[a] = self.chunk_size[a].min(self.extent_stop[a] - origin[a]);
        }
        if self.wrong_shape_at.hits(x, y, z) {
            size[0] += 1;
        }
        let dtype = if self.wrong_dtype_at.hits(x, y, z) {
            if self.dtype == Dtype::U8 {
                Dtype::U16
            } else {
                Dtype::U8
            }
        } else {
            self.dtype
        };
        let mut a = array(dtype, self.order, origin, size, self.time_points);
        if self.plus != 0 {
            let item = dtype.size();
            for v in a.data.chunks_exact_mut(item) {
                let mut le = [0u8; 8];
                le[..item].copy_from_slice(v);
                let sum = u64::from_le_bytes(le).wrapping_add(self.plus);
                v.copy_from_slice(&sum.to_le_bytes()[..item]);
            }
        }
        Ok(a)
    }
}

/// The pattern over `size` voxels from `origin`, laid out in `order`.
pub fn array(
    dtype: Dtype,
    order: AxisOrder,
    origin: [u64; 3],
    [nx, ny, nz]: [u64; 3],
    time_points: u64,
) -> ChunkArray {
    let nt = if order.rank() == 4 { time_points } else { 1 };
    let item = dtype.size();
    let mut data = Vec::with_capacity((nx * ny * nz * nt) as usize * item);
    let mut push = |x: u64, y: u64, z: u64, t: u64| {
        let v = if t == 0 {
            value(dtype, origin[0] + x, origin[1] + y, origin[2] + z)
        } else {
            u64::MAX
        };
        data.extend_from_slice(&v.to_le_bytes()[..item]);
    };
    let shape = match order {
        AxisOrder::Xyz | AxisOrder::Xyzt => {
            for x in 0..nx {
                for y in 0..ny {
                    for z in 0..nz {
                        for t in 0..nt {
                            push(x, y, z, t);
                        }
                    }
                }
            }
            if order == AxisOrder::Xyz {
                vec![nx, ny, nz]
            } else {
                vec![nx, ny, nz, nt]
            }
        }
        AxisOrder::Zyx | AxisOrder::Tzyx => {
            for t in 0..nt {
                for z in 0..nz {
                    for y in 0..ny {
                        for x in 0..nx {
                            push(x, y, z, t);
                        }
                    }
                }
            }
            if order == AxisOrder::Zyx {
                vec![nz, ny, nx]
            } else {
                vec![nt, nz, ny, nx]
            }
        }
    };
    ChunkArray::new(shape, order, dtype, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: Value) -> Value {
        let mut p = json!({"ingest_job": {"chunk_size": {"x": 512, "y": 512, "z": 16},
            "extent": {"x": [0, 700], "y": [0, 600], "z": [0, 37], "t": [0, 1]}}});
        if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
            p.extend(extra.clone());
        }
        p
    }

    #[test]
    fn edge_chunks_are_clipped_to_the_extent_in_every_order() {
        for (order, shape) in [
            ("XYZ", vec![188, 88, 5]),
            ("ZYX", vec![5, 88, 188]),
            ("XYZT", vec![188, 88, 5, 1]),
            ("TZYX", vec![1, 5, 88, 188]),
        ] {
            let p = Pattern::new(&params(json!({"dtype": "uint16", "order": order}))).unwrap();
            let a = p.chunk("", 1, 1, 2).unwrap();
            assert_eq!(a.shape, shape, "{order}");
            assert_eq!(a.dtype, Dtype::U16);
            a.validate().unwrap();
            // The first voxel is (512, 512, 32) whatever the order.
            let first = u16::from_le_bytes([a.data[0], a.data[1]]) as u64;
            assert_eq!(first, value(Dtype::U16, 512, 512, 32));
        }
    }

    #[test]
    fn values_are_never_zero_and_differ_along_each_axis() {
        for dtype in [Dtype::U8, Dtype::U16, Dtype::U64] {
            let v = value(dtype, 3, 4, 5);
            assert!(v > 0 && v <= dtype_max(dtype));
            assert_ne!(v, value(dtype, 4, 4, 5));
            assert_ne!(v, value(dtype, 3, 5, 5));
            assert_ne!(v, value(dtype, 3, 4, 6));
        }
    }

    fn dtype_max(d: Dtype) -> u64 {
        match d {
            Dtype::U8 => 255,
            Dtype::U16 => 65535,
            Dtype::U32 => u32::MAX.into(),
            Dtype::U64 => u64::MAX,
        }
    }

    #[test]
    fn bad_input_switches() {
        let p = Pattern::new(&params(json!({"wrong_shape_at": [0, 1, 0],
            "wrong_dtype_at": [1, 0, 0], "missing_at": "all"})))
        .unwrap();
        let e = p.chunk("/src", 0, 0, 0).unwrap_err();
        assert_eq!(e.kind, plugin_abi::ErrorKind::NotFound);
        assert_eq!(
            e.message,
            "/src: no such chunk x0 y0 z0 (TestPatternChunkProcessor missing_at)"
        );
        let p = Pattern::new(&params(json!({"wrong_shape_at": [0, 1, 0],
            "wrong_dtype_at": [1, 0, 0]})))
        .unwrap();
        assert_eq!(p.chunk("", 0, 1, 0).unwrap().shape, vec![16, 88, 513]);
        assert_eq!(p.chunk("", 1, 0, 0).unwrap().dtype, Dtype::U16);
        assert_eq!(p.chunk("", 0, 0, 0).unwrap().shape, vec![16, 512, 512]);
        let e = Pattern::new(&params(json!({"order": "YXZ"})))
            .err()
            .unwrap();
        assert_eq!(
            e.message,
            "TestPatternChunkProcessor: order \"YXZ\" is not one of XYZ, ZYX, XYZT, TZYX"
        );
        let e = Pattern::new(&params(json!({"missing_at": [1]})))
            .err()
            .unwrap();
        assert_eq!(
            e.message,
            "TestPatternChunkProcessor: missing_at must be a chunk index [x, y, z] or \"all\", \
             got [1]"
        );
    }
}
