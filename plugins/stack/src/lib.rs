//! # The stack plugin: z-stacks of single images
//!
//! The most used source layout: one image file per z slice, named from a pattern
//! (`slice_<p:4>.png`). This crate provides the Python client's
//! `ingestclient.plugins.stack.ZindexStackPathProcessor` and `...ZindexStackTileProcessor`
//! (also under their short names), built into `boss-ingest` and also built as a loadable library.
//!
//! Unlike the original, the tile processor crops each tile out of slices larger than a tile,
//! pads edge tiles with zeros, refuses pixel types the Boss does not store unless the params name
//! a cast, and hands a file that already is a valid tile to the host byte for byte.
//!
//! What it shares with other plugins (headers, window decoding, casts, params, templates, the
//! tile cut out of an image file) is in `boss-ingest-plugin-kit`; this crate is the plugin itself.
//!
//! # Layout
//! - [`path`]: the path processor.
//! - this file: the tile processor (a kit [`ImageTiles`] per processor), the classes and the
//!   root module.

pub mod path;

use boss_ingest_plugin_kit::image_tiles::ImageTiles;
use boss_ingest_plugin_kit::params::ParamsError;
use plugin_abi::{
    HostServices, LogLevel, PathProcess, Plugin, PluginError, TileOutput, TileProcess,
};

use crate::path::StackPaths;

/// The library name configs use with `"plugin": "stack"`.
pub const LIBRARY: &str = "stack";

fn params_error(e: ParamsError) -> PluginError {
    PluginError::params(e.0)
}

/// The path processor behind the plugin interface.
struct PathProcessor(StackPaths);

impl PathProcess for PathProcessor {
    fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PluginError> {
        self.0
            .path(x, y, z, t)
            .map_err(|e| PluginError::out_of_range(e.to_string()))
    }
}

/// The tile processor behind the plugin interface; reads through the host so that `s3://`
/// locations work wherever the host supports them.
struct TileProcessor {
    tiles: ImageTiles,
    host: HostServices,
}

impl TileProcess for TileProcessor {
    fn tile(
        &self,
        path: &str,
        x: u64,
        y: u64,
        _z: u64,
        _t: u64,
    ) -> Result<TileOutput, PluginError> {
        // z and t chose the file (the path processor's job); within it only x and y matter.
        Ok(self.tiles.tile(&self.host, path, x, y)?)
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Z-stacks of single PNG/TIFF/JPEG images, one file per z slice",
    )
    .path(
        "ZindexStackPathProcessor",
        "root_dir/base_filename.extension with <>, <o:N>, <p:N>, <x>, <y>, <z> placeholders",
        &["ingestclient.plugins.stack.ZindexStackPathProcessor"],
        |params, host| {
            let paths = StackPaths::from_params(params).map_err(params_error)?;
            if let Some(warning) = paths.warning() {
                host.log(
                    LogLevel::Warn,
                    &format!("ZindexStackPathProcessor: {warning}"),
                );
            }
            Ok(PathProcessor(paths))
        },
    )
    .tile(
        "ZindexStackTileProcessor",
        "the tile's window of the slice image: pass-through, crop, pad, optional cast",
        &["ingestclient.plugins.stack.ZindexStackTileProcessor"],
        |params, host| {
            Ok(TileProcessor {
                tiles: ImageTiles::from_params(params).map_err(params_error)?,
                host,
            })
        },
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use boss_ingest_plugin_kit::fixtures::{self, ExtendedColorType};
    use plugin_abi::loader::Library;
    use plugin_abi::{ErrorKind, ImageFormat, LocalFiles, Note, ProcessorKind, TileImage};
    use std::sync::Arc;

    fn library() -> Library {
        Library::from_root_module(root_module())
    }

    fn params(root: &str, base: &str, extra: &str) -> String {
        format!(
            r#"{{"root_dir": "{root}", "extension": "png", "base_filename": "{base}", {extra}
                "filesystem": "local",
                "ingest_job": {{"tile_size": {{"x": 8, "y": 8, "z": 1, "t": 1}},
                "extent": {{"x": [0, 8], "y": [0, 8], "z": [0, 200], "t": [0, 1]}}}}}}"#
        )
    }

    #[test]
    fn classes_answer_to_the_python_names() {
        let lib = library();
        assert_eq!(lib.name(), "stack");
        let classes: Vec<_> = lib
            .classes()
            .iter()
            .map(|c| (c.name.as_str(), c.kind, c.legacy_names.clone()))
            .collect();
        assert_eq!(
            classes,
            vec![
                (
                    "ZindexStackPathProcessor",
                    ProcessorKind::Path,
                    vec!["ingestclient.plugins.stack.ZindexStackPathProcessor".to_string()]
                ),
                (
                    "ZindexStackTileProcessor",
                    ProcessorKind::Tile,
                    vec!["ingestclient.plugins.stack.ZindexStackTileProcessor".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn path_processor_through_the_plugin_interface() {
        let paths = library()
            .path_processor(
                "ZindexStackPathProcessor",
                &params("/data", "<o:3253>_my_stack_section<p:3>", ""),
                Arc::new(LocalFiles),
            )
            .unwrap();
        assert_eq!(
            paths.path(0, 0, 1, 0).unwrap(),
            "/data/3254_my_stack_section001.png"
        );
        let err = paths.path(0, 0, 200, 0).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ErrorKind::OutOfRange, "Z-index out of range")
        );
        let err = paths.path(0, 0, 0, 1).unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (
                ErrorKind::OutOfRange,
                "Z Image Stack only supports non-time series data"
            )
        );
    }

    #[test]
    fn tile_processor_through_the_plugin_interface() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let lib = library();
        let host = Arc::new(LocalFiles);
        let paths = lib
            .path_processor(
                "ZindexStackPathProcessor",
                &params(root, "s<p:2>", ""),
                host.clone(),
            )
            .unwrap();
        let tiles = lib
            .tile_processor(
                "ZindexStackTileProcessor",
                &params(root, "s<p:2>", ""),
                host.clone(),
            )
            .unwrap();

        // z=0: an exact 8×8 uint8 tile passes through byte for byte.
        let png = fixtures::png(8, 8, ExtendedColorType::L8, &[5; 64]);
        std::fs::write(dir.path().join("s00.png"), &png).unwrap();
        let out = tiles
            .tile(&paths.path(0, 0, 0, 0).unwrap(), 0, 0, 0, 0)
            .unwrap();
        assert_eq!(
            out.image,
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: png
            }
        );

        // z=1: missing → NotFound naming the file.
        let missing = paths.path(0, 0, 1, 0).unwrap();
        let err = tiles.tile(&missing, 0, 0, 1, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert!(
            err.message
                .starts_with(&format!("{missing}: file not found;")),
            "{}",
            err.message
        );

        // ... unless fail_gracefully, which gives a black tile and a note.
        let graceful = lib
            .tile_processor(
                "ZindexStackTileProcessor",
                &params(root, "s<p:2>", r#""fail_gracefully": true,"#),
                host.clone(),
            )
            .unwrap();
        let out = graceful.tile(&missing, 0, 0, 1, 0).unwrap();
        assert_eq!(
            out.image,
            TileImage::Raw {
                width: 8,
                height: 8,
                dtype: plugin_abi::Dtype::U8,
                data: vec![0; 64]
            }
        );
        assert_eq!(
            out.notes,
            vec![Note::black_tile(format!(
                "black tile: {missing} is missing (fail_gracefully)"
            ))]
        );

        // z=2: garbage → InvalidImage; z=3: RGB → Dtype.
        std::fs::write(dir.path().join("s02.png"), b"garbage").unwrap();
        let err = tiles
            .tile(&paths.path(0, 0, 2, 0).unwrap(), 0, 0, 2, 0)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidImage);
        let rgb = fixtures::png(8, 8, ExtendedColorType::Rgb8, &[1; 192]);
        std::fs::write(dir.path().join("s03.png"), rgb).unwrap();
        let err = tiles
            .tile(&paths.path(0, 0, 3, 0).unwrap(), 0, 0, 3, 0)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Dtype);
    }

    #[test]
    fn params_errors_are_params_kind() {
        let err = library()
            .tile_processor(
                "ZindexStackTileProcessor",
                &params("/d", "<>", r#""cast": "nope","#),
                Arc::new(LocalFiles),
            )
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Params);
        assert_eq!(
            err.message,
            "param \"cast\": unknown cast \"nope\"; use one of clip_uint8, clip_uint16, \
             scale_uint8, scale_uint16"
        );
    }
}

