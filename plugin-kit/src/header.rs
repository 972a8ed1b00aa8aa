//! What an encoded image is — format, size, channels, sample type — read from its header alone.
//!
//! Deciding whether a file can go to the Boss unchanged, and checking a tile's size and dtype in
//! `boss-ingest check`, must not cost a decode: PNG's IHDR and JPEG's SOF segment are parsed by
//! hand (a few bytes at fixed places), TIFF's first directory through the `tiff` crate, which
//! reads tags lazily and touches no pixel data.

use std::fmt;
use std::io::Cursor;

use plugin_abi::{Dtype, ImageFormat};

/// The encodings the Boss accepts for tiles and the stack plugin reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Png,
    Tiff,
    Jpeg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Png => "PNG",
            Format::Tiff => "TIFF",
            Format::Jpeg => "JPEG",
        })
    }
}

/// How the samples of one pixel are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Gray,
    GrayAlpha,
    Rgb,
    Rgba,
    /// Indexed colour (PNG palette, TIFF palette): needs expansion before it means anything.
    Palette,
    Cmyk,
    /// Any other photometric interpretation (YCbCr TIFF, multiband, Lab): `n` samples per pixel.
    Other(u16),
}

impl Color {
    pub fn channels(self) -> u16 {
        match self {
            Color::Gray | Color::Palette => 1,
            Color::GrayAlpha => 2,
            Color::Rgb => 3,
            Color::Rgba | Color::Cmyk => 4,
            Color::Other(n) => n,
        }
    }
}

/// How one sample's bits are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleKind {
    Uint,
    Int,
    Float,
}

impl From<Format> for ImageFormat {
    fn from(f: Format) -> ImageFormat {
        match f {
            Format::Png => ImageFormat::Png,
            Format::Tiff => ImageFormat::Tiff,
            Format::Jpeg => ImageFormat::Jpeg,
        }
    }
}

/// An image's header facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub format: Format,
    pub width: u32,
    pub height: u32,
    pub color: Color,
    /// Bits per sample.
    pub bits: u16,
    pub kind: SampleKind,
}

impl Header {
    /// The tile dtype this image has, if it is single-channel gray of a type the Boss stores.
    /// The tile's dtype when it is one the Boss stores for tiles (uint8, uint16, uint64;
    /// uint32 is no Boss channel type, so a 32-bit file needs an explicit cast).
    pub fn tile_dtype(&self) -> Option<Dtype> {
        if self.color != Color::Gray || self.kind != SampleKind::Uint {
            return None;
        }
        match self.bits {
            8 => Some(Dtype::U8),
            16 => Some(Dtype::U16),
            // JPEG has no 64-bit flavour; PNG's header cannot say 64.
            64 if self.format == Format::Tiff => Some(Dtype::U64),
            _ => None,
        }
    }

    /// A short human description of the pixel type, for error messages: `uint8`, `int32`,
    /// `float32`, `RGB uint8`, `palette 8-bit`.
    pub fn dtype_description(&self) -> String {
        let sample = match self.kind {
            SampleKind::Uint => format!("uint{}", self.bits),
            SampleKind::Int => format!("int{}", self.bits),
            SampleKind::Float => format!("float{}", self.bits),
        };
        match self.color {
            Color::Gray => sample,
            Color::GrayAlpha => format!("gray+alpha {sample}"),
            Color::Rgb => format!("RGB {sample}"),
            Color::Rgba => format!("RGBA {sample}"),
            Color::Palette => format!("palette {}-bit", self.bits),
            Color::Cmyk => format!("CMYK {sample}"),
            Color::Other(n) => format!("{n}-channel {sample}"),
        }
    }
}

/// Why a header could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("not a PNG, TIFF or JPEG image (starts with {0})")]
    UnknownFormat(String),
    #[error("corrupt {format} header: {reason}")]
    Corrupt { format: Format, reason: String },
    /// A multi-page TIFF ends before the page asked for (pages count from 0).
    #[error("the TIFF has no page {page} (it ends after {pages} pages)")]
    NoPage { page: usize, pages: usize },
}

/// Reads the header of an encoded image held in memory.
pub fn sniff(bytes: &[u8]) -> Result<Header, HeaderError> {
    match format_of(bytes) {
        Some(Format::Png) => png_header(bytes),
        Some(Format::Tiff) => tiff_header(bytes),
        Some(Format::Jpeg) => jpeg_header(bytes),
        None => Err(HeaderError::UnknownFormat(first_bytes(bytes))),
    }
}

/// The format named by an image's magic bytes.
pub fn format_of(bytes: &[u8]) -> Option<Format> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(PNG) {
        Some(Format::Png)
    } else if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        Some(Format::Tiff)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else {
        None
    }
}

fn first_bytes(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "nothing: the file is empty".to_string();
    }
    let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", hex.join(" "))
}

