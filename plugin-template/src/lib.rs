//! A boss-ingest plugin: processors that read raw 8-bit image slices, one file per z.
//!
//! This is the example the plugin template starts from. It shows the three things every plugin
//! does: implement a processor trait ([`PathProcess`], [`TileProcess`] or
//! [`plugin_abi::ChunkProcess`]), describe the classes in a [`Plugin`] with their constructors,
//! and export the library with [`plugin_abi::export_plugin!`]. Replace the processors with your
//! own; keep the shape.
//!
//! - `SlicePathProcessor` — `{root_dir}/slice_{z:04}.{extension}` (params `root_dir`, optional
//!   `extension`, default `raw`).
//! - `RawSliceTileProcessor` — reads a tile's window out of a raw uint8 slice of
//!   `width` × `height` pixels (params `width`, `height`), reading only the rows it needs, and
//!   pads tiles at the slice's edge with zeros.
//!
//! The host adds the config's `ingest_job` section to every processor's params, so the tile size
//! is `params["ingest_job"]["tile_size"]`.

use plugin_abi::{
    Dtype, HostServices, Params, PathProcess, Plugin, PluginError, TileImage, TileOutput,
    TileProcess,
};

/// The library name configs use: the crate `boss_ingest_plugin_<name>` builds the file
/// `libboss_ingest_plugin_<name>.so`, which boss-ingest finds as the library `<name>`.
fn library_name() -> &'static str {
    let crate_name = env!("CARGO_CRATE_NAME");
    crate_name
        .strip_prefix("boss_ingest_plugin_")
        .unwrap_or(crate_name)
}

/// The library's description: its name and its classes.
fn plugin() -> Plugin {
    Plugin::new(library_name(), "Raw 8-bit slices, one file per z")
        .path(
            "SlicePathProcessor",
            "root_dir/slice_<z, 4 digits>.<extension>",
            &[],
            |params, _host| SlicePaths::new(params),
        )
        .tile(
            "RawSliceTileProcessor",
            "the tile's window of a raw uint8 slice, zero-padded at the edges",
            &[],
            RawSliceTiles::new,
        )
}

plugin_abi::export_plugin!(plugin);

/// A required string param.
fn string_param(params: &Params, key: &str) -> Result<String, PluginError> {
    params[key]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PluginError::params(format!("params need a string \"{key}\"")))
}

/// A required positive integer param, at `pointer` (a JSON pointer such as `/width`).
fn size_param(params: &Params, pointer: &str) -> Result<u64, PluginError> {
    params
        .pointer(pointer)
        .and_then(|v| v.as_u64())
        .filter(|n| *n > 0 && *n <= u32::MAX as u64)
        .ok_or_else(|| PluginError::params(format!("params need a positive integer at {pointer}")))
}

struct SlicePaths {
    root_dir: String,
    extension: String,
}

impl SlicePaths {
    fn new(params: &Params) -> Result<SlicePaths, PluginError> {
        Ok(SlicePaths {
            root_dir: string_param(params, "root_dir")?,
            extension: params["extension"].as_str().unwrap_or("raw").to_string(),
        })
    }
}

impl PathProcess for SlicePaths {
    fn path(&self, _x: u64, _y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        if t != 0 {
            return Err(PluginError::out_of_range(format!(
                "raw slices have no time axis, but tile t={t} was asked for"
            )));
        }
        Ok(format!("{}/slice_{z:04}.{}", self.root_dir, self.extension))
    }
}

struct RawSliceTiles {
    host: HostServices,
    width: u64,
    height: u64,
    tile_width: u64,
    tile_height: u64,
}

impl RawSliceTiles {
    fn new(params: &Params, host: HostServices) -> Result<RawSliceTiles, PluginError> {
        Ok(RawSliceTiles {
            host,
            width: size_param(params, "/width")?,
            height: size_param(params, "/height")?,
            tile_width: size_param(params, "/ingest_job/tile_size/x")?,
            tile_height: size_param(params, "/ingest_job/tile_size/y")?,
        })
    }
}

