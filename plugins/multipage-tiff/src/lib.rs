//! # The multipage_tiff plugin: multi-page TIFF sources
//!
//! Two layouts the Python client's `ingestclient.plugins.multipage_tiff` read, under their
//! legacy names and short names:
//! - one multi-page TIFF per z slice whose pages are the time points
//!   (`SingleTimeTiffPathProcessor` + `SingleTimeTiffTileProcessor`);
//! - a hyperstack (time × z × channel pages) split along time over several files
//!   (`TiffMultiFileHyperStackPathProcessor` + `TiffMultiFileHyperStackTileProcessor`).
//!
//! A tile reads one page, and of it only the strips its window meets: memory does not grow with
//! the file. Tiles are cropped out of larger pages and zero-padded at the job's edges. Built on
//! the plugin kit's templates, params, TIFF decoding and casts.
//!
//! # Layout
//! - [`single_time`]: the `z_<n>` path processor and the original's range checks.
//! - [`hyperstack`]: the hyperstack's file names and page numbers.
//! - [`page_tile`]: one page's window → a tile.

pub mod hyperstack;
pub mod page_tile;
pub mod single_time;

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::{PathProcess, Plugin, PluginError, TileOutput, TileProcess};

use crate::hyperstack::{HyperStackPages, HyperStackPaths};
use crate::page_tile::PageTiles;
use crate::single_time::SingleTimePaths;
use plugin_abi::HostServices;

/// The library name configs use with `"plugin": "multipage_tiff"`.
pub const LIBRARY: &str = "multipage_tiff";

fn params_error(e: ParamsError) -> PluginError {
    PluginError::params(e.0)
}

struct SingleTimePath(SingleTimePaths);

impl PathProcess for SingleTimePath {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.0
            .path(x, y, z, t)
            .map(str::to_string)
            .map_err(|e| PluginError::out_of_range(e.to_string()))
    }
}

/// Single-time files: page = t.
struct SingleTimeTile {
    pages: PageTiles,
    host: HostServices,
}

impl TileProcess for SingleTimeTile {
    fn tile(&self, path: &str, x: u64, y: u64, _z: u64, t: u64) -> Result<TileOutput, PluginError> {
        Ok(self.pages.tile(&self.host, path, t, x, y)?)
    }
}

struct HyperStackPath(HyperStackPaths);

impl PathProcess for HyperStackPath {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.0
            .path(x, y, z, t)
            .map_err(|e| PluginError::out_of_range(e.to_string()))
    }
}

struct HyperStackTile {
    pages: PageTiles,
    layout: HyperStackPages,
    host: HostServices,
}

impl TileProcess for HyperStackTile {
    fn tile(&self, path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError> {
        let page = self
            .layout
            .page(z, t)
            .map_err(|e| PluginError::out_of_range(format!("{path}: {e}")))?;
        Ok(self.pages.tile(&self.host, path, page, x, y)?)
    }
}

fn page_tiles(params: &serde_json::Value) -> Result<PageTiles, PluginError> {
    Params::new(params)
        .and_then(|p| PageTiles::from_params(&p))
        .map_err(params_error)
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Multi-page TIFFs: one file per z with time points as pages, or hyperstacks split by time",
    )
    .path(
        "SingleTimeTiffPathProcessor",
        "the param z_<z> names slice z's multi-page TIFF; range checks on t, z, x, y",
        &["ingestclient.plugins.multipage_tiff.SingleTimeTiffPathProcessor"],
        |params, _host| {
            Ok(SingleTimePath(
                SingleTimePaths::from_params(params).map_err(params_error)?,
            ))
        },
    )
    .tile(
        "SingleTimeTiffTileProcessor",
        "page t of the file, cropped to the tile (datatype uint8/uint16)",
        &["ingestclient.plugins.multipage_tiff.SingleTimeTiffTileProcessor"],
        |params, host| {
            Ok(SingleTimeTile {
                pages: page_tiles(params)?,
                host,
            })
        },
    )
    .path(
        "TiffMultiFileHyperStackPathProcessor",
        "root_dir/base_filename.extension with the file number t div time_chunk_size",
        &["ingestclient.plugins.multipage_tiff.TiffMultiFileHyperStackPathProcessor"],
        |params, _host| {
            Ok(HyperStackPath(
                HyperStackPaths::from_params(params).map_err(params_error)?,
            ))
        },
    )
    .tile(
        "TiffMultiFileHyperStackTileProcessor",
        "the page of (t, z, channel_index) in its file, cropped to the tile",
        &["ingestclient.plugins.multipage_tiff.TiffMultiFileHyperStackTileProcessor"],
        |params, host| {
            Ok(HyperStackTile {
                pages: page_tiles(params)?,
                layout: HyperStackPages::from_params(params).map_err(params_error)?,
                host,
            })
        },
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests;
