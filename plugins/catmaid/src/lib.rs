//! # The catmaid plugin: CATMAID tile directories and tile servers
//!
//! CATMAID stores an image stack as one file per tile, named by section, row and column, in one
//! of several layouts, or serves the same tiles over HTTP. This crate provides the Python client's
//! `ingestclient.plugins.catmaid.*` path and tile processors under their old dotted names and
//! their short names, built into `boss-ingest`.
//!
//! Fixed against the original: the directory layout keeps the file extension, `tif`/`tiff`/
//! `jpg`/`jpeg` tiles work (not only PNG), a tile server's transient failures cost one tile and
//! are retried later instead of stopping the client, and every black tile (HTTP 403, a section
//! before the first, `fail_gracefully`) is reported as a note.
//!
//! # Layout
//! - [`paths`]: the four naming layouts and the range checks.
//! - [`tiles`]: reading one tile per file or URL, black tiles.

pub mod paths;
pub mod tiles;

use boss_ingest_plugin_kit::params::ParamsError;
use plugin_abi::{PathProcess, Plugin, PluginError, TileOutput, TileProcess};

use crate::paths::{CatmaidPaths, Layout};
use crate::tiles::{FileTiles, OneTilePerFile, UrlTiles};

/// The library name configs use with `"plugin": "catmaid"`.
pub const LIBRARY: &str = "catmaid";

fn params_error(e: ParamsError) -> PluginError {
    PluginError::params(e.0)
}

fn legacy(class: &str) -> String {
    format!("ingestclient.plugins.catmaid.{class}")
}

struct PathProcessor(CatmaidPaths);

impl PathProcess for PathProcessor {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.0
            .path(x, y, z, t)
            .map_err(|e| PluginError::out_of_range(e.to_string()))
    }
}

impl TileProcess for FileTiles {
    fn tile(
        &self,
        path: &str,
        x: u64,
        y: u64,
        _z: u64,
        _t: u64,
    ) -> Result<TileOutput, PluginError> {
        FileTiles::tile(self, path, x, y)
    }
}

impl TileProcess for UrlTiles {
    fn tile(&self, path: &str, x: u64, y: u64, z: u64, _t: u64) -> Result<TileOutput, PluginError> {
        UrlTiles::tile(self, path, x, y, z)
    }
}

/// The file layouts: (path class, tile class, layout, what the path looks like).
const FILE_LAYOUTS: [(&str, &str, Layout, &str); 3] = [
    (
        "CatmaidFileImageStackPathProcessor",
        "CatmaidFileImageStackTileProcessor",
        Layout::File,
        "root_dir/{z}/{y}_{x}_{resolution}.{filetype}",
    ),
    (
        "CatmaidFileImageStackZoomLevelPathProcessor",
        "CatmaidFileImageStackZoomLevelTileProcessor",
        Layout::ZoomLevel,
        "root_dir/{resolution}/{z}/{y}_{x}.{filetype}",
    ),
    (
        "CatmaidDirectoryImageStackPathProcessor",
        "CatmaidDirectoryImageStackTileProcessor",
        Layout::Directory,
        "root_dir/{resolution}/{z}/{y}/{x}.{filetype}",
    ),
];

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    let mut plugin = Plugin::new(
        LIBRARY,
        "CATMAID tile stacks: file, zoom-level and directory layouts, and tile servers",
    );
    for (path_class, tile_class, layout, pattern) in FILE_LAYOUTS {
        plugin = plugin
            .path(
                path_class,
                pattern,
                &[&legacy(path_class)],
                move |params, _host| {
                    CatmaidPaths::from_params(params, layout.clone())
                        .map(PathProcessor)
                        .map_err(params_error)
                },
            )
            .tile(
                tile_class,
                "the tile's own PNG/TIFF/JPEG file, passed through or decoded and padded",
                &[&legacy(tile_class)],
                |params, host| {
                    Ok(FileTiles {
                        tiles: OneTilePerFile::from_params(params).map_err(params_error)?,
                        host,
                    })
                },
            );
    }
    let url_tiles = |params: &plugin_abi::Params, host| {
        UrlTiles::from_params(params, host).map_err(params_error)
    };
    plugin
        .path(
            "CatmaidURLPathProcessor",
            "url{z + z_offset}/{y}/{x}.{filetype} on a CATMAID tile server",
            &[&legacy("CatmaidURLPathProcessor")],
            |params, _host| {
                let url = Layout::Url {
                    url: String::new(),
                    z_offset: 0,
                };
                CatmaidPaths::from_params(params, url)
                    .map(PathProcessor)
                    .map_err(params_error)
            },
        )
        .tile(
            "CatmaidURLTileProcessor",
            "a tile server's tile (HTTP GET, retried); 403 and sections before the first are black",
            &[&legacy("CatmaidURLTileProcessor")],
            url_tiles,
        )
        .tile(
            "CatmainURLTileProcessor",
            "the Python client's spelling of CatmaidURLTileProcessor",
            &[&legacy("CatmainURLTileProcessor")],
            url_tiles,
        )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests;
