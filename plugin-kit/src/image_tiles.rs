//! Tile `(x, y)` cut out of one image file: what the stack plugin's `ZindexStackTileProcessor`
//! does with a slice, and what the CATMAID tile processors do with files that each hold one tile.
//!
//! It lives in the kit because both plugins make tiles this way and neither should depend on the
//! other. The decision per tile, cheapest first:
//! 1. read the file through the host (local path or `s3://bucket/key`); large local TIFFs are
//!    read in byte ranges instead, so a tile costs only its strips;
//! 2. read its header only;
//! 3. check the slice covers the job's extent inside the tile (a too-small slice is an error
//!    naming both sizes, not silent black padding);
//! 4. if it already is an acceptable tile — exactly the tile size, tile (0, 0), gray
//!    uint8/16/64, PNG/TIFF/JPEG — hand its bytes on untouched (unless `reencode` is set);
//! 5. otherwise decode just the tile's window (cropped, zero-padded at the edges), converting
//!    with the user's cast policy if the pixel type is not one the Boss stores.
//!
//! Params (besides the host-added `ingest_job`):
//! - `filesystem`: `local` (default), `s3` or `s3_copy` (the same for us: read `s3://bucket/path`);
//! - `bucket`: the S3 bucket, required for `s3`/`s3_copy` (the path is then the object key);
//! - `extension`: the format is read from the file itself; `tif`/`tiff` on the local
//!   filesystem lets large slices be read in byte ranges (only the strips a tile needs);
//! - `fail_gracefully` (default false): a missing file gives a black tile, reported as a note;
//! - `datatype` (`uint8` default, `uint16`, `uint64`): the dtype of such black tiles (the host
//!   also turns an all-zero tile into the channel's dtype when it knows it);
//! - `cast`: the policy for other pixel types, see [`crate::cast`]; without it they are refused;
//! - `reencode` (default false): always decode and hand raw pixels to the host to encode, even
//!   when the file could pass through (for benchmarks and for sources whose encoding the Boss
//!   should not receive as-is).

use std::io::{Read, Seek, SeekFrom};

use plugin_abi::{ErrorKind, HostServices, ImageFormat, Note, PluginError, TileImage, TileOutput};
use serde_json::Value;

use crate::cast::{Cast, CAST_VALUES};
use crate::decode::{decode_tiff_window, decode_window, Conversion, DecodeError, Pixels, Window};
use crate::header::{format_of, sniff, sniff_tiff, Format, Header, TileDtype};
use crate::location::location;
use crate::params::{Params, ParamsError};
use crate::ranged::RangeReader;

/// Local TIFF files at least this large are read in byte ranges (only the strips a tile needs);
/// smaller ones are read whole, which is one call instead of several.
const RANGED_MIN_SIZE: u64 = 4 * crate::ranged::BLOCK;

/// A configured image-file tile processor.
#[derive(Debug, Clone)]
pub struct ImageTiles {
    bucket: Option<String>,
    tile_size: (u32, u32),
    /// `[0, stop)` of x and y the job covers: the part of a window an image must cover.
    extent_stop: (u64, u64),
    fail_gracefully: bool,
    black_dtype: TileDtype,
    cast: Option<Cast>,
    reencode: bool,
    /// Local `.tif`/`.tiff` slices: read only the byte ranges a tile needs (see [`RangeReader`]).
    ranged_tiff: bool,
}

/// Why a tile could not be made. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("{location}: file not found; check root_dir and base_filename, or set \"fail_gracefully\": true to upload black tiles for missing slices")]
    NotFound { location: String },
    /// Any other failure of the host's read, whose message already names the location.
    #[error("{0}")]
    Read(PluginError),
    #[error("{location}: unreadable image: {reason}")]
    InvalidImage { location: String, reason: String },
    #[error("{location}: pixel type {dtype} is not one the Boss stores (uint8, uint16, uint64 gray); convert the files, or set \"cast\" in the tile processor's params to one of {CAST_VALUES}")]
    Dtype { location: String, dtype: String },
    /// A pixel layout no cast handles (sub-byte TIFF samples, separate colour planes, ...).
    #[error("{location}: cannot convert {reason}")]
    Unsupported { location: String, reason: String },
    #[error("{location}: image is {width}×{height}, but tile (x={x}, y={y}) needs at least {need_w}×{need_h}")]
    TooSmall {
        location: String,
        width: u32,
        height: u32,
        x: u64,
        y: u64,
        need_w: u64,
        need_h: u64,
    },
}

