//! # The cloudvolume plugin: volumetric chunks out of a Neuroglancer precomputed volume
//!
//! Connectomics labs keep volumes in the Neuroglancer precomputed format that the Python
//! `cloud-volume` library reads and writes. This crate provides the Python client's
//! `ingestclient.plugins.cloudvolume.CloudVolumePathProcessor` (always "") and
//! `...CloudVolumeChunkProcessor` (also under their short names), reading the format itself
//! through the host's services: params `cloudpath` (`file:///dir`, `s3://bucket/prefix`, a plain
//! path; a `precomputed://` prefix is dropped), `mip` (the scale, default 0) and `fill_missing`
//! (default false).
//!
//! Chunk `(cx, cy, cz)` of the job is voxels `[c * chunk_size, (c + 1) * chunk_size)` in the
//! volume's own coordinates, clipped to the volume's bounds and the job's extent, returned in
//! XYZT order as the original did: shape (x, y, z, 1), C order, so z varies fastest in memory.
//! Voxels below the volume's `voxel_offset` read as zero. Encoding `raw` is read, with or
//! without gzip compression. A missing chunk file is an error naming it, unless `fill_missing`
//! is set, which reads it as zeros and reports a note naming the file (the original filled
//! silently).
//!
//! # Layout
//! - [`info`]: the `info` file → one [`info::Scale`].
//! - [`volume`]: chunk file names and reading a box of voxels.
//! - [`fixture`]: writing small volumes of known voxels, for tests here and end to end.

pub mod fixture;
pub mod info;
pub mod volume;

use std::sync::{Arc, OnceLock};

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::{
    AxisOrder, ChunkArray, ChunkProcess, ErrorKind, HostServices, Note, PathProcess, Plugin,
    PluginError,
};

use crate::info::Scale;

/// The library name configs use with `"plugin": "cloudvolume"`.
pub const LIBRARY: &str = "cloudvolume";

/// Why a precomputed volume could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudVolumeError {
    #[error(
        "no Neuroglancer precomputed volume at {cloudpath}: {info} does not exist; check cloudpath"
    )]
    NoVolume { cloudpath: String, info: String },
    #[error("its info file is not readable: {0}")]
    Info(String),
    #[error("the volume uses {0}")]
    Unsupported(String),
    #[error(
        "the volume's data_type {0} is not one the Boss stores (read: uint8, uint16, uint32, \
         uint64)"
    )]
    Dtype(String),
    #[error("mip {mip} does not exist: the volume has {scales} scales (mip 0 to {})", scales.saturating_sub(1))]
    NoSuchMip { mip: u64, scales: usize },
    #[error(
        "chunk file {location} does not exist; set \"fill_missing\": true in the chunk \
         processor's params to read missing chunks as zeros"
    )]
    MissingChunk { location: String },
    #[error("a chunk file is damaged: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Read(PluginError),
}

impl CloudVolumeError {
    fn kind(&self) -> ErrorKind {
        match self {
            CloudVolumeError::NoVolume { .. } | CloudVolumeError::MissingChunk { .. } => {
                ErrorKind::NotFound
            }
            CloudVolumeError::Info(_) | CloudVolumeError::Corrupt(_) => ErrorKind::InvalidImage,
            CloudVolumeError::Unsupported(_) => ErrorKind::Unsupported,
            CloudVolumeError::Dtype(_) => ErrorKind::Dtype,
            CloudVolumeError::NoSuchMip { .. } => ErrorKind::Params,
            CloudVolumeError::Read(e) => e.kind,
        }
    }
}

/// The path processor: the chunk processor needs no path, so it is always "".
struct CloudVolumePaths;

impl PathProcess for CloudVolumePaths {
    fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
        Ok(String::new())
    }
}

/// Where `cloudpath` points, as a location the host reads.
fn location_of(cloudpath: &str) -> Result<String, PluginError> {
    let path = cloudpath
        .strip_prefix("precomputed://")
        .unwrap_or(cloudpath);
    if let Some(local) = path.strip_prefix("file://") {
        return Ok(local.to_string());
    }
    match path.split_once("://") {
        None => Ok(path.to_string()),
        Some(("s3" | "http" | "https", _)) => Ok(path.to_string()),
        Some((scheme, _)) => Err(PluginError::params(format!(
            "cloudpath {cloudpath}: {scheme}:// is not read; use file://, s3:// or http(s)://"
        ))),
    }
}

/// The chunk processor. The volume's `info` is read on the first chunk (and again after a
/// failure), so a missing volume fails chunks, which are retried and quarantined, rather than
/// the whole run at start-up.
pub struct CloudVolumeChunks {
    host: HostServices,
    cloudpath: String,
    base: String,
    mip: u64,
    fill_missing: bool,
    /// `ingest_job.chunk_size` as (x, y, z).
    chunk_size: [u64; 3],
    /// `ingest_job.extent` stops as (x, y, z).
    extent_stop: [u64; 3],
    scale: OnceLock<Arc<Scale>>,
}

