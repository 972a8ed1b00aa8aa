//! What a tile processor returned → the bytes to upload, and what an encoded tile is.
//!
//! Processors hand back either a finished image file (uploaded byte for byte) or raw pixels,
//! which are encoded here as PNG with the fastest settings that still compress (fdeflate's fast
//! mode, the Sub filter: about 4× faster than adaptive filtering for ~1 % more bytes); uint64
//! tiles, which PNG cannot hold, become uncompressed TIFF. Both `check` and the upload engine
//! verify a tile's size and dtype before it leaves, from its header only: the header reader is
//! the plugin kit's, which the plugins use to decide on pass-through, so the two always agree.

use std::fmt;

use boss_ingest_plugin_kit::header::{self, Header};
use plugin_abi::{Dtype, ImageFormat, TileImage};

/// What a tile is, as far as the Boss cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileInfo {
    /// `None` for raw pixels (not encoded yet).
    pub format: Option<ImageFormat>,
    pub width: u32,
    pub height: u32,
    /// Samples per pixel.
    pub channels: u16,
    /// The tile's dtype, if it is single-channel gray of a type the Boss stores.
    pub dtype: Option<Dtype>,
    /// The pixel type in words, for messages: `uint16`, `RGB uint8`, `int32`.
    pub pixel_type: String,
}

/// What a job expects of every tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub width: u32,
    pub height: u32,
    /// The channel's dtype, when known (`None` accepts any Boss dtype).
    pub dtype: Option<Dtype>,
}

/// Why a tile cannot be uploaded. Messages name expected and actual values; callers add which
/// tile and file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("unreadable tile: {0}")]
    Header(#[from] header::HeaderError),
    #[error("expected {}×{}, got {}×{}", .expected.0, .expected.1, .got.0, .got.1)]
    WrongSize {
        expected: (u32, u32),
        got: (u32, u32),
    },
    #[error("expected {expected}, got {got}")]
    WrongDtype { expected: Dtype, got: Dtype },
    #[error("expected a single-channel uint8, uint16 or uint64 image, got {0}")]
    NotADtype(String),
    #[error("raw {width}×{height} {dtype} tile needs {expected} bytes, got {got}")]
    RawLength {
        width: u32,
        height: u32,
        dtype: Dtype,
        expected: u64,
        got: u64,
    },
    #[error("encoding the tile failed: {0}")]
    Encode(String),
}

/// A tile ready for upload: its bytes and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub info: TileInfo,
}

impl fmt::Display for TileInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = self.format.map_or("raw", ImageFormat::name);
        write!(
            f,
            "{}×{} {} {format}",
            self.width, self.height, self.pixel_type
        )
    }
}

/// Reads a tile's size and type: from the header of an encoded tile (no decode), or from the
/// fields of a raw one (checking its buffer length).
pub fn inspect(image: &TileImage) -> Result<TileInfo, TileError> {
    match image {
        TileImage::Encoded { bytes, .. } => Ok(info_of(&header::sniff(bytes)?)),
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => {
            let expected = u64::from(*width) * u64::from(*height) * dtype.size() as u64;
            if expected != data.len() as u64 {
                return Err(TileError::RawLength {
                    width: *width,
                    height: *height,
                    dtype: *dtype,
                    expected,
                    got: data.len() as u64,
                });
            }
            Ok(TileInfo {
                format: None,
                width: *width,
                height: *height,
                channels: 1,
                dtype: Some(*dtype),
                pixel_type: dtype.name().to_string(),
            })
        }
    }
}

fn info_of(h: &Header) -> TileInfo {
    TileInfo {
        format: Some(h.format.into()),
        width: h.width,
        height: h.height,
        channels: h.color.channels(),
        dtype: h.tile_dtype(),
        pixel_type: h.dtype_description(),
    }
}

/// Checks a tile against what the job expects: size first, then dtype.
pub fn verify(info: &TileInfo, expected: &Expected) -> Result<(), TileError> {
    if (info.width, info.height) != (expected.width, expected.height) {
        return Err(TileError::WrongSize {
            expected: (expected.width, expected.height),
            got: (info.width, info.height),
        });
    }
    let dtype = match info.dtype {
        Some(Dtype::U32) => return Err(TileError::NotADtype("uint32".into())),
        Some(d) => d,
        None => return Err(TileError::NotADtype(info.pixel_type.clone())),
    };
    match expected.dtype {
        Some(want) if want != dtype => Err(TileError::WrongDtype {
            expected: want,
            got: dtype,
        }),
        _ => Ok(()),
    }
}