fn corrupt(format: Format, reason: impl Into<String>) -> HeaderError {
    HeaderError::Corrupt {
        format,
        reason: reason.into(),
    }
}

fn png_header(b: &[u8]) -> Result<Header, HeaderError> {
    // Signature (8), then the IHDR chunk: length (4), "IHDR", width, height, depth, colour type.
    if b.len() < 29 || &b[12..16] != b"IHDR" {
        return Err(corrupt(Format::Png, "no IHDR chunk after the signature"));
    }
    let be32 = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (width, height) = (be32(16), be32(20));
    let bits = u16::from(b[24]);
    let color = match b[25] {
        0 => Color::Gray,
        2 => Color::Rgb,
        3 => Color::Palette,
        4 => Color::GrayAlpha,
        6 => Color::Rgba,
        other => return Err(corrupt(Format::Png, format!("unknown colour type {other}"))),
    };
    if width == 0 || height == 0 {
        return Err(corrupt(Format::Png, format!("size {width}×{height}")));
    }
    Ok(Header {
        format: Format::Png,
        width,
        height,
        color,
        bits,
        kind: SampleKind::Uint,
    })
}

fn jpeg_header(b: &[u8]) -> Result<Header, HeaderError> {
    // Walk the marker segments after SOI until a start-of-frame segment.
    let mut i = 2;
    loop {
        while i < b.len() && b[i] == 0xFF {
            i += 1; // fill bytes before a marker
        }
        let Some(&marker) = b.get(i) else {
            return Err(corrupt(Format::Jpeg, "no start-of-frame segment"));
        };
        i += 1;
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue; // markers without a length
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err(corrupt(Format::Jpeg, "image data before any frame header"));
        }
        let Some(len) = b
            .get(i..i + 2)
            .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
        else {
            return Err(corrupt(Format::Jpeg, "truncated segment"));
        };
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let Some(sof) = b.get(i + 2..i + 8) else {
                return Err(corrupt(Format::Jpeg, "truncated frame header"));
            };
            let height = u32::from(u16::from_be_bytes([sof[1], sof[2]]));
            let width = u32::from(u16::from_be_bytes([sof[3], sof[4]]));
            let color = match sof[5] {
                1 => Color::Gray,
                3 => Color::Rgb,
                4 => Color::Cmyk,
                n => Color::Other(u16::from(n)),
            };
            if width == 0 || height == 0 {
                return Err(corrupt(Format::Jpeg, format!("size {width}×{height}")));
            }
            return Ok(Header {
                format: Format::Jpeg,
                width,
                height,
                color,
                bits: u16::from(sof[0]),
                kind: SampleKind::Uint,
            });
        }
        i += len;
    }
}

fn tiff_header(b: &[u8]) -> Result<Header, HeaderError> {
    sniff_tiff(Cursor::new(b))
}

/// Reads the header of the TIFF image `reader` reads: its first directory's tags, no pixel data.
pub fn sniff_tiff<R: std::io::Read + std::io::Seek>(reader: R) -> Result<Header, HeaderError> {
    sniff_tiff_page(reader, 0)
}

/// Reads the header of page `page` (0-based) of a multi-page TIFF: only the directories up to
/// that page are read, never pixel data, so the cost does not grow with the pages' size.
pub fn sniff_tiff_page<R: std::io::Read + std::io::Seek>(
    reader: R,
    page: usize,
) -> Result<Header, HeaderError> {
    let err = |e: tiff::TiffError| corrupt(Format::Tiff, e.to_string());
    let mut decoder = tiff::decoder::Decoder::new(reader).map_err(err)?;
    seek_to_page(&mut decoder, page)?;
    let (width, height) = decoder.dimensions().map_err(err)?;
    let colortype = decoder.colortype().map_err(err)?;
    let kind = tiff_sample_kind(&mut decoder).map_err(err)?;
    Ok(tiff_header_from(width, height, colortype, kind))
}

/// Makes page `page` the decoder's current image; a page past the end is [`HeaderError::NoPage`].
pub(crate) fn seek_to_page<R: std::io::Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
    page: usize,
) -> Result<(), HeaderError> {
    if page == 0 {
        return Ok(());
    }
    match decoder.seek_to_image(page) {
        Ok(()) => Ok(()),
        Err(tiff::TiffError::FormatError(tiff::TiffFormatError::ImageFileDirectoryNotFound)) => {
            // Every directory before the missing one has been read on the way: count them.
            let mut pages = 1;
            while decoder.seek_to_image(pages).is_ok() {
                pages += 1;
            }
            Err(HeaderError::NoPage { page, pages })
        }
        Err(e) => Err(corrupt(Format::Tiff, e.to_string())),
    }
}

