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
//!
//! # Layout
//! - this file: the window model ([`Window`], [`Conversion`], [`Pixels`], [`DecodeError`]) and
//!   [`decode_window`], which hands an image to its codec;
//! - `sink`: where every codec's rows go: the copy or cast of each sample into the tile;
//! - `png`, `tiff`, `jpeg`: each codec's reading of just the rows, strips or tiles a window
//!   needs.

mod jpeg;
mod png;
mod sink;
mod tiff;

use std::io::Cursor;

use plugin_abi::TileImage;

use crate::cast::Cast;
use crate::header::{Format, Header};
use plugin_abi::Dtype;

use self::sink::Sink;
pub use self::tiff::{decode_tiff_page_window, decode_tiff_window};

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
    Exact(Dtype),
    /// Convert each pixel with the user's cast policy.
    Cast(Cast),
}

impl Conversion {
    pub fn dtype(&self) -> Dtype {
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
    pub dtype: Dtype,
    pub data: Vec<u8>,
}

impl Pixels {
    /// An all-zero (black) tile.
    pub fn zeros(width: u32, height: u32, dtype: Dtype) -> Pixels {
        let len = width as usize * height as usize * dtype.size();
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
            dtype: p.dtype,
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
            Format::Png => self::png::rows(bytes, header, &mut sink)?,
            Format::Tiff => {
                self::tiff::bits_supported(header)?;
                self::tiff::chunks(Cursor::new(bytes), 0, &mut sink)?
            }
            Format::Jpeg => self::jpeg::rows(bytes, &mut sink)?,
        }
    }
    sink.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::png;
    use crate::header::sniff;
    use image::ExtendedColorType;

    /// A pattern in which every pixel differs from its neighbours, so a shifted crop shows.
    pub(super) fn value(x: u64, y: u64) -> u64 {
        (x * 7 + y * 131 + 1) % 65521
    }

    /// The tile a window should give: the pattern inside the image, zero outside.
    pub(super) fn expected(w: Window, img_w: u64, img_h: u64, dtype: Dtype, mask: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for y in w.y0..w.y0 + u64::from(w.height) {
            for x in w.x0..w.x0 + u64::from(w.width) {
                let v = if x < img_w && y < img_h {
                    value(x, y) & mask
                } else {
                    0
                };
                out.extend_from_slice(&v.to_le_bytes()[..dtype.size()]);
            }
        }
        out
    }

    pub(super) fn win(x0: u64, y0: u64, width: u32, height: u32) -> Window {
        Window {
            x0,
            y0,
            width,
            height,
        }
    }

    pub(super) fn check(bytes: &[u8], img_w: u64, img_h: u64, dtype: Dtype, mask: u64, w: Window) {
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

    pub(super) fn u8_png(w: u32, h: u32) -> Vec<u8> {
        let data: Vec<u8> = (0..u64::from(h))
            .flat_map(|y| (0..u64::from(w)).map(move |x| value(x, y) as u8))
            .collect();
        png(w, h, ExtendedColorType::L8, &data)
    }

    #[test]
    fn window_outside_the_image_is_black() {
        let bytes = u8_png(10, 10);
        let header = sniff(&bytes).unwrap();
        let got = decode_window(
            &bytes,
            &header,
            win(10, 0, 10, 10),
            Conversion::Exact(Dtype::U8),
        )
        .unwrap();
        assert_eq!(got, Pixels::zeros(10, 10, Dtype::U8));
    }
}