impl CloudVolumeChunks {
    pub fn new(
        params: &serde_json::Value,
        host: HostServices,
    ) -> Result<CloudVolumeChunks, PluginError> {
        let p = Params::new(params).map_err(|e| PluginError::params(e.0))?;
        let get = || -> Result<_, ParamsError> {
            let cloudpath = p.string("cloudpath", "the volume: file://, s3:// or a path")?;
            let stop = |axis| p.extent(axis).map(|(_, stop)| stop);
            Ok((
                cloudpath,
                p.u64_or("mip", 0)?,
                p.bool("fill_missing", false)?,
                p.chunk_size()?,
                [stop("x")?, stop("y")?, stop("z")?],
            ))
        };
        let (cloudpath, mip, fill_missing, chunk_size, extent_stop) =
            get().map_err(|e| PluginError::params(e.0))?;
        Ok(CloudVolumeChunks {
            host,
            base: location_of(cloudpath)?,
            cloudpath: cloudpath.to_string(),
            mip,
            fill_missing,
            chunk_size,
            extent_stop,
            scale: OnceLock::new(),
        })
    }

    fn scale(&self) -> Result<Arc<Scale>, CloudVolumeError> {
        if let Some(s) = self.scale.get() {
            return Ok(s.clone());
        }
        let info = volume::join(&self.base, "info");
        let text = volume::read_optional(&self.host, &info)?.ok_or_else(|| {
            CloudVolumeError::NoVolume {
                cloudpath: self.cloudpath.clone(),
                info: info.clone(),
            }
        })?;
        let scale = Arc::new(info::parse(&text, self.mip)?);
        // Another thread may have read it meanwhile; both read the same file.
        Ok(self.scale.get_or_init(|| scale).clone())
    }

    fn read(&self, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        // The host names the chunk; errors that do not name the volume yet get its location.
        let context = |e: CloudVolumeError| {
            let message = match e {
                CloudVolumeError::NoVolume { .. } => e.to_string(),
                _ => format!(
                    "precomputed volume {} (mip {}): {e}",
                    self.cloudpath, self.mip
                ),
            };
            PluginError::new(e.kind(), message)
        };
        let scale = self.scale().map_err(context)?;
        let index = [x, y, z];
        let end = scale.end();
        let start = [0, 1, 2].map(|d| index[d] * self.chunk_size[d]);
        let stop = [0, 1, 2].map(|d| {
            ((index[d] + 1) * self.chunk_size[d])
                .min(end[d])
                .min(self.extent_stop[d])
        });
        if (0..3).any(|d| start[d] >= stop[d]) {
            return Err(PluginError::out_of_range(format!(
                "precomputed volume {} (mip {}): chunk (x {x}, y {y}, z {z}) starts at voxel \
                 ({}, {}, {}), outside the volume (bounds {:?} to {end:?}) or the job's extent",
                self.cloudpath, self.mip, start[0], start[1], start[2], scale.voxel_offset
            )));
        }
        let scale_dir = volume::join(&self.base, &scale.key);
        let read = volume::read_box(
            &self.host,
            &scale_dir,
            &scale,
            start,
            stop,
            self.fill_missing,
        )
        .map_err(context)?;
        let mut chunk = ChunkArray::new(
            vec![
                stop[0] - start[0],
                stop[1] - start[1],
                stop[2] - start[2],
                1,
            ],
            AxisOrder::Xyzt,
            scale.dtype,
            read.data,
        );
        if (0..3).any(|d| start[d] < scale.voxel_offset[d]) {
            chunk = chunk.with_note(Note::other(format!(
                "precomputed volume {}: voxels below the volume's voxel_offset {:?} read as \
                 zero",
                self.cloudpath, scale.voxel_offset
            )));
        }
        for file in &read.filled {
            chunk = chunk.with_note(Note::black_tile(format!(
                "precomputed volume {}: chunk file {file} does not exist; read as zeros \
                 (fill_missing)",
                self.cloudpath
            )));
        }
        Ok(chunk)
    }
}

impl ChunkProcess for CloudVolumeChunks {
    fn chunk(&self, _path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        self.read(x, y, z)
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Volumetric chunks from Neuroglancer precomputed volumes (file://, s3://)",
    )
    .path(
        "CloudVolumePathProcessor",
        "always \"\": the chunk processor finds the data from its params",
        &["ingestclient.plugins.cloudvolume.CloudVolumePathProcessor"],
        |_params, _host| Ok(CloudVolumePaths),
    )
    .chunk(
        "CloudVolumeChunkProcessor",
        "a chunk of the precomputed volume at cloudpath (mip, fill_missing), XYZT order",
        &["ingestclient.plugins.cloudvolume.CloudVolumeChunkProcessor"],
        CloudVolumeChunks::new,
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests;
