//! # The hdf5 plugin: HDF5 sources, as a separate library
//!
//! The Python client's `ingestclient.plugins.hdf5` processors — time series, labels, slices,
//! chunks and single files — under their legacy and short names. This crate links the system
//! libhdf5, so it is built as its own library, `libboss_ingest_plugin_hdf5.so`, never linked into
//! `boss-ingest`: the legacy `ingestclient.plugins.hdf5.*` names resolve to it when it is on the
//! plugin search path (`scripts/install-plugin hdf5` builds and installs it), and the main binary
//! runs on machines without libhdf5.
//!
//! Every tile reads just its window of a dataset, starts from black, and is encoded as
//! `upload_format` says (`png`, the default, or `tiff`). Conversions the original did silently
//! (casts, clipping, black tiles for missing chunks) are reported as notes.
//!
//! # Layout
//! - [`paths`]: the path processors (per-z files, chunk files, one file).
//! - [`source`]: opening files (local, or `s3://` via the host) and datasets, with errors.
//! - [`window`]: the params every tile processor shares and reading a window.
//! - [`canvas`]: the tile being filled, clipping, notes, encoding.
//! - [`series`], [`slice`], [`chunk`], [`single_file`]: the tile processors.

pub mod canvas;
pub mod chunk;
pub mod paths;
pub mod series;
pub mod single_file;
pub mod slice;
pub mod source;
pub mod window;

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::{HostServices, PathProcess, Plugin, PluginError, TileOutput, TileProcess};

use crate::chunk::ChunkTiles;
use crate::paths::{ChunkPaths, SlicePaths};
use crate::series::SeriesTiles;
use crate::single_file::SingleFileTiles;
use crate::slice::SliceTiles;

/// The library name: configs may say `"plugin": "hdf5"`; the legacy names find it by this name
/// on the plugin search path, as the file `libboss_ingest_plugin_hdf5.so`.
pub const LIBRARY: &str = "hdf5";

fn params_error(e: ParamsError) -> PluginError {
    PluginError::params(e.0)
}

fn legacy(class: &str) -> String {
    format!("ingestclient.plugins.hdf5.{class}")
}

/// Path processors: (x, y, z) → the file.
enum Paths {
    Slices(SlicePaths),
    Chunks(ChunkPaths),
    One(String),
}

impl PathProcess for Paths {
    fn path(&self, x: u64, y: u64, z: u64, _t: u64) -> Result<String, PluginError> {
        match self {
            Paths::Slices(p) => p.path(x, y, z),
            Paths::Chunks(p) => p.path(x, y, z),
            Paths::One(file) => Ok(file.clone()),
        }
        .map_err(PluginError::out_of_range)
    }
}

/// Tile processors, each with the host services it reads through.
enum Tiles {
    Series(SeriesTiles),
    Slice(SliceTiles),
    Chunk(ChunkTiles),
    SingleFile(SingleFileTiles),
}

struct TileProcessor {
    tiles: Tiles,
    host: HostServices,
}

impl TileProcess for TileProcessor {
    fn tile(&self, path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError> {
        let host = &self.host;
        match &self.tiles {
            Tiles::Series(p) => p.tile(host, path, x, y, t),
            Tiles::Slice(p) => p.tile(host, path, x, y),
            Tiles::Chunk(p) => p.tile(host, path, x, y, z),
            Tiles::SingleFile(p) => p.tile(host, path, x, y, z),
        }
    }
}

/// A tile processor constructor from a params reader.
fn tiles(
    make: fn(&Params<'_>) -> Result<Tiles, ParamsError>,
) -> impl Fn(&serde_json::Value, HostServices) -> Result<TileProcessor, PluginError> {
    move |params, host| {
        let p = Params::new(params).map_err(params_error)?;
        Ok(TileProcessor {
            tiles: make(&p).map_err(params_error)?,
            host,
        })
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    let path = |class: &str,
                what: &str,
                make: fn(&serde_json::Value) -> Result<Paths, ParamsError>,
                plugin: Plugin| {
        plugin.path(
            class,
            what,
            &[legacy(class).as_str()],
            move |params, _host| make(params).map_err(params_error),
        )
    };
    let tile = |class: &str,
                what: &str,
                make: fn(&Params<'_>) -> Result<Tiles, ParamsError>,
                plugin: Plugin| {
        plugin.tile(class, what, &[legacy(class).as_str()], tiles(make))
    };
    let mut p = Plugin::new(
        LIBRARY,
        "HDF5 sources: time series, labels, slices, chunk files, single volumes (needs libhdf5)",
    );
    p = path(
        "Hdf5TimeSeriesPathProcessor",
        "root_dir/base_filename.extension, one file per z",
        |v| SlicePaths::from_params(v).map(Paths::Slices),
        p,
    );
    p = tile(
        "Hdf5TimeSeriesTileProcessor",
        "(t, x, y, channel) dataset: time point t, channel_index, × scale_factor, uint16",
        |p| SeriesTiles::time_series(p).map(Tiles::Series),
        p,
    );
    p = tile(
        "Hdf5TimeSeriesLabelTileProcessor",
        "(x, y) label dataset, as uint64",
        |p| SeriesTiles::labels(p).map(Tiles::Series),
        p,
    );
    p = path(
        "Hdf5SlicePathProcessor",
        "root_dir/base_filename.extension, one file per z",
        |v| SlicePaths::from_params(v).map(Paths::Slices),
        p,
    );
    p = tile(
        "Hdf5SliceTileProcessor",
        "a (y, x) slice placed at its stored offset + offset_origin_x/y",
        |p| SliceTiles::from_params(p).map(Tiles::Slice),
        p,
    );
    p = path(
        "Hdf5ChunkPathProcessor",
        "{prefix}_{x0}-{x1}_{y0}-{y1}_{z0}-{z1}.{extension} from chunk sizes and offsets",
        |v| ChunkPaths::from_params(v).map(Paths::Chunks),
        p,
    );
    p = tile(
        "Hdf5ChunkTileProcessor",
        "slice z mod z_chunk_size of a (z, y, x) chunk; a missing chunk is a black tile, reported",
        |p| ChunkTiles::from_params(p).map(Tiles::Chunk),
        p,
    );
    p = path(
        "Hdf5SingleFilePathProcessor",
        "always the param filename",
        |v| {
            Params::new(v)
                .and_then(|p| {
                    p.string("filename", "the HDF5 file holding the volume")
                        .map(str::to_string)
                })
                .map(Paths::One)
        },
        p,
    );
    tile(
        "Hdf5SingleFileTileProcessor",
        "a (z, y, x) volume with offset_x/y/z, zero-padded where the window leaves it",
        |p| SingleFileTiles::from_params(p).map(Tiles::SingleFile),
        p,
    )
}

plugin_abi::export_plugin!(plugin);

#[cfg(test)]
mod tests;