/// Verifies a tile and turns it into upload bytes: encoded tiles pass through untouched, raw
/// ones are encoded (PNG; TIFF for uint64).
///
/// A raw all-zero tile of another Boss dtype than expected becomes zeros of the expected dtype:
/// a black tile (a missing slice under `fail_gracefully`) carries no values, and its processor
/// often cannot know the channel's dtype.
pub fn prepare(image: TileImage, expected: &Expected) -> Result<Encoded, TileError> {
    let image = black_as_expected(image, expected);
    let info = inspect(&image)?;
    verify(&info, expected)?;
    match image {
        TileImage::Encoded { bytes, format } => Ok(Encoded {
            bytes,
            // The header is what the Boss will read; a processor's label cannot override it.
            format: info.format.unwrap_or(format),
            info,
        }),
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => {
            let (bytes, format) = encode_raw(width, height, dtype, data)?;
            Ok(Encoded {
                bytes,
                format,
                info: TileInfo {
                    format: Some(format),
                    ..info
                },
            })
        }
    }
}

fn black_as_expected(image: TileImage, expected: &Expected) -> TileImage {
    match (image, expected.dtype) {
        (
            TileImage::Raw {
                width,
                height,
                dtype,
                data,
            },
            Some(want),
        ) if dtype != want
            && want != Dtype::U32
            && data.len() == width as usize * height as usize * dtype.size()
            && data.iter().all(|&b| b == 0) =>
        {
            TileImage::Raw {
                width,
                height,
                dtype: want,
                data: vec![0; width as usize * height as usize * want.size()],
            }
        }
        (image, _) => image,
    }
}

/// Encodes raw little-endian pixels; takes the buffer so 16-bit samples can be byte-swapped in
/// place rather than copied.
pub fn encode_raw(
    width: u32,
    height: u32,
    dtype: Dtype,
    mut data: Vec<u8>,
) -> Result<(Vec<u8>, ImageFormat), TileError> {
    let encode_err = |e: &dyn fmt::Display| TileError::Encode(e.to_string());
    let depth = match dtype {
        Dtype::U8 => png::BitDepth::Eight,
        Dtype::U16 => {
            // PNG stores 16-bit samples big-endian.
            for pair in data.chunks_exact_mut(2) {
                pair.swap(0, 1);
            }
            png::BitDepth::Sixteen
        }
        Dtype::U64 => return Ok((encode_tiff_u64(width, height, &data)?, ImageFormat::Tiff)),
        Dtype::U32 => return Err(TileError::NotADtype("uint32".into())),
    };
    // Deflate output is usually well under the raw size; start there to avoid regrowth.
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Sub);
    let mut writer = encoder.write_header().map_err(|e| encode_err(&e))?;
    writer.write_image_data(&data).map_err(|e| encode_err(&e))?;
    writer.finish().map_err(|e| encode_err(&e))?;
    Ok((out, ImageFormat::Png))
}

fn encode_tiff_u64(width: u32, height: u32, data: &[u8]) -> Result<Vec<u8>, TileError> {
    use tiff::encoder::{colortype::Gray64, TiffEncoder};
    let samples: Vec<u64> = data
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect();
    let mut out = std::io::Cursor::new(Vec::with_capacity(data.len() + 1024));
    TiffEncoder::new(&mut out)
        .and_then(|mut e| e.write_image::<Gray64>(width, height, &samples))
        .map_err(|e| TileError::Encode(e.to_string()))?;
    Ok(out.into_inner())
}