#[cfg(test)]
mod conformance {
    use boss_ingest_plugin_kit::fixtures::{self, colortype, ExtendedColorType};
    use plugin_abi::conformance::{assert_conforms, Case};
    use plugin_abi::Dtype;
    use serde_json::json;

    #[test]
    fn stack_plugin_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let job = |tile: u32, ext: u32| {
            json!({"tile_size": {"x": tile, "y": tile, "z": 1, "t": 1},
                   "extent": {"x": [0, ext], "y": [0, ext], "z": [0, 3], "t": [0, 1]}})
        };
        // z=0: an exact 16×16 uint8 PNG tile; z=1: a 40×40 uint16 TIFF slice; z=2: a JPEG.
        let png = fixtures::png(16, 16, ExtendedColorType::L8, &[9; 256]);
        std::fs::write(dir.path().join("s0.png"), png).unwrap();
        let tiff = fixtures::tiff::<colortype::Gray16>(40, 40, &[300u16; 1600]);
        std::fs::write(dir.path().join("s1.tif"), tiff).unwrap();
        let jpeg = fixtures::jpeg_gray(16, 16, &[77; 256]);
        std::fs::write(dir.path().join("s2.jpg"), jpeg).unwrap();
        let path = |z: u32, ext: &str| format!("{root}/s{z}.{ext}");
        let tiles = |tile: u32, ext: u32| json!({"filesystem": "local", "extension": "png", "ingest_job": job(tile, ext)});
        assert_conforms(
            super::root_module(),
            &[
                Case::new(
                    "ZindexStackPathProcessor",
                    json!({"root_dir": root, "extension": "png", "base_filename": "s<>",
                           "ingest_job": job(16, 16)}),
                )
                .call("", 0, 0, 0, 0)
                .call("", 3, 2, 2, 0),
                Case::new("ZindexStackTileProcessor", tiles(16, 16))
                    .tile_size(16, 16, Dtype::U8)
                    .call(&path(0, "png"), 0, 0, 0, 0)
                    .call(&path(2, "jpg"), 0, 0, 2, 0),
                Case::new("ZindexStackTileProcessor", tiles(32, 40))
                    .tile_size(32, 32, Dtype::U16)
                    .call(&path(1, "tif"), 0, 0, 1, 0)
                    .call(&path(1, "tif"), 1, 1, 1, 0),
            ],
        );
    }
}
