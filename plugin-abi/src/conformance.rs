//! The conformance kit: checks a plugin's own tests call to see that its classes behave the way
//! boss-ingest relies on. It drives the plugin through its root module, the same path the host
//! takes, so what passes here behaves the same when loaded.
//!
//! ```
//! use plugin_abi::conformance::{assert_conforms, Case};
//! use plugin_abi::{Dtype, Plugin, PluginError, TileImage, TileOutput, TileProcess};
//!
//! /// Tiles of one gray level.
//! struct Gray { size: u32 }
//!
//! impl TileProcess for Gray {
//!     fn tile(&self, _path: &str, _x: u64, _y: u64, _z: u64, _t: u64)
//!         -> Result<TileOutput, PluginError> {
//!         let data = vec![128; (self.size * self.size) as usize];
//!         Ok(TileOutput::new(TileImage::Raw {
//!             width: self.size, height: self.size, dtype: Dtype::U8, data,
//!         }))
//!     }
//! }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("gray", "Gray tiles").tile("GrayTileProcessor", "one gray level", &[],
//!         |params, _host| {
//!             let size = params["ingest_job"]["tile_size"]["x"].as_u64()
//!                 .ok_or_else(|| PluginError::params("no ingest_job.tile_size.x"))?;
//!             Ok(Gray { size: size as u32 })
//!         })
//! }
//! plugin_abi::declare_plugin!(plugin);
//!
//! // In the plugin's tests:
//! let job = serde_json::json!({"ingest_job": {"tile_size": {"x": 4, "y": 4, "z": 1, "t": 1}}});
//! assert_conforms(
//!     root_module(),
//!     &[Case::new("GrayTileProcessor", job).tile_size(4, 4, Dtype::U8).call("", 0, 0, 0, 0)],
//! );
//! ```
//!
//! What it checks:
//! - the class listing: a library name, every class named once, no empty names or descriptions,
//!   no legacy name claimed twice;
//! - every case's class exists;
//! - bad params (`{}`, `null`, `[]`, an `ingest_job` with nothing in it) give an error or a
//!   processor, never a panic;
//! - each call gives the same answer twice (processors must be deterministic: a retried tile
//!   must upload the same bytes);
//! - tiles are valid: encoded ones decode as a single-channel image, raw ones have exactly
//!   `width * height * dtype` bytes, and both match the case's expected size and dtype;
//!   chunks have consistent shape, order, dtype and length.

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::Arc;

use image::{ColorType, ImageReader};

use crate::error::{ErrorKind, PluginError};
use crate::ffi::PluginModuleRef;
use crate::host_services::{HostApi, LocalFiles};
use crate::loader::Library;
use crate::types::{ChunkArray, Dtype, ImageFormat, ProcessorKind, TileImage, TileOutput};

/// One processor class to exercise: its params and the calls to make.
#[derive(Debug, Clone)]
pub struct Case {
    pub class: String,
    /// Valid params, including the `ingest_job` section the host adds.
    pub params: serde_json::Value,
    /// `(path, x, y, z, t)` calls expected to succeed (`path` is ignored by path processors,
    /// `t` by chunk processors).
    pub calls: Vec<(String, u64, u64, u64, u64)>,
    /// For tile processors: the expected tile width, height and dtype.
    pub tile: Option<(u32, u32, Dtype)>,
}

impl Case {
    pub fn new(class: &str, params: serde_json::Value) -> Case {
        Case {
            class: class.to_string(),
            params,
            calls: Vec::new(),
            tile: None,
        }
    }

    /// Adds a call expected to succeed.
    pub fn call(mut self, path: &str, x: u64, y: u64, z: u64, t: u64) -> Case {
        self.calls.push((path.to_string(), x, y, z, t));
        self
    }

    /// Sets the size and dtype every tile must have.
    pub fn tile_size(mut self, width: u32, height: u32, dtype: Dtype) -> Case {
        self.tile = Some((width, height, dtype));
        self
    }
}

/// Runs every check; `Err` lists each failure as one line.
pub fn check_library(root_module: PluginModuleRef, cases: &[Case]) -> Result<(), Vec<String>> {
    check_library_with(root_module, cases, Arc::new(LocalFiles))
}