impl ImageTiles {
    pub fn from_params(params: &Value) -> Result<ImageTiles, ParamsError> {
        let p = Params::new(params)?;
        let bucket = p.source_bucket()?.map(str::to_string);
        let black_dtype = p.tile_dtype("datatype", TileDtype::U8)?;
        let cast = p.cast()?;
        // Over S3 one whole-object GET beats several range GETs; locally, ranges skip work.
        let extension = p.opt_string("extension")?.unwrap_or("");
        let bucket_is_none_and_tiff = bucket.is_none()
            && (extension.eq_ignore_ascii_case("tif") || extension.eq_ignore_ascii_case("tiff"));
        let (_, x_stop) = p.extent("x")?;
        let (_, y_stop) = p.extent("y")?;
        Ok(ImageTiles {
            bucket,
            tile_size: p.tile_size()?,
            extent_stop: (x_stop, y_stop),
            fail_gracefully: p.bool("fail_gracefully", false)?,
            black_dtype,
            cast,
            reencode: p.bool("reencode", false)?,
            ranged_tiff: bucket_is_none_and_tiff,
        })
    }

    /// Where the host should read `path` from: the path itself, or `s3://bucket/key`.
    pub fn location(&self, path: &str) -> String {
        location(self.bucket.as_deref(), path)
    }

    /// Makes tile `(x, y)` of the slice at `path`, reading through `read`.
    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        x: u64,
        y: u64,
    ) -> Result<TileOutput, TileError> {
        let location = self.location(path);
        if self.ranged_tiff {
            let size = match host.size(&location) {
                Ok(size) => size,
                Err(e) => return self.unreadable(e, location),
            };
            if size >= RANGED_MIN_SIZE {
                let fetch = |offset: u64, len: u64| host.read_range(&location, offset, len);
                let mut reader = RangeReader::new(&fetch, size);
                let mut magic = [0u8; 4];
                let is_tiff = reader.read_exact(&mut magic).is_ok()
                    && format_of(&magic) == Some(Format::Tiff)
                    && reader.seek(SeekFrom::Start(0)).is_ok();
                if is_tiff {
                    return self.tiff_tile(host, reader, &location, x, y);
                }
            }
        }
        let bytes = match host.read(&location) {
            Ok(bytes) => bytes,
            Err(e) => return self.unreadable(e, location),
        };
        let header = sniff(&bytes).map_err(|e| invalid(&location, e.to_string()))?;
        let plan = self.plan(&header, &location, x, y)?;
        if plan.pass_through {
            return Ok(TileOutput {
                image: TileImage::Encoded {
                    bytes,
                    format: header.format.into(),
                },
                notes: plan.notes,
            });
        }
        let pixels = decode_window(&bytes, &header, plan.window, plan.conversion)
            .map_err(|e| decode_error(&location, e))?;
        Ok(TileOutput {
            image: pixels.into(),
            notes: plan.notes,
        })
    }

    /// A large local TIFF: read the header and the window's strips through byte ranges.
    fn tiff_tile(
        &self,
        host: &HostServices,
        mut reader: RangeReader<'_>,
        location: &str,
        x: u64,
        y: u64,
    ) -> Result<TileOutput, TileError> {
        let header = match sniff_tiff(&mut reader) {
            Ok(header) => header,
            Err(e) => {
                return Err(match reader.take_failure() {
                    Some(host_error) => TileError::Read(host_error),
                    None => invalid(location, e.to_string()),
                })
            }
        };
        let plan = self.plan(&header, location, x, y)?;
        if plan.pass_through {
            let bytes = host.read(location).map_err(TileError::Read)?;
            return Ok(TileOutput {
                image: TileImage::Encoded {
                    bytes,
                    format: ImageFormat::Tiff,
                },
                notes: plan.notes,
            });
        }
        let pixels = decode_tiff_window(&mut reader, &header, plan.window, plan.conversion)
            .map_err(|e| match reader.take_failure() {
                Some(host_error) => TileError::Read(host_error),
                None => decode_error(location, e),
            })?;
        Ok(TileOutput {
            image: pixels.into(),
            notes: plan.notes,
        })
    }

    /// A failed read: a black tile if the file is missing and the user allows it, else an error.
    fn unreadable(&self, e: PluginError, location: String) -> Result<TileOutput, TileError> {
        match e.kind {
            ErrorKind::NotFound if self.fail_gracefully => {
                let (tw, th) = self.tile_size;
                Ok(TileOutput {
                    image: Pixels::zeros(tw, th, self.black_dtype).into(),
                    notes: vec![Note::black_tile(format!(
                        "black tile: {location} is missing (fail_gracefully)"
                    ))],
                })
            }
            ErrorKind::NotFound => Err(TileError::NotFound { location }),
            _ => Err(TileError::Read(e)),
        }
    }

    /// Everything decided from the header: size check, conversion, pass-through, notes.
    fn plan(&self, header: &Header, location: &str, x: u64, y: u64) -> Result<Plan, TileError> {
        let (tw, th) = self.tile_size;
        let window = Window {
            x0: u64::from(tw) * x,
            y0: u64::from(th) * y,
            width: tw,
            height: th,
        };
        // The image must reach as far as the job's extent does inside this window; a slice that
        // is too small would otherwise be padded with black without a word.
        let need_w = (window.x0 + u64::from(tw)).min(self.extent_stop.0);
        let need_h = (window.y0 + u64::from(th)).min(self.extent_stop.1);
        if u64::from(header.width) < need_w || u64::from(header.height) < need_h {
            return Err(TileError::TooSmall {
                location: location.to_string(),
                width: header.width,
                height: header.height,
                x,
                y,
                need_w,
                need_h,
            });
        }
        let mut notes = Vec::new();
        let conversion = match (header.tile_dtype(), self.cast) {
            (Some(dtype), _) => Conversion::Exact(dtype),
            (None, Some(cast)) => {
                notes.push(Note::cast(format!(
                    "cast: {location} is {}, converted with {cast}",
                    header.dtype_description()
                )));
                Conversion::Cast(cast)
            }
            (None, None) => {
                return Err(TileError::Dtype {
                    location: location.to_string(),
                    dtype: header.dtype_description(),
                })
            }
        };
        let whole_image = x == 0 && y == 0 && header.width == tw && header.height == th;
        let pass_through =
            whole_image && !self.reencode && matches!(conversion, Conversion::Exact(_));
        if !window.meets(header.width, header.height) {
            notes.push(Note::black_tile(format!(
                "black tile: tile (x={x}, y={y}) lies outside the {}×{} image {location}",
                header.width, header.height
            )));
        }
        Ok(Plan {
            window,
            conversion,
            pass_through,
            notes,
        })
    }
}

