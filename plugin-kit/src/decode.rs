//! Decoding the part of an image that one tile covers, straight into a zero-filled tile buffer.
//!
//! A tile is the window `[TS.x*x, TS.x*(x+1)) × [TS.y*y, TS.y*(y+1))` of its slice. Only the rows
//! (PNG) or strips and tiles (TIFF) that meet the window are decoded, and samples are copied from
//! the codec's row straight into the tile, so a 2048² slice cut into four 1024² tiles is not
//! decoded four times over, and no full-image buffer is allocated for PNG and TIFF. Whatever of
//! the window lies outside the image stays zero: that is the padding of short edge tiles.
//!
//! Gray images of a Boss type (uint8/16/64) are copied exactly. Other pixel types are refused
//! upstream unless the user chose a [`Cast`]; then they are converted here, pixel by pixel.

use std::io::{Cursor, Read, Seek};

use plugin_abi::TileImage;

use crate::cast::Cast;
use crate::header::{Color, Format, Header, SampleKind, TileDtype};

/// The part of an image one tile covers, in image pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub x0: u64,
    pub y0: u64,
    pub width: u32,
    pub height: u32,
}

impl Window {
    /// Whether the window and a `width`×`height` image share at least one pixel.
    pub fn meets(&self, width: u32, height: u32) -> bool {
        self.x0 < u64::from(width) && self.y0 < u64::from(height)
    }
}

/// How decoded samples become tile samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// The image already is gray of this type: copy samples unchanged.
    Exact(TileDtype),
    /// Convert each pixel with the user's cast policy.
    Cast(Cast),
}

impl Conversion {
    pub fn dtype(&self) -> TileDtype {
        match self {
            Conversion::Exact(d) => *d,
            Conversion::Cast(c) => c.to,
        }
    }
}

/// Decoded tile pixels: row-major, `width*height` samples of `dtype`, little-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    pub width: u32,
    pub height: u32,
    pub dtype: TileDtype,
    pub data: Vec<u8>,
}

impl Pixels {
    /// An all-zero (black) tile.
    pub fn zeros(width: u32, height: u32, dtype: TileDtype) -> Pixels {
        let len = width as usize * height as usize * dtype.bytes();
        Pixels {
            width,
            height,
            dtype,
            // `vec![0; n]` asks the allocator for zeroed pages: no pass over the buffer.
            data: vec![0; len],
        }
    }
}

/// Decoded pixels as the ABI's raw tile, which the host encodes.
impl From<Pixels> for TileImage {
    fn from(p: Pixels) -> TileImage {
        TileImage::Raw {
            width: p.width,
            height: p.height,
            dtype: p.dtype.into(),
            data: p.data,
        }
    }
}

/// Why the pixels could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The data is damaged or truncated.
    #[error("{0}")]
    Corrupt(String),
    /// A valid image of a kind this plugin cannot convert.
    #[error("{0}")]
    Unsupported(String),
}

/// Decodes `window` of the image in `bytes` (whose header is `header`) into a tile.
pub fn decode_window(
    bytes: &[u8],
    header: &Header,
    window: Window,
    conversion: Conversion,
) -> Result<Pixels, DecodeError> {
    let mut sink = Sink::new(window, header, conversion)?;
    if window.meets(header.width, header.height) {
        match header.format {
            Format::Png => png_rows(bytes, header, &mut sink)?,
            Format::Tiff => {
                tiff_bits_supported(header)?;
                tiff_chunks(Cursor::new(bytes), 0, &mut sink)?
            }
            Format::Jpeg => jpeg_rows(bytes, &mut sink)?,
        }
    }
    sink.finish()
}