/// [`check_library`] with the given host services.
pub fn check_library_with(
    root_module: PluginModuleRef,
    cases: &[Case],
    host: Arc<dyn HostApi>,
) -> Result<(), Vec<String>> {
    let library = Library::from_root_module(root_module);
    let mut failures = check_listing(&library);
    for case in cases {
        failures.extend(check_case(&library, case, &host));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// [`check_library`] for `#[test]`s: panics listing every failure.
pub fn assert_conforms(root_module: PluginModuleRef, cases: &[Case]) {
    if let Err(failures) = check_library(root_module, cases) {
        panic!(
            "the plugin does not conform ({} problems):\n- {}",
            failures.len(),
            failures.join("\n- ")
        );
    }
}

fn check_listing(library: &Library) -> Vec<String> {
    let mut failures = Vec::new();
    if library.name().trim().is_empty() {
        failures.push("the library has an empty name".to_string());
    }
    if library.abi_version() != crate::ABI_VERSION {
        failures.push(format!(
            "the library reports plugin-abi {}, but this kit is plugin-abi {}",
            library.abi_version(),
            crate::ABI_VERSION
        ));
    }
    if library.classes().is_empty() {
        failures.push("the library lists no classes".to_string());
    }
    let mut names = HashSet::new();
    let mut legacy = HashSet::new();
    for class in library.classes() {
        if class.name.trim().is_empty() || class.name.contains("::") {
            failures.push(format!(
                "class name {:?} is empty or contains \"::\"",
                class.name
            ));
        }
        if !names.insert(class.name.as_str()) {
            failures.push(format!("class {} is listed twice", class.name));
        }
        if class.description.trim().is_empty() {
            failures.push(format!("class {} has no description", class.name));
        }
        for name in &class.legacy_names {
            if !legacy.insert(name.as_str()) {
                failures.push(format!("legacy name {name} is claimed twice"));
            }
        }
    }
    failures
}

/// A processor of any kind, to call uniformly.
enum Processor {
    Path(crate::loader::PathProcessor),
    Tile(crate::loader::TileProcessor),
    Chunk(crate::loader::ChunkProcessor),
}

#[derive(Debug, PartialEq)]
enum Output {
    Path(String),
    Tile(TileOutput),
    Chunk(ChunkArray),
}

fn construct(
    library: &Library,
    kind: ProcessorKind,
    class: &str,
    params: &str,
    host: &Arc<dyn HostApi>,
) -> Result<Processor, PluginError> {
    match kind {
        ProcessorKind::Path => library
            .path_processor(class, params, host.clone())
            .map(Processor::Path),
        ProcessorKind::Tile => library
            .tile_processor(class, params, host.clone())
            .map(Processor::Tile),
        ProcessorKind::Chunk => library
            .chunk_processor(class, params, host.clone())
            .map(Processor::Chunk),
    }
}

fn call(
    p: &Processor,
    (path, x, y, z, t): &(String, u64, u64, u64, u64),
) -> Result<Output, PluginError> {
    match p {
        Processor::Path(p) => p.path(*x, *y, *z, *t).map(Output::Path),
        Processor::Tile(p) => p.tile(path, *x, *y, *z, *t).map(Output::Tile),
        Processor::Chunk(p) => p.chunk(path, *x, *y, *z).map(Output::Chunk),
    }
}

fn check_case(library: &Library, case: &Case, host: &Arc<dyn HostApi>) -> Vec<String> {
    let class = &case.class;
    let Some(info) = library.classes().iter().find(|c| &c.name == class) else {
        return vec![format!("class {class} is not in the library's class list")];
    };
    let kind = info.kind;
    let mut failures = Vec::new();

    for bad in ["{}", "null", "[]", r#"{"ingest_job": {}}"#] {
        if let Err(e) = construct(library, kind, class, bad, host) {
            if e.kind == ErrorKind::Panic {
                failures.push(format!(
                    "{class} panicked on params {bad} instead of returning an error: {}",
                    e.message
                ));
            }
        }
    }

    let processor = match construct(library, kind, class, &case.params.to_string(), host) {
        Ok(p) => p,
        Err(e) => {
            failures.push(format!("{class} rejected the case's params: {}", e.message));
            return failures;
        }
    };
    for input in &case.calls {
        let at = format!("{class} at {input:?}");
        let first = call(&processor, input);
        let second = call(&processor, input);
        if first != second {
            failures.push(format!("{at}: two calls gave different results"));
        }
        match first {
            Err(e) => failures.push(format!("{at} failed: {}", e.message)),
            Ok(Output::Path(_)) => {}
            Ok(Output::Tile(tile)) => {
                if let Err(problem) = check_tile(&tile.image, case.tile) {
                    failures.push(format!("{at}: {problem}"));
                }
            }
            Ok(Output::Chunk(chunk)) => {
                if let Err(problem) = chunk.validate() {
                    failures.push(format!("{at}: {problem}"));
                }
            }
        }
    }
    failures
}

/// Is `image` a valid single-channel tile of the expected size and dtype?
pub fn check_tile(image: &TileImage, expected: Option<(u32, u32, Dtype)>) -> Result<(), String> {
    let (width, height, dtype) = match image {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => {
            let needed = *width as u64 * *height as u64 * dtype.size() as u64;
            if data.len() as u64 != needed {
                return Err(format!(
                    "raw {width}×{height} {dtype} tile needs {needed} bytes but has {}",
                    data.len()
                ));
            }
            (*width, *height, *dtype)
        }
        TileImage::Encoded { format, bytes } => decode_info(*format, bytes)?,
    };
    // What the host uploads: single-channel uint8, uint16 or uint64 (the Boss has no uint32
    // channel).
    if dtype == Dtype::U32 {
        return Err(format!(
            "the {width}×{height} tile is uint32, which the Boss does not store; cast it to \
             uint16 or uint64"
        ));
    }
    if let Some((w, h, d)) = expected {
        if (width, height) != (w, h) {
            return Err(format!("expected a {w}×{h} tile, got {width}×{height}"));
        }
        if dtype != d {
            return Err(format!("expected a {d} tile, got {dtype}"));
        }
    }
    Ok(())
}

fn decode_info(format: ImageFormat, bytes: &[u8]) -> Result<(u32, u32, Dtype), String> {
    if format == ImageFormat::Tiff {
        return tiff_info(bytes);
    }
    let image_format = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
    };
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(image_format);
    let decoded = reader
        .decode()
        .map_err(|e| format!("the {format} tile does not decode: {e}"))?;
    let dtype = match decoded.color() {
        ColorType::L8 => Dtype::U8,
        ColorType::L16 => Dtype::U16,
        other => {
            return Err(format!(
                "the {format} tile is {other:?}, not a single-channel 8- or 16-bit image"
            ))
        }
    };
    Ok((decoded.width(), decoded.height(), dtype))
}

/// A TIFF tile read with the `tiff` decoder, which (unlike `image`) knows 64-bit gray.
fn tiff_info(bytes: &[u8]) -> Result<(u32, u32, Dtype), String> {
    use tiff::decoder::{Decoder, DecodingResult};
    let mut decoder = Decoder::new(Cursor::new(bytes))
        .map_err(|e| format!("the TIFF tile does not decode: {e}"))?;
    let (width, height) = decoder
        .dimensions()
        .map_err(|e| format!("the TIFF tile does not decode: {e}"))?;
    let color = decoder
        .colortype()
        .map_err(|e| format!("the TIFF tile does not decode: {e}"))?;
    let pixels = decoder
        .read_image()
        .map_err(|e| format!("the TIFF tile does not decode: {e}"))?;
    let dtype = match (color, pixels) {
        (tiff::ColorType::Gray(8), DecodingResult::U8(_)) => Dtype::U8,
        (tiff::ColorType::Gray(16), DecodingResult::U16(_)) => Dtype::U16,
        (tiff::ColorType::Gray(32), DecodingResult::U32(_)) => Dtype::U32,
        (tiff::ColorType::Gray(64), DecodingResult::U64(_)) => Dtype::U64,
        (other, _) => {
            return Err(format!(
                "the TIFF tile is {other:?}, not a single-channel unsigned 8-, 16- or 64-bit image"
            ))
        }
    };
    Ok((width, height, dtype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PathProcess, Plugin, TileOutput, TileProcess};

    struct Counter(std::sync::atomic::AtomicU64);
    impl PathProcess for Counter {
        fn path(&self, _: u64, _: u64, _: u64, _: u64) -> Result<String, PluginError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(format!("/data/{n}.png"))
        }
    }

    struct Tiles(u32);
    impl TileProcess for Tiles {
        fn tile(&self, _: &str, _: u64, _: u64, _: u64, _: u64) -> Result<TileOutput, PluginError> {
            Ok(TileOutput::new(TileImage::Raw {
                width: self.0,
                height: 2,
                dtype: Dtype::U8,
                data: vec![7; 2 * self.0 as usize],
            }))
        }
    }

    fn plugin() -> Plugin {
        Plugin::new("kit-test", "conformance kit test")
            .path("Counter", "not deterministic", &[], |_, _| {
                Ok(Counter(Default::default()))
            })
            .tile("Tiles", "raw tiles", &["a.b.Tiles"], |params, _| {
                // The kit must report this panic, with this line in its location.
                let w = params["width"].as_u64().expect("width is required");
                Ok(Tiles(w as u32))
            })
            .tile("Tiles", "listed twice", &["a.b.Tiles"], |_, _| Ok(Tiles(1)))
    }
    crate::declare_plugin!(plugin);

    /// Where `plugin()`'s "Tiles" constructor panics (see its comment).
    fn panic_location() -> String {
        let source = include_str!("conformance.rs");
        let line = source
            .lines()
            .position(|l| l.contains(r#"expect("width is required")"#))
            .expect("the constructor's panic line is in this file")
            + 1;
        format!("plugin-abi/src/conformance.rs:{line}:50")
    }

    #[test]
    fn the_kit_finds_each_kind_of_problem() {
        let failures = check_library(
            root_module(),
            &[
                Case::new("Counter", serde_json::json!({})).call("", 0, 0, 0, 0),
                Case::new("Tiles", serde_json::json!({"width": 3}))
                    .tile_size(4, 2, Dtype::U8)
                    .call("", 0, 0, 0, 0),
                Case::new("Missing", serde_json::json!({})),
            ],
        )
        .unwrap_err();
        let at = panic_location();
        assert_eq!(
            failures,
            vec![
                "class Tiles is listed twice".to_string(),
                "legacy name a.b.Tiles is claimed twice".to_string(),
                "Counter at (\"\", 0, 0, 0, 0): two calls gave different results".to_string(),
                format!("Tiles panicked on params {{}} instead of returning an error: panicked at {at}: width is required"),
                format!("Tiles panicked on params null instead of returning an error: panicked at {at}: width is required"),
                format!("Tiles panicked on params [] instead of returning an error: panicked at {at}: width is required"),
                format!("Tiles panicked on params {{\"ingest_job\": {{}}}} instead of returning an error: panicked at {at}: width is required"),
                "Tiles at (\"\", 0, 0, 0, 0): expected a 4×2 tile, got 3×2".to_string(),
                "class Missing is not in the library's class list".to_string(),
            ]
        );
    }

    #[test]
    fn encoded_tiles_are_decoded_and_checked() {
        let mut png = Vec::new();
        image::GrayImage::new(5, 3)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let tile = TileImage::Encoded {
            format: ImageFormat::Png,
            bytes: png,
        };
        assert_eq!(check_tile(&tile, Some((5, 3, Dtype::U8))), Ok(()));
        assert_eq!(
            check_tile(&tile, Some((5, 3, Dtype::U16))),
            Err("expected a uint16 tile, got uint8".to_string())
        );
        let mut rgb = Vec::new();
        image::RgbImage::new(2, 2)
            .write_to(&mut Cursor::new(&mut rgb), image::ImageFormat::Png)
            .unwrap();
        let rgb = TileImage::Encoded {
            format: ImageFormat::Png,
            bytes: rgb,
        };
        assert_eq!(
            check_tile(&rgb, None),
            Err("the png tile is Rgb8, not a single-channel 8- or 16-bit image".to_string())
        );
    }

    #[test]
    fn the_kit_certifies_what_the_host_uploads() {
        // uint64 TIFF tiles are Boss tiles (label channels); `image` cannot decode them.
        let mut tiff = Vec::new();
        tiff::encoder::TiffEncoder::new(Cursor::new(&mut tiff))
            .unwrap()
            .write_image::<tiff::encoder::colortype::Gray64>(3, 2, &[u64::MAX; 6])
            .unwrap();
        let wide = TileImage::Encoded {
            format: ImageFormat::Tiff,
            bytes: tiff,
        };
        assert_eq!(check_tile(&wide, Some((3, 2, Dtype::U64))), Ok(()));
        // The Boss stores no uint32: the host refuses such tiles, and so does the kit.
        let raw32 = TileImage::Raw {
            width: 2,
            height: 1,
            dtype: Dtype::U32,
            data: vec![0; 8],
        };
        assert_eq!(
            check_tile(&raw32, None),
            Err(
                "the 2×1 tile is uint32, which the Boss does not store; cast it to uint16 or \
                 uint64"
                    .to_string()
            )
        );
    }
}
