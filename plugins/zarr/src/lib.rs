//! # The zarr plugin: volumetric chunks out of a Zarr array
//!
//! Labs keep large volumes as Zarr arrays, locally or in S3. This crate provides the Python
//! client's `ingestclient.plugins.zarr.ZarrPathProcessor` and `...ZarrChunkProcessor` (also
//! under their short names): params `cloud_path` (a local path or `s3://bucket/prefix`, where
//! the Zarr group or array lives) and `volume_name` (the array inside it). The array is 3-D in
//! (z, y, x) order, as the original assumed; chunk `(cx, cy, cz)` of the job is voxels
//! `[c * chunk_size, (c + 1) * chunk_size)` clipped to the array's shape and to the job's
//! extent, returned in ZYX order.
//!
//! Zarr v2 (`.zarray`: compressors blosc, zlib, gzip, zstd or none; C or F order; either byte
//! order) and v3 (`zarr.json`: `bytes`, `blosc`, `gzip`, `zstd`, `crc32c`, and
//! `sharding_indexed`) are read by this crate itself: the Zarr crates available would bring a
//! second build of c-blosc and minutes of compile time for the few hundred lines needed here.
//! Every byte is read through the host's services, so `s3://` works wherever the host reads it.
//!
//! A missing array is an error naming the chunk and the location, so the message is retried and
//! in the end quarantined, as for tiles. A missing chunk *object* inside an existing array is
//! normal Zarr (it holds the fill value) and is reported as a note in the run summary.
//!
//! # Layout
//! - [`metadata`]: `.zarray` / `zarr.json` → [`metadata::ArrayMeta`].
//! - [`codec`]: stored bytes → voxels (codecs, byte order, shards) and the box copy.
//! - [`array`]: an opened array and reading a box of it through the host.
//! - [`fixture`]: writing small arrays of known voxels, for tests here and end to end.

pub mod array;
pub mod codec;
pub mod fixture;
pub mod metadata;

use std::sync::{Arc, OnceLock};

use boss_ingest_plugin_kit::params::Params;
use plugin_abi::{
    AxisOrder, ChunkArray, ChunkProcess, ErrorKind, HostServices, Note, PathProcess, Plugin,
    PluginError,
};

use crate::array::ZarrArray;

/// The library name configs use with `"plugin": "zarr"`.
pub const LIBRARY: &str = "zarr";

/// Why a Zarr array could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZarrError {
    #[error(
        "no Zarr array at {location} (neither {location}/.zarray nor {location}/zarr.json \
         exists); check cloud_path and volume_name"
    )]
    NoArray { location: String },
    #[error("{location} is a Zarr group, not an array; set volume_name to the array inside it")]
    Group { location: String },
    #[error("the array's metadata is not readable: {0}")]
    Metadata(String),
    #[error("the array uses {0}")]
    Unsupported(String),
    #[error(
        "the array's sample type {0} is not one the Boss stores (read: uint8, uint16, uint32, \
         uint64)"
    )]
    Dtype(String),
    #[error("a stored chunk is damaged: {0}")]
    Corrupt(String),
    #[error("{source} (object {key})")]
    InObject { key: String, source: Box<ZarrError> },
    #[error("{0}")]
    Read(PluginError),
    #[error("the array has shape {0:?}; ZarrChunkProcessor reads 3-D arrays in (z, y, x) order")]
    Rank(Vec<u64>),
}

impl ZarrError {
    fn kind(&self) -> ErrorKind {
        match self {
            ZarrError::NoArray { .. } => ErrorKind::NotFound,
            ZarrError::Group { .. } => ErrorKind::Params,
            ZarrError::Metadata(_) | ZarrError::Corrupt(_) => ErrorKind::InvalidImage,
            ZarrError::Unsupported(_) | ZarrError::Rank(_) => ErrorKind::Unsupported,
            ZarrError::Dtype(_) => ErrorKind::Dtype,
            ZarrError::InObject { source, .. } => source.kind(),
            ZarrError::Read(e) => e.kind,
        }
    }
}

/// The path processor: Zarr sources need no per-chunk path, so it is always "".
struct ZarrPaths;

impl PathProcess for ZarrPaths {
    fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
        Ok(String::new())
    }
}

/// The chunk processor. The array's metadata is read on the first chunk (and again after a
/// failure), so a missing array fails chunks, which are retried and quarantined, rather than the
/// whole run at start-up.
pub struct ZarrChunks {
    host: HostServices,
    location: String,
    /// `ingest_job.chunk_size` as (x, y, z).
    chunk_size: [u64; 3],
    /// `ingest_job.extent` stops as (x, y, z).
    extent_stop: [u64; 3],
    array: OnceLock<Arc<ZarrArray>>,
}