/// What to do with one tile's source, decided from its header.
struct Plan {
    window: Window,
    conversion: Conversion,
    pass_through: bool,
    notes: Vec<Note>,
}

fn invalid(location: &str, reason: String) -> TileError {
    TileError::InvalidImage {
        location: location.to_string(),
        reason,
    }
}

fn decode_error(location: &str, e: DecodeError) -> TileError {
    match e {
        DecodeError::Corrupt(reason) => invalid(location, reason),
        DecodeError::Unsupported(reason) => TileError::Unsupported {
            location: location.to_string(),
            reason,
        },
    }
}

impl From<TileError> for PluginError {
    fn from(e: TileError) -> PluginError {
        let message = e.to_string();
        match e {
            TileError::NotFound { .. } => PluginError::not_found(message),
            TileError::Read(e) => e,
            TileError::InvalidImage { .. } | TileError::TooSmall { .. } => {
                PluginError::invalid_image(message)
            }
            TileError::Dtype { .. } | TileError::Unsupported { .. } => PluginError::dtype(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::png;
    use image::ExtendedColorType;
    use plugin_abi::Dtype;
    use serde_json::json;
    use std::io::Cursor;
    use tiff::encoder::{colortype, TiffEncoder};

    fn tiles(extra: Value, tile: u32, extent: u64) -> ImageTiles {
        tiles_xy(extra, tile, (extent, extent))
    }

    fn tiles_xy(extra: Value, tile: u32, (ex, ey): (u64, u64)) -> ImageTiles {
        let mut params = json!({
            "filesystem": "local", "extension": "png",
            "ingest_job": {"tile_size": {"x": tile, "y": tile, "z": 1, "t": 1},
                           "extent": {"x": [0, ex], "y": [0, ey], "z": [0, 4], "t": [0, 1]}}
        });
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        ImageTiles::from_params(&params).unwrap()
    }

    fn local() -> HostServices {
        HostServices::local()
    }

    fn pattern(x: u32, y: u32) -> u8 {
        (x * 3 + y * 5) as u8
    }

    fn write_u8_png(dir: &std::path::Path, name: &str, w: u32, h: u32) -> String {
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| pattern(x, y)))
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, png(w, h, ExtendedColorType::L8, &data)).unwrap();
        path.to_str().unwrap().to_string()
    }

