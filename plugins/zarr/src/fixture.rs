//! Writing small Zarr arrays whose voxels are a known function of (x, y, z), for this crate's
//! tests and the end-to-end tests: what a test wrote, it can recompute for any voxel it reads
//! back. Not a general Zarr writer: 3-D (z, y, x) arrays, one codec, optionally sharded.

use std::io::Write;
use std::path::Path;

use plugin_abi::Dtype;

/// Which metadata format and chunk layout to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.zarray`, keys `z.y.x`.
    V2,
    /// `zarr.json`, keys `c/z/y/x`.
    V3,
}

/// How chunk bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// c-blosc 1 with blosclz and byte shuffle.
    Blosc,
    Gzip,
    /// v2 only (v3 has no zlib codec).
    Zlib,
    Zstd,
}

/// A fixture array.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub format: Format,
    /// (z, y, x)
    pub shape: [u64; 3],
    /// (z, y, x): the stored object's shape (a shard's, when `shard_inner` is set).
    pub chunks: [u64; 3],
    pub dtype: Dtype,
    pub compression: Compression,
    pub fill_value: u64,
    /// v3 only: store each object as a shard of inner chunks of this (z, y, x) shape.
    pub shard_inner: Option<[u64; 3]>,
    /// Grid positions (z, y, x) of objects not to write.
    pub omit: Vec<[u64; 3]>,
    /// v3 only: end each chunk (and a shard's index) with the `crc32c` codec's checksum.
    pub checksum: bool,
}

impl Fixture {
    pub fn new(format: Format, shape: [u64; 3], chunks: [u64; 3], dtype: Dtype) -> Fixture {
        Fixture {
            format,
            shape,
            chunks,
            dtype,
            compression: Compression::None,
            fill_value: 0,
            shard_inner: None,
            omit: Vec::new(),
            checksum: false,
        }
    }