impl ZarrChunks {
    pub fn new(params: &serde_json::Value, host: HostServices) -> Result<ZarrChunks, PluginError> {
        let p = Params::new(params).map_err(|e| PluginError::params(e.0))?;
        let get = || -> Result<_, boss_ingest_plugin_kit::params::ParamsError> {
            let cloud_path = p.string("cloud_path", "where the Zarr data is: a path or s3://")?;
            let volume_name = p.string("volume_name", "the array inside cloud_path")?;
            let chunk_size = p.chunk_size()?;
            let stop = |axis| p.extent(axis).map(|(_, stop)| stop);
            Ok((
                cloud_path,
                volume_name,
                chunk_size,
                [stop("x")?, stop("y")?, stop("z")?],
            ))
        };
        let (cloud_path, volume_name, chunk_size, extent_stop) =
            get().map_err(|e| PluginError::params(e.0))?;
        let base = cloud_path.strip_prefix("file://").unwrap_or(cloud_path);
        Ok(ZarrChunks {
            host,
            location: array::join(base, volume_name),
            chunk_size,
            extent_stop,
            array: OnceLock::new(),
        })
    }

    fn array(&self) -> Result<Arc<ZarrArray>, ZarrError> {
        if let Some(a) = self.array.get() {
            return Ok(a.clone());
        }
        let opened = Arc::new(ZarrArray::open(&self.host, &self.location)?);
        if opened.meta.shape.len() != 3 {
            return Err(ZarrError::Rank(opened.meta.shape.clone()));
        }
        // Another thread may have opened it meanwhile; either copy is the same array.
        Ok(self.array.get_or_init(|| opened).clone())
    }

    fn read(&self, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        // The host names the chunk; errors that do not name the array yet get its location.
        let context = |e: ZarrError| {
            let message = match e {
                ZarrError::NoArray { .. } | ZarrError::Group { .. } => e.to_string(),
                _ => format!("Zarr array {}: {e}", self.location),
            };
            PluginError::new(e.kind(), message)
        };
        let array = self.array().map_err(context)?;
        let shape = &array.meta.shape;
        // Array axes are (z, y, x); our parameters are (x, y, z).
        let index = [z, y, x];
        let size = [self.chunk_size[2], self.chunk_size[1], self.chunk_size[0]];
        let limit = [
            self.extent_stop[2],
            self.extent_stop[1],
            self.extent_stop[0],
        ];
        let mut start = [0u64; 3];
        let mut stop = [0u64; 3];
        for d in 0..3 {
            start[d] = index[d] * size[d];
            stop[d] = ((index[d] + 1) * size[d]).min(shape[d]).min(limit[d]);
        }
        if (0..3).any(|d| start[d] >= stop[d]) {
            return Err(PluginError::out_of_range(format!(
                "Zarr array {}: chunk (x {x}, y {y}, z {z}) starts at voxel (x {}, y {}, z {}), \
                 outside the array (shape z, y, x = {shape:?}) or the job's extent",
                self.location, start[2], start[1], start[0]
            )));
        }
        let read = array.read_box(&self.host, &start, &stop).map_err(context)?;
        let mut chunk = ChunkArray::new(
            (0..3).map(|d| stop[d] - start[d]).collect(),
            AxisOrder::Zyx,
            array.meta.dtype,
            read.data,
        );
        if read.absent > 0 {
            chunk = chunk.with_note(Note::other(format!(
                "Zarr array {}: {} of the {} stored chunks this chunk covers do not exist and \
                 read as the fill value {}",
                self.location, read.absent, read.objects, array.meta.fill_value
            )));
        }
        Ok(chunk)
    }
}

impl ChunkProcess for ZarrChunks {
    fn chunk(&self, _path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        self.read(x, y, z)
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Volumetric chunks from Zarr v2/v3 arrays (local or s3://)",
    )
    .path(
        "ZarrPathProcessor",
        "always \"\": the chunk processor finds the data from its params",
        &["ingestclient.plugins.zarr.ZarrPathProcessor"],
        |_params, _host| Ok(ZarrPaths),
    )
    .chunk(
        "ZarrChunkProcessor",
        "a chunk of the (z, y, x) Zarr array volume_name under cloud_path (path or s3://), \
             ZYX order",
        &["ingestclient.plugins.zarr.ZarrChunkProcessor"],
        ZarrChunks::new,
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests;
