//! Writing small precomputed volumes whose voxels are a known function of (mip, x, y, z), for
//! this crate's tests and the end-to-end tests: `info` plus raw chunk files laid out as
//! CloudVolume writes them (x-fastest samples, `{x0}-{x1}_{y0}-{y1}_{z0}-{z1}` names), stored
//! plain, gzipped with a `.gz` suffix, or gzipped under the plain name (as in object stores).

use std::io::Write;
use std::path::Path;

use plugin_abi::Dtype;

use crate::volume::chunk_name;

/// How chunk files are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    Raw,
    /// gzip-compressed, name + `.gz` (CloudVolume on a filesystem).
    GzipSuffix,
    /// gzip-compressed under the plain name (CloudVolume in S3, with Content-Encoding).
    GzipInPlace,
}

/// One scale, vectors in (x, y, z).
#[derive(Debug, Clone)]
pub struct ScaleSpec {
    pub key: String,
    pub size: [u64; 3],
    pub voxel_offset: [u64; 3],
    pub chunk_size: [u64; 3],
}

/// A fixture volume.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub dtype: Dtype,
    pub scales: Vec<ScaleSpec>,
    pub storage: Storage,
    /// (mip, chunk grid position (x, y, z)) of chunk files not to write.
    pub omit: Vec<(usize, [u64; 3])>,
}

impl Fixture {
    /// One scale (key `"1_1_1"`) at offset 0.
    pub fn new(dtype: Dtype, size: [u64; 3], chunk_size: [u64; 3]) -> Fixture {
        Fixture {
            dtype,
            scales: vec![ScaleSpec {
                key: "1_1_1".to_string(),
                size,
                voxel_offset: [0, 0, 0],
                chunk_size,
            }],
            storage: Storage::Raw,
            omit: Vec::new(),
        }
    }

    /// Writes the volume into `dir` (created): voxel (x, y, z) of scale `mip` holds
    /// `value(mip, x, y, z)` truncated to the dtype.
    pub fn write(
        &self,
        dir: &Path,
        value: impl Fn(usize, u64, u64, u64) -> u64,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let scales: Vec<serde_json::Value> = self
            .scales
            .iter()
            .map(|s| {
                serde_json::json!({"key": s.key, "size": s.size, "voxel_offset": s.voxel_offset,
                    "chunk_sizes": [s.chunk_size], "encoding": "raw", "resolution": [4, 4, 40]})
            })
            .collect();
        let info = serde_json::json!({"type": "image", "data_type": self.dtype.name(),
            "num_channels": 1, "scales": scales});
        std::fs::write(dir.join("info"), info.to_string())?;
        for (mip, s) in self.scales.iter().enumerate() {
            let scale_dir = dir.join(&s.key);
            std::fs::create_dir_all(&scale_dir)?;
            let grid = [0, 1, 2].map(|d| s.size[d].div_ceil(s.chunk_size[d]));
            for gz in 0..grid[2] {
                for gy in 0..grid[1] {
                    for gx in 0..grid[0] {
                        if self.omit.contains(&(mip, [gx, gy, gz])) {
                            continue;
                        }
                        let g = [gx, gy, gz];
                        let lo = [0, 1, 2].map(|d| s.voxel_offset[d] + g[d] * s.chunk_size[d]);
                        let hi = [0, 1, 2]
                            .map(|d| (lo[d] + s.chunk_size[d]).min(s.voxel_offset[d] + s.size[d]));
                        self.write_chunk(&scale_dir, lo, hi, |x, y, z| value(mip, x, y, z))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn write_chunk(
        &self,
        scale_dir: &Path,
        lo: [u64; 3],
        hi: [u64; 3],
        value: impl Fn(u64, u64, u64) -> u64,
    ) -> std::io::Result<()> {
        let size = self.dtype.size();
        let mut raw = Vec::new();
        for z in lo[2]..hi[2] {
            for y in lo[1]..hi[1] {
                for x in lo[0]..hi[0] {
                    raw.extend_from_slice(&value(x, y, z).to_le_bytes()[..size]);
                }
            }
        }
        let name = chunk_name(lo, hi);
        let gzip = || -> std::io::Result<Vec<u8>> {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&raw)?;
            e.finish()
        };
        match self.storage {
            Storage::Raw => std::fs::write(scale_dir.join(name), &raw),
            Storage::GzipSuffix => std::fs::write(scale_dir.join(format!("{name}.gz")), gzip()?),
            Storage::GzipInPlace => std::fs::write(scale_dir.join(name), gzip()?),
        }
    }
}