/// Samples of one decoded row segment, in the codec's own representation.
enum Samples<'a> {
    U8(&'a [u8]),
    /// 16-bit big-endian bytes, as PNG stores them: converted while copying, not before.
    U16Be(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Receives decoded rows and writes the part inside the window into the tile.
struct Sink {
    window: Window,
    image_width: u64,
    image_height: u64,
    channels: usize,
    conversion: Conversion,
    /// For casts: how to reduce a pixel's samples to one gray value.
    luma: Luma,
    /// For casts: the value range of the source samples.
    range: (f64, f64),
    pixels: Pixels,
    /// Set when decoded samples are not of the type the header promised.
    mismatch: bool,
}

#[derive(Debug, Clone, Copy)]
enum Luma {
    /// Take the first sample (gray, gray+alpha).
    First,
    /// ITU-R BT.601 weights of the first three samples (RGB, RGBA); alpha is ignored.
    Rgb,
}

impl Sink {
    fn new(window: Window, header: &Header, conversion: Conversion) -> Result<Sink, DecodeError> {
        let luma = match header.color {
            Color::Gray | Color::GrayAlpha | Color::Palette => Luma::First,
            Color::Rgb | Color::Rgba => Luma::Rgb,
            // The JPEG decoder turns CMYK and YCbCr into RGB itself (see `jpeg_rows`).
            Color::Cmyk | Color::Other(_) if header.format == Format::Jpeg => Luma::Rgb,
            Color::Cmyk | Color::Other(_) => {
                return Err(DecodeError::Unsupported(format!(
                    "{} {} images to gray",
                    header.dtype_description(),
                    header.format
                )))
            }
        };
        Ok(Sink {
            window,
            image_width: u64::from(header.width),
            image_height: u64::from(header.height),
            channels: usize::from(header.color.channels()),
            conversion,
            luma,
            range: sample_range(header.kind, header.bits),
            pixels: Pixels::zeros(window.width, window.height, conversion.dtype()),
            mismatch: false,
        })
    }

    fn finish(self) -> Result<Pixels, DecodeError> {
        if self.mismatch {
            return Err(DecodeError::Corrupt(
                "the pixel data does not match the sample type its header declares".into(),
            ));
        }
        Ok(self.pixels)
    }

    /// Image rows the window needs, `[first, end)`.
    fn rows(&self) -> (u64, u64) {
        let end = (self.window.y0 + u64::from(self.window.height)).min(self.image_height);
        (self.window.y0, end)
    }

    /// Takes the samples of image row `y`, covering image columns from `x_start` on.
    fn put(&mut self, y: u64, x_start: u64, samples: Samples<'_>) {
        let w = self.window;
        if y < w.y0 || y >= w.y0 + u64::from(w.height) {
            return;
        }
        let len = match &samples {
            Samples::U8(s) => s.len(),
            Samples::U16Be(s) => s.len() / 2,
            Samples::U16(s) => s.len(),
            Samples::U32(s) => s.len(),
            Samples::U64(s) => s.len(),
            Samples::I8(s) => s.len(),
            Samples::I16(s) => s.len(),
            Samples::I32(s) => s.len(),
            Samples::I64(s) => s.len(),
            Samples::F32(s) => s.len(),
            Samples::F64(s) => s.len(),
        } / self.channels;
        let first = x_start.max(w.x0);
        let end = (x_start + len as u64)
            .min(w.x0 + u64::from(w.width))
            .min(self.image_width);
        if first >= end {
            return;
        }
        // Source pixel range inside `samples`, destination pixel offset inside the tile.
        let (src, n) = ((first - x_start) as usize, (end - first) as usize);
        let bytes = self.pixels.dtype.bytes();
        let row = (y - w.y0) as usize * w.width as usize;
        let dst_start = (row + (first - w.x0) as usize) * bytes;
        let dst = &mut self.pixels.data[dst_start..dst_start + n * bytes];
        let ch = self.channels;
        match self.conversion {
            Conversion::Exact(dtype) => {
                // `Exact` is chosen from the header (gray uint8/16/64); a file whose data then
                // decodes as something else is damaged, which `finish` reports.
                let copied = ch == 1
                    && match (samples, dtype) {
                        (Samples::U8(s), TileDtype::U8) => {
                            dst.copy_from_slice(&s[src..src + n]);
                            true
                        }
                        (Samples::U16Be(s), TileDtype::U16) => {
                            for (d, s) in dst
                                .chunks_exact_mut(2)
                                .zip(s[src * 2..(src + n) * 2].chunks_exact(2))
                            {
                                d.copy_from_slice(&[s[1], s[0]]);
                            }
                            true
                        }
                        (Samples::U16(s), TileDtype::U16) => {
                            copy_le(dst, &s[src..src + n], u16::to_le_bytes);
                            true
                        }
                        (Samples::U64(s), TileDtype::U64) => {
                            copy_le(dst, &s[src..src + n], u64::to_le_bytes);
                            true
                        }
                        _ => false,
                    };
                self.mismatch |= !copied;
            }
            Conversion::Cast(cast) => {
                let (lo, hi) = self.range;
                let luma = self.luma;
                let mut put = |i: usize, value: f64| {
                    let v = cast.convert(value, lo, hi);
                    dst[i * bytes..(i + 1) * bytes].copy_from_slice(&v.to_le_bytes()[..bytes]);
                };
                macro_rules! each {
                    ($s:expr, $to_f64:expr) => {{
                        let s = $s;
                        for i in 0..n {
                            let p = (src + i) * ch;
                            let value = match luma {
                                Luma::First => $to_f64(s, p),
                                Luma::Rgb => {
                                    0.299 * $to_f64(s, p)
                                        + 0.587 * $to_f64(s, p + 1)
                                        + 0.114 * $to_f64(s, p + 2)
                                }
                            };
                            put(i, value);
                        }
                    }};
                }
                match samples {
                    Samples::U8(s) => each!(s, |s: &[u8], i: usize| f64::from(s[i])),
                    Samples::U16Be(s) => {
                        each!(s, |s: &[u8], i: usize| f64::from(u16::from_be_bytes([
                            s[2 * i],
                            s[2 * i + 1]
                        ])))
                    }
                    Samples::U16(s) => each!(s, |s: &[u16], i: usize| f64::from(s[i])),
                    Samples::U32(s) => each!(s, |s: &[u32], i: usize| f64::from(s[i])),
                    Samples::U64(s) => each!(s, |s: &[u64], i: usize| s[i] as f64),
                    Samples::I8(s) => each!(s, |s: &[i8], i: usize| f64::from(s[i])),
                    Samples::I16(s) => each!(s, |s: &[i16], i: usize| f64::from(s[i])),
                    Samples::I32(s) => each!(s, |s: &[i32], i: usize| f64::from(s[i])),
                    Samples::I64(s) => each!(s, |s: &[i64], i: usize| s[i] as f64),
                    Samples::F32(s) => each!(s, |s: &[f32], i: usize| f64::from(s[i])),
                    Samples::F64(s) => each!(s, |s: &[f64], i: usize| s[i]),
                }
            }
        }
    }
}

fn copy_le<T: Copy, const N: usize>(dst: &mut [u8], src: &[T], to_le: fn(T) -> [u8; N]) {
    for (d, s) in dst.chunks_exact_mut(N).zip(src) {
        d.copy_from_slice(&to_le(*s));
    }
}

/// The full value range of a sample type: what `scale` casts map onto the target range.
/// Floats are taken to be normalised to `[0, 1]`.
fn sample_range(kind: SampleKind, bits: u16) -> (f64, f64) {
    let bits = i32::from(bits.clamp(1, 64));
    match kind {
        SampleKind::Uint => (0.0, 2f64.powi(bits) - 1.0),
        SampleKind::Int => (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0),
        SampleKind::Float => (0.0, 1.0),
    }
}

fn png_rows(bytes: &[u8], header: &Header, sink: &mut Sink) -> Result<(), DecodeError> {
    let corrupt = |e: png::DecodingError| DecodeError::Corrupt(e.to_string());
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    let exact = matches!(sink.conversion, Conversion::Exact(_));
    // Gray 8/16-bit rows are used as stored; anything else (palette, low bit depths, tRNS) is
    // expanded to plain samples first, which only a cast can make use of.
    decoder.set_transformations(if exact {
        png::Transformations::IDENTITY
    } else {
        png::Transformations::EXPAND
    });
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (color, depth) = reader.output_color_type();
    sink.channels = color.samples();
    if !exact {
        sink.luma = match color {
            png::ColorType::Rgb | png::ColorType::Rgba => Luma::Rgb,
            _ => Luma::First,
        };
        let bits = if depth == png::BitDepth::Sixteen {
            16
        } else {
            8
        };
        sink.range = sample_range(SampleKind::Uint, bits);
    }
    let sixteen = depth == png::BitDepth::Sixteen;
    fn samples(row: &[u8], sixteen: bool) -> Samples<'_> {
        if sixteen {
            Samples::U16Be(row)
        } else {
            Samples::U8(row)
        }
    }
    let (first, end) = sink.rows();
    if reader.info().interlaced {
        // Interlaced rows arrive in passes: decode the frame, then take the window's rows.
        let size = reader.output_buffer_size().ok_or_else(|| {
            DecodeError::Unsupported(format!(
                "an interlaced {}×{} PNG: too large to decode whole (save it non-interlaced)",
                header.width, header.height
            ))
        })?;
        let mut frame = vec![0; size];
        let info = reader.next_frame(&mut frame).map_err(corrupt)?;
        for y in first..end {
            let start = y as usize * info.line_size;
            sink.put(
                y,
                0,
                samples(&frame[start..start + info.line_size], sixteen),
            );
        }
        return Ok(());
    }
    let line = reader
        .output_line_size(header.width)
        .ok_or_else(|| DecodeError::Corrupt("row size overflows".into()))?;
    let mut row = vec![0; line];
    for y in 0..end {
        // Rows before the window must still be inflated (PNG is one compressed stream), but are
        // not copied; rows after it are never decoded.
        match reader.read_row(&mut row).map_err(corrupt)? {
            Some(_) if y >= first => sink.put(y, 0, samples(&row, sixteen)),
            Some(_) => {}
            None => {
                return Err(DecodeError::Corrupt(format!(
                    "image data ends after {y} of {} rows",
                    header.height
                )))
            }
        }
    }
    Ok(())
}

/// Decodes `window` of the TIFF image that `reader` reads, reading only the strips or tiles the
/// window meets: with a reader that fetches byte ranges, the rest of the file is never read.
pub fn decode_tiff_window<R: Read + Seek>(
    reader: R,
    header: &Header,
    window: Window,
    conversion: Conversion,
) -> Result<Pixels, DecodeError> {
    decode_tiff_page_window(reader, 0, header, window, conversion)
}

/// Decodes `window` of page `page` (0-based; `header` is that page's, from
/// [`crate::header::sniff_tiff_page`]) of a multi-page TIFF. Only the directories up to the page
/// and the strips or tiles the window meets are read: other pages' pixels never are.
pub fn decode_tiff_page_window<R: Read + Seek>(
    mut reader: R,
    page: usize,
    header: &Header,
    window: Window,
    conversion: Conversion,
) -> Result<Pixels, DecodeError> {
    let mut sink = Sink::new(window, header, conversion)?;
    // The caller may have read the header through the same reader.
    reader
        .rewind()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    if window.meets(header.width, header.height) {
        tiff_bits_supported(header)?;
        tiff_chunks(reader, page, &mut sink)?;
    }
    sink.finish()
}

/// The TIFF decoder hands sub-byte samples (bilevel, 4-bit) over still packed, which no cast
/// here would read correctly: refuse them by name instead.
fn tiff_bits_supported(header: &Header) -> Result<(), DecodeError> {
    match header.bits {
        8 | 16 | 32 | 64 => Ok(()),
        bits => Err(DecodeError::Unsupported(format!(
            "{bits}-bit TIFF samples (convert the files to 8 or 16 bits)"
        ))),
    }
}

fn tiff_chunks<R: Read + Seek>(reader: R, page: usize, sink: &mut Sink) -> Result<(), DecodeError> {
    use tiff::decoder::{ChunkType, Decoder, DecodingResult as D};
    let corrupt = |e: tiff::TiffError| match e {
        tiff::TiffError::UnsupportedError(u) => DecodeError::Unsupported(u.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    };
    let mut decoder = Decoder::new(reader).map_err(corrupt)?;
    crate::header::seek_to_page(&mut decoder, page)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let planar = decoder
        .find_tag_unsigned::<u16>(tiff::tags::Tag::PlanarConfiguration)
        .map_err(corrupt)?;
    if planar == Some(2) && sink.channels > 1 {
        return Err(DecodeError::Unsupported(
            "TIFF with separate colour planes (PlanarConfiguration 2)".into(),
        ));
    }
    let (chunk_w, chunk_h) = decoder.chunk_dimensions();
    let (chunk_w, chunk_h) = (u64::from(chunk_w.max(1)), u64::from(chunk_h.max(1)));
    let across = match decoder.get_chunk_type() {
        ChunkType::Strip => 1,
        ChunkType::Tile => sink.image_width.div_ceil(chunk_w),
    };
    let (first, end) = sink.rows();
    let w = sink.window;
    let (col_first, col_end) = match decoder.get_chunk_type() {
        ChunkType::Strip => (0, 1),
        ChunkType::Tile => (
            w.x0 / chunk_w,
            (w.x0 + u64::from(w.width))
                .min(sink.image_width)
                .div_ceil(chunk_w),
        ),
    };
    for chunk_row in first / chunk_h..end.div_ceil(chunk_h) {
        for col in col_first..col_end {
            let index = u32::try_from(chunk_row * across + col)
                .map_err(|_| DecodeError::Corrupt("chunk index overflows".into()))?;
            let data = decoder.read_chunk(index).map_err(corrupt)?;
            let data_w = u64::from(decoder.chunk_data_dimensions(index).0);
            let row_len = data_w as usize * sink.channels;
            let (y0, x0) = (chunk_row * chunk_h, col * chunk_w);
            macro_rules! rows {
                ($v:expr, $variant:ident) => {
                    for (i, row) in $v.chunks_exact(row_len.max(1)).enumerate() {
                        sink.put(y0 + i as u64, x0, Samples::$variant(row));
                    }
                };
            }
            match &data {
                D::U8(v) => rows!(v, U8),
                D::U16(v) => rows!(v, U16),
                D::U32(v) => rows!(v, U32),
                D::U64(v) => rows!(v, U64),
                D::I8(v) => rows!(v, I8),
                D::I16(v) => rows!(v, I16),
                D::I32(v) => rows!(v, I32),
                D::I64(v) => rows!(v, I64),
                D::F32(v) => rows!(v, F32),
                D::F64(v) => rows!(v, F64),
                D::F16(_) => {
                    return Err(DecodeError::Unsupported(
                        "16-bit floating point TIFF".into(),
                    ))
                }
            }
        }
    }
    Ok(())
}

fn jpeg_rows(bytes: &[u8], sink: &mut Sink) -> Result<(), DecodeError> {
    use image::ImageDecoder;
    let corrupt = |e: image::ImageError| DecodeError::Corrupt(e.to_string());
    let decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes)).map_err(corrupt)?;
    // The codec converts CMYK and YCbCr to RGB; describe what it hands over, not the file.
    let channels = usize::from(decoder.color_type().channel_count());
    sink.channels = channels;
    sink.luma = if channels >= 3 {
        Luma::Rgb
    } else {
        Luma::First
    };
    sink.range = sample_range(SampleKind::Uint, 8);
    let width = decoder.dimensions().0 as usize;
    let mut buf = vec![0; decoder.total_bytes() as usize];
    decoder.read_image(&mut buf).map_err(corrupt)?;
    let (first, end) = sink.rows();
    let line = width * channels;
    for y in first..end {
        let start = y as usize * line;
        sink.put(y, 0, Samples::U8(&buf[start..start + line]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::png;
    use crate::header::sniff;
    use image::ExtendedColorType;
    use tiff::encoder::{colortype, TiffEncoder};

    /// A pattern in which every pixel differs from its neighbours, so a shifted crop shows.
    fn value(x: u64, y: u64) -> u64 {
        (x * 7 + y * 131 + 1) % 65521
    }

    /// The tile a window should give: the pattern inside the image, zero outside.
    fn expected(w: Window, img_w: u64, img_h: u64, dtype: TileDtype, mask: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for y in w.y0..w.y0 + u64::from(w.height) {
            for x in w.x0..w.x0 + u64::from(w.width) {
                let v = if x < img_w && y < img_h {
                    value(x, y) & mask
                } else {
                    0
                };
                out.extend_from_slice(&v.to_le_bytes()[..dtype.bytes()]);
            }
        }
        out
    }

    fn win(x0: u64, y0: u64, width: u32, height: u32) -> Window {
        Window {
            x0,
            y0,
            width,
            height,
        }
    }

    fn check(bytes: &[u8], img_w: u64, img_h: u64, dtype: TileDtype, mask: u64, w: Window) {
        let header = sniff(bytes).unwrap();
        let got = decode_window(bytes, &header, w, Conversion::Exact(dtype)).unwrap();
        assert_eq!(
            (got.width, got.height, got.dtype),
            (w.width, w.height, dtype)
        );
        assert!(
            got.data == expected(w, img_w, img_h, dtype, mask),
            "pixels differ for window {w:?} of a {img_w}×{img_h} image"
        );
    }

    fn u8_png(w: u32, h: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..u64::from(h))
            .flat_map(|y| (0..u64::from(w)).map(move |x| value(x, y) as u8))
            .collect();
        png(w, h, ExtendedColorType::L8, &data)
    }

    fn u16_tiff(w: u32, h: u32) -> Vec<u8> {
        let data: Vec<u16> = (0..u64::from(h))
            .flat_map(|y| (0..u64::from(w)).map(move |x| value(x, y) as u16))
            .collect();
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray16>(w, h, &data)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn u8_png_crop_and_pad() {
        let bytes = u8_png(100, 60);
        // Whole image, an inner crop, a right/bottom edge tile that needs padding.
        check(&bytes, 100, 60, TileDtype::U8, 0xFF, win(0, 0, 100, 60));
        check(&bytes, 100, 60, TileDtype::U8, 0xFF, win(32, 16, 32, 16));
        check(&bytes, 100, 60, TileDtype::U8, 0xFF, win(64, 48, 64, 32));
        // Smaller than the tile altogether.
        check(&bytes, 100, 60, TileDtype::U8, 0xFF, win(0, 0, 128, 128));
    }

    #[test]
    fn u16_png_crop() {
        let data: Vec<u8> = (0..40u64)
            .flat_map(|y| (0..50u64).flat_map(move |x| (value(x, y) as u16).to_ne_bytes()))
            .collect();
        let bytes = png(50, 40, ExtendedColorType::L16, &data);
        check(&bytes, 50, 40, TileDtype::U16, 0xFFFF, win(16, 16, 16, 16));
        check(&bytes, 50, 40, TileDtype::U16, 0xFFFF, win(32, 32, 32, 32));
    }

    /// An Adam7-interlaced 8-bit gray PNG, built by hand: the png crate cannot write one.
    /// Stored (uncompressed) deflate blocks keep the zlib stream trivial.
    fn interlaced_png(w: u32, h: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        const PASSES: [(u32, u32, u32, u32); 7] = [
            (0, 0, 8, 8),
            (4, 0, 8, 8),
            (0, 4, 4, 8),
            (2, 0, 4, 4),
            (0, 2, 2, 4),
            (1, 0, 2, 2),
            (0, 1, 1, 2),
        ];
        let mut raw = Vec::new();
        for (x0, y0, dx, dy) in PASSES {
            if x0 >= w || y0 >= h {
                continue;
            }
            for y in (y0..h).step_by(dy as usize) {
                raw.push(0); // filter: none
                raw.extend((x0..w).step_by(dx as usize).map(|x| pixel(x, y)));
            }
        }
        let mut z = vec![0x78, 0x01];
        let blocks: Vec<&[u8]> = raw.chunks(65535).collect();
        for (i, block) in blocks.iter().enumerate() {
            z.push(u8::from(i + 1 == blocks.len()));
            let len = block.len() as u16;
            z.extend(len.to_le_bytes());
            z.extend((!len).to_le_bytes());
            z.extend_from_slice(block);
        }
        let (a, b) = raw.iter().fold((1u32, 0u32), |(a, b), &v| {
            let a = (a + u32::from(v)) % 65521;
            (a, (b + a) % 65521)
        });
        z.extend(((b << 16) | a).to_be_bytes());
        let crc = |data: &[u8]| {
            let mut c = 0xFFFF_FFFFu32;
            for &byte in data {
                c ^= u32::from(byte);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        };
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            out.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            out.extend_from_slice(&body);
            out.extend(crc(&body).to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 1]); // 8-bit gray, deflate, adaptive filters, Adam7
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &z);
        chunk(b"IEND", &[]);
        out
    }

    #[test]
    fn interlaced_png_crop_and_pad() {
        let bytes = interlaced_png(21, 13, |x, y| value(u64::from(x), u64::from(y)) as u8);
        let reader = png::Decoder::new(Cursor::new(&bytes[..]))
            .read_info()
            .unwrap();
        assert!(reader.info().interlaced);
        check(&bytes, 21, 13, TileDtype::U8, 0xFF, win(0, 0, 21, 13));
        check(&bytes, 21, 13, TileDtype::U8, 0xFF, win(16, 8, 16, 8));
    }

    #[test]
    fn u16_tiff_crop_and_pad_reads_only_needed_strips() {
        let bytes = u16_tiff(300, 200);
        check(
            &bytes,
            300,
            200,
            TileDtype::U16,
            0xFFFF,
            win(0, 0, 128, 128),
        );
        check(
            &bytes,
            300,
            200,
            TileDtype::U16,
            0xFFFF,
            win(128, 128, 128, 128),
        );
        check(
            &bytes,
            300,
            200,
            TileDtype::U16,
            0xFFFF,
            win(256, 128, 128, 128),
        );
    }

    /// A tiled (not stripped), uncompressed 8-bit gray TIFF, built by hand: the tiff crate only
    /// writes strips. Edge tiles are stored padded to the full tile size, as the format requires.
    fn tiled_tiff(w: u32, h: u32, tile: u32, pixel: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let (across, down) = (w.div_ceil(tile), h.div_ceil(tile));
        let mut data = Vec::new();
        let mut offsets = Vec::new();
        for ty in 0..down {
            for tx in 0..across {
                offsets.push(8 + data.len() as u32);
                for y in ty * tile..(ty + 1) * tile {
                    for x in tx * tile..(tx + 1) * tile {
                        data.push(if x < w && y < h { pixel(x, y) } else { 0xEE });
                    }
                }
            }
        }
        let n = offsets.len() as u32;
        let arrays = 8 + data.len() as u32;
        let ifd = arrays + 8 * n;
        let mut out = b"II*\0".to_vec();
        out.extend(ifd.to_le_bytes());
        out.extend(&data);
        out.extend(offsets.iter().flat_map(|o| o.to_le_bytes()));
        out.extend((0..n).flat_map(|_| (tile * tile).to_le_bytes()));
        // (tag, type, count, value): type 3 = SHORT, 4 = LONG.
        let entries: [(u16, u16, u32, u32); 10] = [
            (256, 4, 1, w),
            (257, 4, 1, h),
            (258, 3, 1, 8),
            (259, 3, 1, 1),
            (262, 3, 1, 1),
            (277, 3, 1, 1),
            (322, 4, 1, tile),
            (323, 4, 1, tile),
            (324, 4, n, arrays),
            (325, 4, n, arrays + 4 * n),
        ];
        out.extend((entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend(tag.to_le_bytes());
            out.extend(kind.to_le_bytes());
            out.extend(count.to_le_bytes());
            out.extend(value.to_le_bytes());
        }
        out.extend(0u32.to_le_bytes());
        out
    }

    #[test]
    fn tiled_tiff_crop_and_pad() {
        let bytes = tiled_tiff(40, 24, 16, |x, y| value(u64::from(x), u64::from(y)) as u8);
        let decoder = tiff::decoder::Decoder::new(Cursor::new(&bytes[..])).unwrap();
        assert_eq!(decoder.get_chunk_type(), tiff::decoder::ChunkType::Tile);
        // Windows inside one tile, across tiles, and over the padded right/bottom edge.
        check(&bytes, 40, 24, TileDtype::U8, 0xFF, win(0, 0, 16, 16));
        check(&bytes, 40, 24, TileDtype::U8, 0xFF, win(8, 8, 16, 16));
        check(&bytes, 40, 24, TileDtype::U8, 0xFF, win(32, 16, 16, 16));
        check(&bytes, 40, 24, TileDtype::U8, 0xFF, win(0, 0, 64, 32));
    }

    #[test]
    fn u64_tiff() {
        let data: Vec<u64> = (0..20u64)
            .flat_map(|y| (0..30u64).map(move |x| value(x, y) << 40))
            .collect();
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray64>(30, 20, &data)
            .unwrap();
        let bytes = out.into_inner();
        let header = sniff(&bytes).unwrap();
        let w = win(16, 16, 16, 16);
        let got = decode_window(&bytes, &header, w, Conversion::Exact(TileDtype::U64)).unwrap();
        let want: Vec<u8> = (16..32u64)
            .flat_map(|y| {
                (16..32u64).flat_map(move |x| {
                    let v = if x < 30 && y < 20 {
                        value(x, y) << 40
                    } else {
                        0
                    };
                    v.to_le_bytes()
                })
            })
            .collect();
        assert!(got.data == want);
    }

    #[test]
    fn jpeg_crop_and_pad() {
        // JPEG is lossy: use flat 8×8 blocks, which survive quality 100 exactly.
        let (w, h) = (48u32, 40u32);
        let block = |x: u32, y: u32| ((x / 8) * 40 + (y / 8) * 9) as u8;
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| block(x, y)))
            .collect();
        let bytes = crate::fixtures::jpeg_gray(w, h, &data);
        let header = sniff(&bytes).unwrap();
        let window = win(32, 32, 32, 32);
        let got = decode_window(&bytes, &header, window, Conversion::Exact(TileDtype::U8)).unwrap();
        for ty in 0..32u32 {
            for tx in 0..32u32 {
                let (x, y) = (32 + tx, 32 + ty);
                let want = if x < w && y < h { block(x, y) } else { 0 };
                let v = got.data[(ty * 32 + tx) as usize];
                assert!(
                    v.abs_diff(want) <= 1,
                    "pixel ({x},{y}) is {v}, expected {want}"
                );
            }
        }
    }

    #[test]
    fn window_outside_the_image_is_black() {
        let bytes = u8_png(10, 10);
        let header = sniff(&bytes).unwrap();
        let got = decode_window(
            &bytes,
            &header,
            win(10, 0, 10, 10),
            Conversion::Exact(TileDtype::U8),
        )
        .unwrap();
        assert_eq!(got, Pixels::zeros(10, 10, TileDtype::U8));
    }

    #[test]
    fn casts_rgb_png_by_luma() {
        // Pure red, green, blue and white pixels.
        let data = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        let bytes = png(4, 1, ExtendedColorType::Rgb8, &data);
        let header = sniff(&bytes).unwrap();
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 4, 1), cast).unwrap();
        assert_eq!(got.data, vec![76, 150, 29, 255]);
    }

    #[test]
    fn casts_palette_png_and_rgb16_png_by_luma() {
        let mut bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut bytes, 3, 1);
            enc.set_color(png::ColorType::Indexed);
            enc.set_depth(png::BitDepth::Eight);
            enc.set_palette(vec![255, 0, 0, 0, 0, 255, 10, 10, 10]);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[2, 0, 1]).unwrap();
        }
        let header = sniff(&bytes).unwrap();
        assert_eq!(header.color, Color::Palette);
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 3, 1), cast).unwrap();
        assert_eq!(got.data, vec![10, 76, 29]);

        // 16-bit RGB, scaled to uint8: white → 255, mid-grey 32896 → 128.
        let rgb16: Vec<u8> = [65535u16, 65535, 65535, 32896, 32896, 32896]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        let bytes = png(2, 1, ExtendedColorType::Rgb16, &rgb16);
        let header = sniff(&bytes).unwrap();
        let cast = Conversion::Cast("scale_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 2, 1), cast).unwrap();
        assert_eq!(got.data, vec![255, 128]);
    }

    #[test]
    fn casts_rgb_jpeg_by_luma() {
        use image::ImageEncoder;
        // A flat colour survives JPEG nearly exactly; luma of (200, 100, 50) is 124.25.
        let data: Vec<u8> = (0..16 * 16).flat_map(|_| [200u8, 100, 50]).collect();
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 100)
            .write_image(&data, 16, 16, ExtendedColorType::Rgb8)
            .unwrap();
        let header = sniff(&bytes).unwrap();
        assert_eq!(header.dtype_description(), "RGB uint8");
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 16, 16), cast).unwrap();
        assert!(
            got.data.iter().all(|v| v.abs_diff(124) <= 2),
            "{:?}",
            &got.data[..8]
        );
    }

    #[test]
    fn casts_int32_and_float_tiff() {
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::GrayI32>(4, 1, &[-7, 12, 300, i32::MAX])
            .unwrap();
        let bytes = out.into_inner();
        let header = sniff(&bytes).unwrap();
        let clip = Conversion::Cast("clip_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 4, 1), clip).unwrap();
        assert_eq!(got.data, vec![0, 12, 255, 255]);
        let scale = Conversion::Cast("scale_uint16".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 4, 1), scale).unwrap();
        let last = u16::from_le_bytes([got.data[6], got.data[7]]);
        assert_eq!(last, 65535);

        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray32Float>(3, 1, &[0.0, 0.5, 1.0])
            .unwrap();
        let bytes = out.into_inner();
        let header = sniff(&bytes).unwrap();
        let scale = Conversion::Cast("scale_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 3, 1), scale).unwrap();
        assert_eq!(got.data, vec![0, 128, 255]);
    }

    #[test]
    fn bilevel_tiff_is_refused_even_with_a_cast() {
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::Gray8>(8, 1, &[0; 8])
            .unwrap();
        let bytes = out.into_inner();
        let mut header = sniff(&bytes).unwrap();
        header.bits = 1; // as a bilevel file's header would say
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        assert_eq!(
            decode_window(&bytes, &header, win(0, 0, 8, 1), cast),
            Err(DecodeError::Unsupported(
                "1-bit TIFF samples (convert the files to 8 or 16 bits)".into()
            ))
        );
    }

    #[test]
    fn data_that_contradicts_the_header_is_corrupt_not_a_panic() {
        let bytes = u8_png(4, 4);
        let mut header = sniff(&bytes).unwrap();
        header.bits = 16; // a header claiming 16-bit over 8-bit data
        let err = decode_window(
            &bytes,
            &header,
            win(0, 0, 4, 4),
            Conversion::Exact(TileDtype::U16),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DecodeError::Corrupt(
                "the pixel data does not match the sample type its header declares".into()
            )
        );
    }

    #[test]
    fn cmyk_tiff_is_refused_by_name() {
        let mut out = Cursor::new(Vec::new());
        TiffEncoder::new(&mut out)
            .unwrap()
            .write_image::<colortype::CMYK8>(1, 1, &[0, 0, 0, 0])
            .unwrap();
        let bytes = out.into_inner();
        let header = sniff(&bytes).unwrap();
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        assert_eq!(
            decode_window(&bytes, &header, win(0, 0, 1, 1), cast),
            Err(DecodeError::Unsupported(
                "CMYK uint8 TIFF images to gray".into()
            ))
        );
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let bytes = u8_png(64, 64);
        let cut = &bytes[..bytes.len() / 2];
        let header = sniff(cut).unwrap();
        let err = decode_window(
            cut,
            &header,
            win(0, 0, 64, 64),
            Conversion::Exact(TileDtype::U8),
        )
        .unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }
}