/// Whether a raw tile is entirely zero (black); `None` for encoded tiles, which would need a
/// decode to tell.
pub fn is_black(image: &TileImage) -> Option<bool> {
    match image {
        TileImage::Raw { data, .. } => Some(data.iter().all(|&b| b == 0)),
        TileImage::Encoded { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageDecoder;
    use std::io::Cursor;

    fn raw(width: u32, height: u32, dtype: Dtype, data: Vec<u8>) -> TileImage {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        }
    }

    fn expect(width: u32, height: u32, dtype: Option<Dtype>) -> Expected {
        Expected {
            width,
            height,
            dtype,
        }
    }

    #[test]
    fn raw_u8_becomes_a_png_with_the_same_pixels() {
        let data: Vec<u8> = (0..12 * 5).map(|i| (i * 3) as u8).collect();
        let out = prepare(raw(12, 5, Dtype::U8, data.clone()), &expect(12, 5, None)).unwrap();
        assert_eq!(out.format, ImageFormat::Png);
        let dec = image::codecs::png::PngDecoder::new(Cursor::new(&out.bytes)).unwrap();
        assert_eq!(dec.color_type(), image::ColorType::L8);
        let mut back = vec![0; data.len()];
        dec.read_image(&mut back).unwrap();
        assert_eq!(back, data);
        // And its header reads back as what it is.
        let info = inspect(&TileImage::Encoded {
            format: ImageFormat::Png,
            bytes: out.bytes,
        })
        .unwrap();
        assert_eq!(
            (info.width, info.height, info.dtype),
            (12, 5, Some(Dtype::U8))
        );
    }

    #[test]
    fn raw_u16_round_trips() {
        let values: Vec<u16> = (0..8 * 4).map(|i| 1000 * i as u16 + 7).collect();
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = prepare(raw(8, 4, Dtype::U16, data), &expect(8, 4, Some(Dtype::U16))).unwrap();
        let dec = image::codecs::png::PngDecoder::new(Cursor::new(&out.bytes)).unwrap();
        assert_eq!(dec.color_type(), image::ColorType::L16);
        let mut back = vec![0; 64];
        dec.read_image(&mut back).unwrap();
        let back: Vec<u16> = back
            .chunks_exact(2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(back, values);
    }

    #[test]
    fn raw_u64_becomes_tiff() {
        let values: Vec<u64> = (0..6).map(|i| (i as u64) << 40 | 5).collect();
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = prepare(raw(3, 2, Dtype::U64, data), &expect(3, 2, None)).unwrap();
        assert_eq!(out.format, ImageFormat::Tiff);
        assert_eq!(out.info.dtype, Some(Dtype::U64));
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(&out.bytes)).unwrap();
        match dec.read_image().unwrap() {
            tiff::decoder::DecodingResult::U64(v) => assert_eq!(v, values),
            other => panic!("unexpected samples {other:?}"),
        }
    }

    #[test]
    fn encoded_tiles_pass_through_byte_for_byte() {
        let (png, _) = encode_raw(4, 4, Dtype::U8, vec![9; 16]).unwrap();
        let out = prepare(
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: png.clone(),
            },
            &expect(4, 4, Some(Dtype::U8)),
        )
        .unwrap();
        assert_eq!(out.bytes, png);
    }

    #[test]
    fn size_and_dtype_errors_name_both_values() {
        let (png, _) = encode_raw(1000, 1024, Dtype::U8, vec![0; 1000 * 1024]).unwrap();
        let encoded = TileImage::Encoded {
            format: ImageFormat::Png,
            bytes: png,
        };
        assert_eq!(
            prepare(encoded.clone(), &expect(1024, 1024, None))
                .unwrap_err()
                .to_string(),
            "expected 1024×1024, got 1000×1024"
        );
        assert_eq!(
            prepare(encoded, &expect(1000, 1024, Some(Dtype::U16)))
                .unwrap_err()
                .to_string(),
            "expected uint16, got uint8"
        );
        assert_eq!(
            prepare(raw(2, 2, Dtype::U8, vec![0; 3]), &expect(2, 2, None))
                .unwrap_err()
                .to_string(),
            "raw 2×2 uint8 tile needs 4 bytes, got 3"
        );
        assert_eq!(
            prepare(raw(1, 1, Dtype::U32, vec![0; 4]), &expect(1, 1, None))
                .unwrap_err()
                .to_string(),
            "expected a single-channel uint8, uint16 or uint64 image, got uint32"
        );
    }

    #[test]
    fn rgb_and_garbage_are_refused() {
        let mut rgb = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut rgb),
            &[0; 12],
            2,
            2,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let err = prepare(
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: rgb,
            },
            &expect(2, 2, None),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "expected a single-channel uint8, uint16 or uint64 image, got RGB uint8"
        );
        let err = prepare(
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: b"GIF89a".to_vec(),
            },
            &expect(2, 2, None),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unreadable tile: not a PNG, TIFF or JPEG image (starts with bytes 47 49 46 38 39 61)"
        );
    }

    #[test]
    fn info_reads_as_a_phrase() {
        let info = inspect(&raw(4, 2, Dtype::U16, vec![0; 16])).unwrap();
        assert_eq!(info.to_string(), "4×2 uint16 raw");
    }

    #[test]
    fn a_black_tile_takes_the_expected_dtype_but_data_does_not() {
        let out = prepare(
            raw(4, 2, Dtype::U8, vec![0; 8]),
            &expect(4, 2, Some(Dtype::U16)),
        )
        .unwrap();
        assert_eq!(out.info.dtype, Some(Dtype::U16));
        let dec = image::codecs::png::PngDecoder::new(Cursor::new(&out.bytes)).unwrap();
        assert_eq!(dec.color_type(), image::ColorType::L16);
        let mut back = vec![1; 16];
        dec.read_image(&mut back).unwrap();
        assert_eq!(back, vec![0; 16]);
        let mut one = vec![0; 8];
        one[3] = 1;
        assert_eq!(
            prepare(raw(4, 2, Dtype::U8, one), &expect(4, 2, Some(Dtype::U16)))
                .unwrap_err()
                .to_string(),
            "expected uint16, got uint8"
        );
    }

    #[test]
    fn black_detection() {
        assert_eq!(is_black(&raw(2, 1, Dtype::U8, vec![0, 0])), Some(true));
        assert_eq!(is_black(&raw(2, 1, Dtype::U8, vec![0, 1])), Some(false));
    }
}