    /// Writes the array at `dir` (created), with voxel (x, y, z) = `value(x, y, z)` truncated
    /// to the dtype, and the fill value past the array's edge inside edge chunks.
    pub fn write(&self, dir: &Path, value: impl Fn(u64, u64, u64) -> u64) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let (meta_name, meta) = match self.format {
            Format::V2 => (".zarray", self.v2_metadata()),
            Format::V3 => ("zarr.json", self.v3_metadata()),
        };
        std::fs::write(dir.join(meta_name), meta.to_string())?;
        let grid: Vec<u64> = (0..3)
            .map(|d| self.shape[d].div_ceil(self.chunks[d]))
            .collect();
        for cz in 0..grid[0] {
            for cy in 0..grid[1] {
                for cx in 0..grid[2] {
                    let position = [cz, cy, cx];
                    if self.omit.contains(&position) {
                        continue;
                    }
                    let origin: Vec<u64> = (0..3).map(|d| position[d] * self.chunks[d]).collect();
                    let bytes = match self.shard_inner {
                        None => self.encode(&origin, self.chunks, &value),
                        Some(inner) => self.shard(&origin, inner, &value),
                    };
                    let key = match self.format {
                        Format::V2 => format!("{cz}.{cy}.{cx}"),
                        Format::V3 => format!("c/{cz}/{cy}/{cx}"),
                    };
                    let path = dir.join(key);
                    if let Some(parent) = path.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(path, bytes)?;
                }
            }
        }
        Ok(())
    }

    /// The voxels of the box `shape` at `origin`, little-endian, C order.
    fn samples(
        &self,
        origin: &[u64],
        shape: [u64; 3],
        value: &impl Fn(u64, u64, u64) -> u64,
    ) -> Vec<u8> {
        let size = self.dtype.size();
        let mut out = Vec::with_capacity((shape.iter().product::<u64>() as usize) * size);
        for z in origin[0]..origin[0] + shape[0] {
            for y in origin[1]..origin[1] + shape[1] {
                for x in origin[2]..origin[2] + shape[2] {
                    let inside = z < self.shape[0] && y < self.shape[1] && x < self.shape[2];
                    let v = if inside {
                        value(x, y, z)
                    } else {
                        self.fill_value
                    };
                    out.extend_from_slice(&v.to_le_bytes()[..size]);
                }
            }
        }
        out
    }

    fn encode(
        &self,
        origin: &[u64],
        shape: [u64; 3],
        value: &impl Fn(u64, u64, u64) -> u64,
    ) -> Vec<u8> {
        let raw = self.samples(origin, shape, value);
        let compressed = match self.compression {
            Compression::None => raw,
            Compression::Blosc => {
                boss_protocol::cuboid::compress_with_typesize(&raw, self.dtype.size())
            }
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&raw).expect("writing to a Vec cannot fail");
                e.finish().expect("writing to a Vec cannot fail")
            }
            Compression::Zlib => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(&raw).expect("writing to a Vec cannot fail");
                e.finish().expect("writing to a Vec cannot fail")
            }
            Compression::Zstd => {
                zstd::encode_all(raw.as_slice(), 1).expect("zstd into memory cannot fail")
            }
        };
        self.with_checksum(compressed)
    }

    /// `bytes` followed by their CRC-32C (little-endian), when the fixture has checksums.
    fn with_checksum(&self, mut bytes: Vec<u8>) -> Vec<u8> {
        if self.checksum {
            assert_eq!(self.format, Format::V3, "Zarr v2 has no crc32c codec");
            let crc = crc32c::crc32c(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
        }
        bytes
    }

    /// A shard: the inner chunks one after another, then the index of (offset, length) pairs.
    fn shard(
        &self,
        origin: &[u64],
        inner: [u64; 3],
        value: &impl Fn(u64, u64, u64) -> u64,
    ) -> Vec<u8> {
        let mut body = Vec::new();
        let mut index = Vec::new();
        for iz in 0..self.chunks[0] / inner[0] {
            for iy in 0..self.chunks[1] / inner[1] {
                for ix in 0..self.chunks[2] / inner[2] {
                    let o = [
                        origin[0] + iz * inner[0],
                        origin[1] + iy * inner[1],
                        origin[2] + ix * inner[2],
                    ];
                    let bytes = self.encode(&o, inner, value);
                    index.extend_from_slice(&(body.len() as u64).to_le_bytes());
                    index.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                    body.extend_from_slice(&bytes);
                }
            }
        }
        body.extend_from_slice(&self.with_checksum(index));
        body
    }

    fn v2_metadata(&self) -> serde_json::Value {
        let compressor = match self.compression {
            Compression::None => serde_json::Value::Null,
            Compression::Blosc => serde_json::json!({"id": "blosc", "cname": "blosclz",
                "clevel": 9, "shuffle": 1, "blocksize": 0}),
            Compression::Gzip => serde_json::json!({"id": "gzip", "level": 1}),
            Compression::Zlib => serde_json::json!({"id": "zlib", "level": 1}),
            Compression::Zstd => serde_json::json!({"id": "zstd", "level": 1}),
        };
        serde_json::json!({
            "zarr_format": 2, "shape": self.shape, "chunks": self.chunks,
            "dtype": format!("<u{}", self.dtype.size()), "compressor": compressor,
            "fill_value": self.fill_value, "order": "C", "filters": null,
        })
    }

    fn v3_codecs(&self) -> serde_json::Value {
        let mut codecs = vec![serde_json::json!({"name": "bytes",
            "configuration": {"endian": "little"}})];
        match self.compression {
            Compression::None => {}
            Compression::Blosc => codecs.push(serde_json::json!({"name": "blosc",
                "configuration": {"cname": "blosclz", "clevel": 9, "shuffle": "shuffle",
                "typesize": self.dtype.size(), "blocksize": 0}})),
            Compression::Gzip => codecs.push(serde_json::json!({"name": "gzip",
                "configuration": {"level": 1}})),
            Compression::Zlib => panic!("Zarr v3 has no zlib codec; use gzip"),
            Compression::Zstd => codecs.push(serde_json::json!({"name": "zstd",
                "configuration": {"level": 1, "checksum": false}})),
        }
        if self.checksum {
            codecs.push(serde_json::json!({"name": "crc32c"}));
        }
        serde_json::Value::Array(codecs)
    }

    fn v3_metadata(&self) -> serde_json::Value {
        let codecs = match self.shard_inner {
            None => self.v3_codecs(),
            Some(inner) => {
                let mut index_codecs = vec![
                    serde_json::json!({"name": "bytes", "configuration": {"endian": "little"}}),
                ];
                if self.checksum {
                    index_codecs.push(serde_json::json!({"name": "crc32c"}));
                }
                serde_json::json!([{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": inner, "codecs": self.v3_codecs(),
                    "index_codecs": index_codecs, "index_location": "end"}}])
            }
        };
        serde_json::json!({
            "zarr_format": 3, "node_type": "array", "shape": self.shape,
            "data_type": self.dtype.name(),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": self.chunks}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": self.fill_value, "codecs": codecs, "attributes": {},
        })
    }
}

/// Writes a v3 group's `zarr.json` at `dir` (for tests that point `volume_name` at a group).
pub fn write_v3_group(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join("zarr.json"),
        r#"{"zarr_format": 3, "node_type": "group", "attributes": {}}"#,
    )
}
