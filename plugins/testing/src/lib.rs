//! # The testing plugin: processors that need no real data
//!
//! The Python client shipped four processors for tests and scale runs, and configs name them:
//! `ingestclient.plugins.path.TestPathProcessor` (always the bundled test tile),
//! `...path.TestPassThroughPathProcessor` (the empty path), `...tile.TestTileProcessor` (a file's
//! bytes unchanged) and `...tile.TestRandomTileProcessor` (a random uint8 tile). They are here
//! under those names and their short names, plus `PanickingTileProcessor`, which panics on one
//! chosen z so that tests can show a panicking plugin costs a tile, not the run, and
//! `TestPatternChunkProcessor`, volumetric chunks of a known voxel pattern in any dtype and axis
//! order (with switches for wrong shapes, wrong dtypes and missing chunks).
//!
//! Random tiles are a pure function of `(x, y, z, t)` (a SplitMix64 stream seeded from the
//! indices), so a test can recompute what was uploaded; values lie in 1..=253 as in the
//! original, so no pixel is black.
//!
//! # Layout
//! - [`pattern`]: the volumetric test pattern and its chunk processor.
//! - [`random`]: the deterministic random tile.
//! - [`test_tile`]: the bundled test tile and where it is written for readers.

pub mod pattern;
pub mod random;
pub mod test_tile;

use plugin_abi::{
    HostServices, ImageFormat, PathProcess, Plugin, PluginError, TileImage, TileOutput, TileProcess,
};
use serde_json::Value;

/// The library name configs use with `"plugin": "testing"`.
pub const LIBRARY: &str = "testing";

/// `ingest_job.tile_size.{x,y}` from the params the host passes.
fn tile_size(params: &Value) -> Result<(u32, u32), PluginError> {
    let axis = |a: &str| {
        params["ingest_job"]["tile_size"][a]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                PluginError::params(format!(
                    "params lack a positive ingest_job.tile_size.{a} (the host adds the config's \
                     ingest_job section under \"ingest_job\")"
                ))
            })
    };
    Ok((axis("x")?, axis("y")?))
}

/// Always the bundled test tile.
struct TestPath(String);

impl PathProcess for TestPath {
    fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
        Ok(self.0.clone())
    }
}

/// Always "": for tile processors that need no source.
struct PassThroughPath;

impl PathProcess for PassThroughPath {
    fn path(&self, _x: u64, _y: u64, _z: u64, _t: u64) -> Result<String, PluginError> {
        Ok(String::new())
    }
}

/// The file's bytes, unchanged.
struct FileTile(HostServices);

impl TileProcess for FileTile {
    fn tile(
        &self,
        path: &str,
        _x: u64,
        _y: u64,
        _z: u64,
        _t: u64,
    ) -> Result<TileOutput, PluginError> {
        let bytes = self.0.read(path)?;
        let format = format_of(&bytes).ok_or_else(|| {
            PluginError::invalid_image(format!(
                "{path}: not a PNG, TIFF or JPEG image; TestTileProcessor uploads files unchanged, \
                 so they must already be tiles"
            ))
        })?;
        Ok(TileOutput::new(TileImage::Encoded { format, bytes }))
    }
}

/// The format named by a file's magic bytes.
fn format_of(bytes: &[u8]) -> Option<ImageFormat> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        Some(ImageFormat::Tiff)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else {
        None
    }
}

/// A deterministic random uint8 tile of the tile size.
struct RandomTile {
    width: u32,
    height: u32,
}