/// The sample kind of the current TIFF image (SampleFormat tag; absent means unsigned).
pub(crate) fn tiff_sample_kind<R: std::io::Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
) -> tiff::TiffResult<SampleKind> {
    let formats = decoder.find_tag_unsigned_vec::<u16>(tiff::tags::Tag::SampleFormat)?;
    Ok(match formats.as_deref().and_then(|f| f.first()) {
        Some(2) => SampleKind::Int,
        Some(3) => SampleKind::Float,
        _ => SampleKind::Uint,
    })
}

pub(crate) fn tiff_header_from(
    width: u32,
    height: u32,
    colortype: tiff::ColorType,
    kind: SampleKind,
) -> Header {
    use tiff::ColorType as C;
    let (color, bits) = match colortype {
        C::Gray(b) => (Color::Gray, b),
        C::GrayA(b) => (Color::GrayAlpha, b),
        C::RGB(b) => (Color::Rgb, b),
        C::RGBA(b) => (Color::Rgba, b),
        C::Palette(b) => (Color::Palette, b),
        C::CMYK(b) => (Color::Cmyk, b),
        C::CMYKA(b) => (Color::Other(5), b),
        C::YCbCr(b) | C::Lab(b) => (Color::Other(3), b),
        C::Multiband {
            bit_depth,
            num_samples,
        } => (Color::Other(num_samples), bit_depth),
        // `tiff::ColorType` is non-exhaustive; a future kind is reported as unknown channels.
        _ => (Color::Other(0), 0),
    };
    Header {
        format: Format::Tiff,
        width,
        height,
        color,
        bits: u16::from(bits),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{jpeg_gray, png};
    use image::ExtendedColorType;

    #[test]
    fn png_gray8_and_gray16() {
        let h = sniff(&png(5, 3, ExtendedColorType::L8, &[7; 15])).unwrap();
        assert_eq!((h.format, h.width, h.height), (Format::Png, 5, 3));
        assert_eq!(h.tile_dtype(), Some(Dtype::U8));
        let h = sniff(&png(2, 4, ExtendedColorType::L16, &[1; 16])).unwrap();
        assert_eq!(h.tile_dtype(), Some(Dtype::U16));
        assert_eq!(h.dtype_description(), "uint16");
    }

    #[test]
    fn png_rgb_is_not_a_tile_dtype() {
        let h = sniff(&png(2, 2, ExtendedColorType::Rgb8, &[1; 12])).unwrap();
        assert_eq!(h.color, Color::Rgb);
        assert_eq!(h.tile_dtype(), None);
        assert_eq!(h.dtype_description(), "RGB uint8");
    }

    #[test]
    fn jpeg_gray_header() {
        let h = sniff(&jpeg_gray(17, 9, &[100; 17 * 9])).unwrap();
        assert_eq!((h.format, h.width, h.height), (Format::Jpeg, 17, 9));
        assert_eq!(h.tile_dtype(), Some(Dtype::U8));
    }

    #[test]
    fn tiff_types() {
        use crate::fixtures::{colortype, tiff};
        let out = tiff::<colortype::Gray64>(3, 2, &[1u64; 6]);
        let h = sniff(&out).unwrap();
        assert_eq!((h.format, h.width, h.height), (Format::Tiff, 3, 2));
        assert_eq!(h.tile_dtype(), Some(Dtype::U64));

        let out = tiff::<colortype::GrayI32>(3, 2, &[-1i32; 6]);
        let h = sniff(&out).unwrap();
        assert_eq!(h.tile_dtype(), None);
        assert_eq!(h.dtype_description(), "int32");

        let out = tiff::<colortype::Gray32Float>(3, 2, &[0.5f32; 6]);
        assert_eq!(sniff(&out).unwrap().dtype_description(), "float32");
    }

    #[test]
    fn garbage_and_truncation() {
        assert_eq!(
            sniff(b"hello world").unwrap_err().to_string(),
            "not a PNG, TIFF or JPEG image (starts with bytes 68 65 6c 6c 6f 20 77 6f)"
        );
        assert_eq!(
            sniff(b"").unwrap_err().to_string(),
            "not a PNG, TIFF or JPEG image (starts with nothing: the file is empty)"
        );
        let full = png(5, 3, ExtendedColorType::L8, &[7; 15]);
        assert!(matches!(
            sniff(&full[..20]),
            Err(HeaderError::Corrupt {
                format: Format::Png,
                ..
            })
        ));
        // This encoder puts the frame header right after APP0: cut inside it.
        let jpeg = jpeg_gray(8, 8, &[0; 64]);
        assert!(matches!(
            sniff(&jpeg[..24]),
            Err(HeaderError::Corrupt {
                format: Format::Jpeg,
                ..
            })
        ));
        assert!(matches!(
            sniff(b"II*\0\xff\xff\xff\xff"),
            Err(HeaderError::Corrupt {
                format: Format::Tiff,
                ..
            })
        ));
    }
}
