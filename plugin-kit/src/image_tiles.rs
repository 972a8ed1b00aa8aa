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
use crate::complete::check_complete;
use crate::decode::{decode_tiff_window, decode_window, Conversion, DecodeError, Pixels, Window};
use crate::header::{format_of, sniff, sniff_tiff, Format, Header};
use crate::location::location;
use crate::params::{Params, ParamsError};
use crate::ranged::RangeReader;
use plugin_abi::Dtype;

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
    black_dtype: Dtype,
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
        let black_dtype = p.tile_dtype("datatype", Dtype::U8)?;
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
            // Uploaded unchanged, so nothing else would notice a file cut short.
            check_complete(&bytes, header.format).map_err(|why| invalid(&location, why))?;
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
            check_complete(&bytes, Format::Tiff).map_err(|why| invalid(location, why))?;
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
mod tests;

#[cfg(test)]
mod ranged_tests;