impl TileProcess for RandomTile {
    fn tile(&self, _path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError> {
        Ok(TileOutput::new(random::tile(
            self.width,
            self.height,
            x,
            y,
            z,
            t,
        )))
    }
}

/// A random tile, except at `panic_at_z`, where it panics.
struct Panicking {
    random: RandomTile,
    panic_at_z: u64,
}

impl TileProcess for Panicking {
    fn tile(&self, path: &str, x: u64, y: u64, z: u64, t: u64) -> Result<TileOutput, PluginError> {
        if z == self.panic_at_z {
            panic!("PanickingTileProcessor: deliberate panic at z={z}");
        }
        self.random.tile(path, x, y, z, t)
    }
}

/// This library's description: its classes and their constructors.
pub fn plugin() -> Plugin {
    Plugin::new(
        LIBRARY,
        "Processors for tests and scale runs: no real data needed",
    )
    .path(
        "TestPathProcessor",
        "always the bundled test tile (a PNG of the tile size)",
        &["ingestclient.plugins.path.TestPathProcessor"],
        |params, _host| {
            let (w, h) = tile_size(params)?;
            Ok(TestPath(test_tile::ensure(w, h)?))
        },
    )
    .path(
        "TestPassThroughPathProcessor",
        "always the empty path, for tile processors that need no source",
        &["ingestclient.plugins.path.TestPassThroughPathProcessor"],
        |_params, _host| Ok(PassThroughPath),
    )
    .tile(
        "TestTileProcessor",
        "the file's bytes unchanged",
        &["ingestclient.plugins.tile.TestTileProcessor"],
        |_params, host| Ok(FileTile(host)),
    )
    .tile(
        "TestRandomTileProcessor",
        "a random uint8 tile of the tile size, the same for the same (x, y, z, t)",
        &["ingestclient.plugins.tile.TestRandomTileProcessor"],
        |params, _host| {
            let (width, height) = tile_size(params)?;
            Ok(RandomTile { width, height })
        },
    )
    .tile(
        "PanickingTileProcessor",
        "a random tile, but panics at z = params.panic_at_z (for testing panic handling)",
        &[],
        |params, _host| {
            let (width, height) = tile_size(params)?;
            let panic_at_z = params["panic_at_z"].as_u64().ok_or_else(|| {
                PluginError::params("PanickingTileProcessor needs an integer param \"panic_at_z\"")
            })?;
            Ok(Panicking {
                random: RandomTile { width, height },
                panic_at_z,
            })
        },
    )
    .path(
        "TestPatternPathProcessor",
        "always the empty path: TestPatternChunkProcessor needs no source",
        &[],
        |_params, _host| Ok(PassThroughPath),
    )
    .chunk(
        "TestPatternChunkProcessor",
        "volumetric chunks of a known voxel pattern (params dtype, order, time_points; \
         wrong_shape_at, wrong_dtype_at, missing_at for bad-input tests)",
        &[],
        |params, _host| pattern::Pattern::new(params),
    )
}

plugin_abi::declare_plugin!(plugin);

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_abi::loader::Library;
    use plugin_abi::{Dtype, ErrorKind, LocalFiles, ProcessorKind};
    use std::sync::Arc;

    fn library() -> Library {
        Library::from_root_module(root_module())
    }

