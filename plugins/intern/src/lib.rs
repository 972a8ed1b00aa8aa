//! # The intern plugin: another Boss as the source
//!
//! Copies a channel from one Boss (or another channel of the same Boss) into the job's channel,
//! reading through the source's cutout API with the source's token. It provides the Python
//! client's `ingestclient.plugins.intern.InternPathProcessor`, `InternChunkProcessor` (volumetric
//! jobs) and `InternTileProcessor` (tile jobs), under those names and their short names, built
//! into `boss-ingest`. HTTP goes through the host's services (`http_get` with the
//! `Authorization: Token ...` header), which retry transient failures.
//!
//! Source coordinates are the job's coordinates. A chunk is `[index × chunk_size, (index + 1) ×
//! chunk_size)` clipped to the job's extent, so neighbouring chunks never overlap (the original's
//! extent-offset clamping made them overlap); what lies before the extent's start inside the
//! first chunk or tile is zeros, and a tile is padded with zeros to the full tile size where the
//! extent ends inside it. The source is never asked for voxels outside the job's extent.
//!
//! # Layout
//! - [`cutout`]: the params naming the source channel, and reading a box of it.
//! - [`place`]: the chunk or tile box of an index, and placing the read voxels in it.

pub mod cutout;
pub mod place;

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::{
    AxisOrder, ChunkArray, ChunkProcess, HostServices, PathProcess, Plugin, PluginError, TileImage,
    TileOutput, TileProcess,
};
use serde_json::Value;

use crate::cutout::Channel;
use crate::place::{Extent, Placement};

/// The library name configs use with `"plugin": "intern"`.
pub const LIBRARY: &str = "intern";

fn params_error(e: ParamsError) -> PluginError {
    PluginError::params(e.0)
}

fn legacy(class: &str) -> String {
    format!("ingestclient.plugins.intern.{class}")
}

/// The job's extent from params.
fn extent(params: &Value) -> Result<Extent, ParamsError> {
    let p = Params::new(params)?;
    Ok(Extent {
        x: p.extent("x")?,
        y: p.extent("y")?,
        z: p.extent("z")?,
    })
}

/// `InternPathProcessor`: there is no file; the "path" is the source's URI, which reports show.
struct PathProcessor(String);

impl PathProcess for PathProcessor {
    fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
        Ok(self.0.clone())
    }
}

/// `InternChunkProcessor`: a chunk of the source, ZYX.
struct ChunkProcessor {
    channel: Channel,
    extent: Extent,
    chunk_size: [u64; 3],
    host: HostServices,
}

impl ChunkProcess for ChunkProcessor {
    fn chunk(&self, _path: &str, x: u64, y: u64, z: u64) -> Result<ChunkArray, PluginError> {
        let placement = Placement::chunk(self.chunk_size, &self.extent, [x, y, z])
            .map_err(|e| PluginError::out_of_range(e.to_string()))?;
        let (dtype, data) = placement.read(&self.channel, &self.host)?;
        let [nx, ny, nz] = placement.shape;
        Ok(ChunkArray::new(
            vec![nz, ny, nx],
            AxisOrder::Zyx,
            dtype,
            data,
        ))
    }
}

/// `InternTileProcessor`: one z slice of the source per tile.
struct TileProcessor {
    channel: Channel,
    extent: Extent,
    tile_size: (u32, u32),
    host: HostServices,
}

impl TileProcess for TileProcessor {
    fn tile(&self, _path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError> {
        if t != 0 {
            return Err(PluginError::out_of_range(format!(
                "t = {t}: the intern tile processor copies time point 0 only"
            )));
        }
        let placement = Placement::tile(self.tile_size, &self.extent, [x, y, z])
            .map_err(|e| PluginError::out_of_range(e.to_string()))?;
        let (dtype, data) = placement.read(&self.channel, &self.host)?;
        Ok(TileOutput::new(TileImage::Raw {
            width: self.tile_size.0,
            height: self.tile_size.1,
            dtype,
            data,
        }))
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Another Boss (or channel), read through its cutout API",
    )
    .path(
        "InternPathProcessor",
        "no files: returns the source's uri",
        &[&legacy("InternPathProcessor")],
        |params, _host| {
            let uri = Params::new(params)
                .and_then(|p| p.opt_string("uri"))
                .map_err(params_error)?;
            Ok(PathProcessor(uri.unwrap_or("").to_string()))
        },
    )
    .chunk(
        "InternChunkProcessor",
        "a chunk of a Boss channel (uri, host, protocol, token), ZYX",
        &[&legacy("InternChunkProcessor")],
        |params, host| {
            Ok(ChunkProcessor {
                channel: Channel::from_params(params).map_err(params_error)?,
                extent: extent(params).map_err(params_error)?,
                chunk_size: Params::new(params)
                    .and_then(|p| p.chunk_size())
                    .map_err(params_error)?,
                host,
            })
        },
    )
    .tile(
        "InternTileProcessor",
        "one z slice of a Boss channel per tile (uri, host, protocol, token)",
        &[&legacy("InternTileProcessor")],
        |params, host| {
            Ok(TileProcessor {
                channel: Channel::from_params(params).map_err(params_error)?,
                extent: extent(params).map_err(params_error)?,
                tile_size: Params::new(params)
                    .and_then(|p| p.tile_size())
                    .map_err(params_error)?,
                host,
            })
        },
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests;