    fn raw(outcome: TileOutput) -> Pixels {
        match outcome.image {
            TileImage::Raw {
                width,
                height,
                dtype,
                data,
            } => Pixels {
                width,
                height,
                dtype: match dtype {
                    Dtype::U8 => TileDtype::U8,
                    Dtype::U16 => TileDtype::U16,
                    Dtype::U64 => TileDtype::U64,
                    Dtype::U32 => panic!("the stack plugin never makes uint32 tiles"),
                },
                data,
            },
            other => panic!("expected raw pixels, got {other:?}"),
        }
    }

    #[test]
    fn exact_tile_passes_through_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_u8_png(dir.path(), "s.png", 16, 16);
        let out = tiles(json!({}), 16, 16)
            .tile(&local(), &path, 0, 0)
            .unwrap();
        assert_eq!(
            out.image,
            TileImage::Encoded {
                bytes: std::fs::read(&path).unwrap(),
                format: ImageFormat::Png
            }
        );
        assert!(out.notes.is_empty());
    }

    #[test]
    fn reencode_decodes_even_an_exact_tile() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_u8_png(dir.path(), "s.png", 16, 16);
        let p = raw(tiles(json!({"reencode": true}), 16, 16)
            .tile(&local(), &path, 0, 0)
            .unwrap());
        let want: Vec<u8> = (0..16)
            .flat_map(|y| (0..16).map(move |x| pattern(x, y)))
            .collect();
        assert_eq!((p.width, p.height, p.dtype), (16, 16, TileDtype::U8));
        assert_eq!(p.data, want);
    }

    #[test]
    fn larger_image_is_cropped_and_edges_padded() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_u8_png(dir.path(), "s.png", 24, 20);
        let t = tiles_xy(json!({}), 16, (24, 20));
        for (x, y) in [(0u32, 0u32), (1, 0), (0, 1), (1, 1)] {
            let p = raw(t.tile(&local(), &path, x.into(), y.into()).unwrap());
            for ty in 0..16 {
                for tx in 0..16 {
                    let (ix, iy) = (16 * x + tx, 16 * y + ty);
                    let want = if ix < 24 && iy < 20 {
                        pattern(ix, iy)
                    } else {
                        0
                    };
                    assert_eq!(
                        p.data[(ty * 16 + tx) as usize],
                        want,
                        "tile ({x},{y}) at ({tx},{ty})"
                    );
                }
            }
        }
    }

    #[test]
    fn u16_tiff_tile_keeps_its_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.tif");
        let data: Vec<u16> = (0..40u32)
            .flat_map(|y| (0..40u32).map(move |x| (x * 1000 + y) as u16))
            .collect();
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray16>(40, 40, &data)
            .unwrap();
        std::fs::write(&path, out.into_inner()).unwrap();
        let p = raw(tiles(json!({}), 32, 40)
            .tile(&local(), path.to_str().unwrap(), 1, 1)
            .unwrap());
        assert_eq!((p.width, p.height, p.dtype), (32, 32, TileDtype::U16));
        let at = |tx: usize, ty: usize| {
            u16::from_le_bytes([p.data[2 * (ty * 32 + tx)], p.data[2 * (ty * 32 + tx) + 1]])
        };
        assert_eq!(at(0, 0), 32 * 1000 + 32);
        assert_eq!(at(7, 7), 39 * 1000 + 39);
        assert_eq!(at(8, 0), 0);
        assert_eq!(at(0, 8), 0);
    }

    #[test]
    fn missing_file_with_and_without_fail_gracefully() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gone.png");
        let path = path.to_str().unwrap();
        let out = tiles(
            json!({"fail_gracefully": true, "datatype": "uint16"}),
            16,
            16,
        )
        .tile(&local(), path, 0, 0)
        .unwrap();
        assert_eq!(
            out.notes,
            vec![Note::black_tile(format!(
                "black tile: {path} is missing (fail_gracefully)"
            ))]
        );
        assert_eq!(raw(out), Pixels::zeros(16, 16, TileDtype::U16));

        let err = tiles(json!({}), 16, 16)
            .tile(&local(), path, 0, 0)
            .unwrap_err();
        assert_eq!(
            err,
            TileError::NotFound {
                location: path.to_string()
            }
        );
        assert_eq!(
            err.to_string(),
            format!("{path}: file not found; check root_dir and base_filename, or set \"fail_gracefully\": true to upload black tiles for missing slices")
        );
    }

    #[test]
    fn corrupt_file_is_invalid_image_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.png");
        std::fs::write(&path, b"not an image at all").unwrap();
        let path = path.to_str().unwrap();
        let err = tiles(json!({}), 16, 16)
            .tile(&local(), path, 0, 0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{path}: unreadable image: not a PNG, TIFF or JPEG image (starts with bytes 6e 6f 74 20 61 6e 20 69)")
        );
        // A valid header over truncated data fails when decoded.
        let good = std::fs::read(write_u8_png(dir.path(), "big.png", 64, 64)).unwrap();
        std::fs::write(dir.path().join("cut.png"), &good[..good.len() / 2]).unwrap();
        let cut = dir.path().join("cut.png");
        let err = tiles(json!({}), 32, 64)
            .tile(&local(), cut.to_str().unwrap(), 1, 1)
            .unwrap_err();
        assert!(matches!(err, TileError::InvalidImage { .. }), "{err:?}");
    }

    #[test]
    fn rgb_and_int32_need_a_cast() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = dir.path().join("rgb.png");
        std::fs::write(
            &rgb,
            png(16, 16, ExtendedColorType::Rgb8, &[200; 16 * 16 * 3]),
        )
        .unwrap();
        let rgb = rgb.to_str().unwrap();
        let err = tiles(json!({}), 16, 16)
            .tile(&local(), rgb, 0, 0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{rgb}: pixel type RGB uint8 is not one the Boss stores (uint8, uint16, uint64 gray); convert the files, or set \"cast\" in the tile processor's params to one of clip_uint8, clip_uint16, scale_uint8, scale_uint16")
        );
        let out = tiles(json!({"cast": "clip_uint8"}), 16, 16)
            .tile(&local(), rgb, 0, 0)
            .unwrap();
        assert_eq!(
            out.notes,
            vec![Note::cast(format!(
                "cast: {rgb} is RGB uint8, converted with clip_uint8"
            ))]
        );
        assert_eq!(raw(out).data, vec![200; 256]);

        let i32_path = dir.path().join("i32.tif");
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::GrayI32>(16, 16, &[70_000; 256])
            .unwrap();
        std::fs::write(&i32_path, out.into_inner()).unwrap();
        let i32_path = i32_path.to_str().unwrap();
        let err = tiles(json!({}), 16, 16)
            .tile(&local(), i32_path, 0, 0)
            .unwrap_err();
        assert!(
            matches!(&err, TileError::Dtype { location, dtype } if location == i32_path && dtype == "int32")
        );
        let p = raw(tiles(json!({"cast": "clip_uint16"}), 16, 16)
            .tile(&local(), i32_path, 0, 0)
            .unwrap());
        assert_eq!(p.dtype, TileDtype::U16);
        assert!(p.data.chunks(2).all(|s| s == [0xFF, 0xFF]));
    }

    #[test]
    fn unconvertible_layouts_are_dtype_errors_without_a_cast_hint() {
        let err = decode_error(
            "/d/s.tif",
            DecodeError::Unsupported(
                "1-bit TIFF samples (convert the files to 8 or 16 bits)".into(),
            ),
        );
        assert_eq!(
            err.to_string(),
            "/d/s.tif: cannot convert 1-bit TIFF samples (convert the files to 8 or 16 bits)"
        );
        assert_eq!(PluginError::from(err).kind, ErrorKind::Dtype);
    }

    #[test]
    fn slice_smaller_than_the_extent_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_u8_png(dir.path(), "small.png", 30, 32);
        let err = tiles(json!({}), 16, 32)
            .tile(&local(), &path, 1, 0)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{path}: image is 30×32, but tile (x=1, y=0) needs at least 32×16")
        );
    }

    #[test]
    fn s3_locations_and_params_errors() {
        let t = tiles(json!({"filesystem": "s3", "bucket": "lab-data"}), 16, 16);
        assert_eq!(t.location("/stack/001.png"), "s3://lab-data/stack/001.png");
        assert_eq!(t.location("stack/001.png"), "s3://lab-data/stack/001.png");
        let err = ImageTiles::from_params(&json!({"filesystem": "s3",
            "ingest_job": {"tile_size": {"x": 1, "y": 1}, "extent": {"x": [0, 1], "y": [0, 1]}}}))
        .unwrap_err();
        assert_eq!(
            err.0,
            "missing param \"bucket\" (the S3 bucket holding the source files)"
        );
        let err = ImageTiles::from_params(&json!({"cast": "float",
            "ingest_job": {"tile_size": {"x": 1, "y": 1}, "extent": {"x": [0, 1], "y": [0, 1]}}}))
        .unwrap_err();
        assert_eq!(
            err.0,
            "param \"cast\": unknown cast \"float\"; use one of clip_uint8, clip_uint16, scale_uint8, scale_uint16"
        );
    }
}