    fn params(extra: &str) -> String {
        format!(
            r#"{{{extra}"ingest_job": {{"tile_size": {{"x": 16, "y": 8, "z": 1, "t": 1}},
                "extent": {{"x": [0, 16], "y": [0, 8], "z": [0, 4], "t": [0, 1]}}}}}}"#
        )
    }

    #[test]
    fn classes_answer_to_the_python_names() {
        let lib = library();
        assert_eq!(lib.name(), "testing");
        let find = |name: &str| {
            lib.classes()
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .clone()
        };
        for (name, kind, legacy) in [
            (
                "TestPathProcessor",
                ProcessorKind::Path,
                "ingestclient.plugins.path.TestPathProcessor",
            ),
            (
                "TestPassThroughPathProcessor",
                ProcessorKind::Path,
                "ingestclient.plugins.path.TestPassThroughPathProcessor",
            ),
            (
                "TestTileProcessor",
                ProcessorKind::Tile,
                "ingestclient.plugins.tile.TestTileProcessor",
            ),
            (
                "TestRandomTileProcessor",
                ProcessorKind::Tile,
                "ingestclient.plugins.tile.TestRandomTileProcessor",
            ),
        ] {
            let c = find(name);
            assert_eq!(c.kind, kind);
            assert_eq!(c.legacy_names, vec![legacy.to_string()]);
        }
        assert!(find("PanickingTileProcessor").legacy_names.is_empty());
    }

    #[test]
    fn test_path_then_test_tile_gives_the_bundled_tile_unchanged() {
        let lib = library();
        let host = Arc::new(LocalFiles);
        let path = lib
            .path_processor("TestPathProcessor", &params(""), host.clone())
            .unwrap()
            .path(3, 2, 1, 0)
            .unwrap();
        let tile = lib
            .tile_processor("TestTileProcessor", &params(""), host)
            .unwrap()
            .tile(&path, 3, 2, 1, 0)
            .unwrap();
        assert_eq!(
            tile.image,
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: test_tile::png(16, 8)
            }
        );
    }

    #[test]
    fn pass_through_path_is_empty_and_random_tiles_are_deterministic() {
        let lib = library();
        let host = Arc::new(LocalFiles);
        let path = lib
            .path_processor("TestPassThroughPathProcessor", &params(""), host.clone())
            .unwrap()
            .path(0, 0, 0, 0)
            .unwrap();
        assert_eq!(path, "");
        let random = lib
            .tile_processor("TestRandomTileProcessor", &params(""), host)
            .unwrap();
        let a = random.tile("", 1, 0, 2, 0).unwrap();
        assert_eq!(a.image, random::tile(16, 8, 1, 0, 2, 0));
        assert!(matches!(
            a.image,
            TileImage::Raw {
                width: 16,
                height: 8,
                dtype: Dtype::U8,
                ..
            }
        ));
        assert_ne!(a.image, random.tile("", 1, 0, 3, 0).unwrap().image);
    }

    #[test]
    fn test_tile_refuses_non_images_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        let text = text.to_str().unwrap();
        let tiles = library()
            .tile_processor("TestTileProcessor", &params(""), Arc::new(LocalFiles))
            .unwrap();
        let err = tiles.tile(text, 0, 0, 0, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidImage);
        assert_eq!(
            err.message,
            format!(
                "{text}: not a PNG, TIFF or JPEG image; TestTileProcessor uploads files \
                 unchanged, so they must already be tiles"
            )
        );
        let missing = dir.path().join("gone.png");
        let err = tiles
            .tile(missing.to_str().unwrap(), 0, 0, 0, 0)
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
    }

    #[test]
    fn panicking_processor_panics_only_at_its_z_and_the_panic_becomes_an_error() {
        let tiles = library()
            .tile_processor(
                "PanickingTileProcessor",
                &params(r#""panic_at_z": 2, "#),
                Arc::new(LocalFiles),
            )
            .unwrap();
        assert!(tiles.tile("", 0, 0, 1, 0).is_ok());
        let err = tiles.tile("", 0, 0, 2, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Panic);
        assert!(
            err.message
                .ends_with("PanickingTileProcessor: deliberate panic at z=2"),
            "{}",
            err.message
        );
        assert!(tiles.tile("", 0, 0, 3, 0).is_ok());
    }

    #[test]
    fn params_errors() {
        let lib = library();
        let err = lib
            .tile_processor("PanickingTileProcessor", &params(""), Arc::new(LocalFiles))
            .err()
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Params);
        assert_eq!(
            err.message,
            "PanickingTileProcessor needs an integer param \"panic_at_z\""
        );
        let err = lib
            .tile_processor("TestRandomTileProcessor", "{}", Arc::new(LocalFiles))
            .err()
            .unwrap();
        assert_eq!(
            err.message,
            "params lack a positive ingest_job.tile_size.x (the host adds the config's \
             ingest_job section under \"ingest_job\")"
        );
    }
}

#[cfg(test)]
mod conformance {
    use plugin_abi::conformance::{assert_conforms, Case};
    use plugin_abi::Dtype;
    use serde_json::json;

    #[test]
    fn testing_plugin_conforms() {
        let job = json!({"ingest_job": {"tile_size": {"x": 24, "y": 16, "z": 1, "t": 1},
            "extent": {"x": [0, 24], "y": [0, 16], "z": [0, 4], "t": [0, 1]}}});
        let tile = crate::test_tile::ensure(24, 16).unwrap();
        let mut panicking = job.clone();
        panicking["panic_at_z"] = json!(3);
        assert_conforms(
            super::root_module(),
            &[
                Case::new("TestPathProcessor", job.clone()).call("", 0, 0, 0, 0),
                Case::new("TestPassThroughPathProcessor", job.clone()).call("", 1, 2, 3, 0),
                Case::new("TestTileProcessor", job.clone())
                    .tile_size(24, 16, Dtype::U8)
                    .call(&tile, 0, 0, 0, 0),
                Case::new("TestRandomTileProcessor", job.clone())
                    .tile_size(24, 16, Dtype::U8)
                    .call("", 0, 0, 0, 0)
                    .call("", 5, 1, 2, 0),
                Case::new("PanickingTileProcessor", panicking)
                    .tile_size(24, 16, Dtype::U8)
                    .call("", 0, 0, 2, 0),
            ],
        );
    }
}