impl TileProcess for RawSliceTiles {
    fn tile(
        &self,
        path: &str,
        x: u64,
        y: u64,
        _z: u64,
        _t: u64,
    ) -> Result<TileOutput, PluginError> {
        let size = self.host.size(path)?;
        if size != self.width * self.height {
            return Err(PluginError::invalid_image(format!(
                "{path}: {size} bytes, but a {}×{} uint8 slice has {}",
                self.width,
                self.height,
                self.width * self.height
            )));
        }
        let (x0, y0) = (x * self.tile_width, y * self.tile_height);
        if x0 >= self.width || y0 >= self.height {
            return Err(PluginError::out_of_range(format!(
                "tile ({x}, {y}) starts outside the {}×{} slice {path}",
                self.width, self.height
            )));
        }
        // Zero-filled tile; copy in the part of each row that lies inside the slice.
        let mut data = vec![0u8; (self.tile_width * self.tile_height) as usize];
        let columns = self.tile_width.min(self.width - x0);
        let rows = self.tile_height.min(self.height - y0);
        // Read just the rows this tile covers, not the whole slice.
        let bytes = self
            .host
            .read_range(path, y0 * self.width, rows * self.width)?;
        for row in 0..rows {
            let from = (row * self.width + x0) as usize;
            let to = (row * self.tile_width) as usize;
            data[to..to + columns as usize].copy_from_slice(&bytes[from..from + columns as usize]);
        }
        Ok(TileOutput::new(TileImage::Raw {
            width: self.tile_width as u32,
            height: self.tile_height as u32,
            dtype: Dtype::U8,
            data,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_abi::conformance::{assert_conforms, Case};
    use plugin_abi::ErrorKind;
    use serde_json::json;
    use std::path::PathBuf;

    /// A 6×5 slice whose pixel (x, y) is 10·y + x, in a fresh directory.
    fn slice_dir(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plugin-template-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pixels: Vec<u8> = (0..5u8)
            .flat_map(|y| (0..6u8).map(move |x| 10 * y + x))
            .collect();
        std::fs::write(dir.join("slice_0000.raw"), pixels).unwrap();
        dir
    }

    fn params(dir: &std::path::Path) -> serde_json::Value {
        json!({
            "root_dir": dir.to_str().unwrap(),
            "width": 6,
            "height": 5,
            "ingest_job": {"tile_size": {"x": 4, "y": 4, "z": 1, "t": 1}},
        })
    }

    #[test]
    fn conforms() {
        let dir = slice_dir("conforms");
        let slice = dir.join("slice_0000.raw");
        let slice = slice.to_str().unwrap();
        assert_conforms(
            root_module(),
            &[
                Case::new("SlicePathProcessor", params(&dir)).call("", 0, 0, 0, 0),
                Case::new("RawSliceTileProcessor", params(&dir))
                    .tile_size(4, 4, Dtype::U8)
                    .call(slice, 0, 0, 0, 0)
                    .call(slice, 1, 1, 0, 0),
            ],
        );
    }

    #[test]
    fn edge_tiles_are_cropped_and_zero_padded() {
        let dir = slice_dir("edges");
        let tiles = RawSliceTiles::new(&params(&dir), HostServices::local()).unwrap();
        let slice = dir.join("slice_0000.raw");
        let out = tiles.tile(slice.to_str().unwrap(), 1, 1, 0, 0).unwrap();
        // Tile (1, 1) covers x 4..8, y 4..8 of a 6×5 slice: only (4, 4) and (5, 4) exist.
        let mut expected = vec![0u8; 16];
        expected[0] = 44;
        expected[1] = 45;
        assert_eq!(
            out.image,
            TileImage::Raw {
                width: 4,
                height: 4,
                dtype: Dtype::U8,
                data: expected
            }
        );
    }

    #[test]
    fn paths_and_errors() {
        let dir = slice_dir("paths");
        let paths = SlicePaths::new(&params(&dir)).unwrap();
        assert_eq!(
            paths.path(0, 0, 7, 0).unwrap(),
            format!("{}/slice_0007.raw", dir.display())
        );
        assert_eq!(
            paths.path(0, 0, 0, 1).unwrap_err().kind,
            ErrorKind::OutOfRange
        );
        let err = SlicePaths::new(&json!({})).err().unwrap();
        assert_eq!(err.message, "params need a string \"root_dir\"");
    }
}