#[cfg(test)]
mod ranged_tests {
    use super::*;
    use plugin_abi::{Dtype, HostApi, LocalFiles, LogLevel};
    use serde_json::json;
    use std::io::Cursor;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use tiff::encoder::{colortype, TiffEncoder};

    /// Local files, counting the bytes handed out.
    #[derive(Default)]
    struct Counting {
        bytes: AtomicU64,
        whole_reads: AtomicU64,
    }

    impl HostApi for Counting {
        fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
            let b = LocalFiles.read(location)?;
            self.whole_reads.fetch_add(1, Ordering::Relaxed);
            self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b)
        }
        fn read_range(&self, location: &str, off: u64, len: u64) -> Result<Vec<u8>, PluginError> {
            let b = LocalFiles.read_range(location, off, len)?;
            self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
            Ok(b)
        }
        fn size(&self, location: &str) -> Result<u64, PluginError> {
            LocalFiles.size(location)
        }
        fn log(&self, _: LogLevel, _: &str) {}
    }

    #[test]
    fn large_local_tiff_is_cropped_from_byte_ranges() {
        let (w, h, tile) = (1600u32, 1600u32, 1024u32);
        let value = |x: u32, y: u32| (x.wrapping_mul(31) ^ y.wrapping_mul(17)) as u16;
        let data: Vec<u16> = (0..h)
            .flat_map(|y| (0..w).map(move |x| value(x, y)))
            .collect();
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray16>(w, h, &data)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.tif");
        let file_len = out.get_ref().len() as u64;
        std::fs::write(&path, out.into_inner()).unwrap();
        assert!(file_len >= RANGED_MIN_SIZE);

        let params = json!({"extension": "tif", "ingest_job": {
            "tile_size": {"x": tile, "y": tile}, "extent": {"x": [0, w], "y": [0, h]}}});
        let tiles = ImageTiles::from_params(&params).unwrap();
        let counting = Arc::new(Counting::default());
        let host = HostServices::new(counting.clone());
        let out = tiles.tile(&host, path.to_str().unwrap(), 1, 1).unwrap();
        let TileImage::Raw {
            width,
            height,
            dtype,
            data: got,
        } = out.image
        else {
            panic!("expected raw pixels");
        };
        assert_eq!((width, height, dtype), (tile, tile, Dtype::U16));
        for ty in 0..tile {
            for tx in 0..tile {
                let (x, y) = (tile + tx, tile + ty);
                let want = if x < w && y < h { value(x, y) } else { 0 };
                let i = 2 * (ty * tile + tx) as usize;
                assert_eq!(u16::from_le_bytes([got[i], got[i + 1]]), want, "({x},{y})");
            }
        }
        // Only the rows from y=1024 on were fetched (plus the directory), never the whole file.
        assert_eq!(counting.whole_reads.load(Ordering::Relaxed), 0);
        let fetched = counting.bytes.load(Ordering::Relaxed);
        assert!(
            fetched < file_len * 2 / 3,
            "fetched {fetched} of {file_len} bytes"
        );
    }
}
