//! Small encoded images for tests, so that each plugin's tests need no encoder helper of their own.
//!
//! Behind the `fixtures` feature, which plugins enable in their dev-dependencies: the libraries
//! the host links carry none of it. The kit's own tests always have it.

use std::io::Cursor;

use ::tiff::encoder::{TiffEncoder, TiffValue};
use image::ImageEncoder;

/// The colour types [`tiff`] takes (`Gray16`, `GrayI32`, `Gray32Float`, `CMYK8`, ...), so tests
/// need no `tiff` dependency of their own.
pub use ::tiff::encoder::colortype;
/// The colour types [`png`] takes, so tests need no `image` dependency of their own.
pub use image::ExtendedColorType;

/// A PNG of `width`×`height` pixels of `color` (16-bit samples in native byte order, as `image`
/// takes them).
pub fn png(width: u32, height: u32, color: ExtendedColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(data, width, height, color)
        .expect("the data is width×height pixels of the colour type, so it encodes");
    out
}

/// A gray JPEG at quality 100 (flat 8×8 blocks come back from it exactly).
pub fn jpeg_gray(width: u32, height: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .write_image(data, width, height, ExtendedColorType::L8)
        .expect("the data is width×height gray pixels, so it encodes");
    out
}

/// A one-page TIFF of `width`×`height` pixels of the colour type `C`, in strips, as most scanners
/// and `tifffile` write them: `tiff::<colortype::Gray16>(w, h, &samples)`.
pub fn tiff<C: colortype::ColorType>(width: u32, height: u32, data: &[C::Inner]) -> Vec<u8>
where
    [C::Inner]: TiffValue,
{
    let mut out = Cursor::new(Vec::new());
    TiffEncoder::new(&mut out)
        .and_then(|mut encoder| encoder.write_image::<C>(width, height, data))
        .expect("the data is width×height pixels of the colour type, so it encodes");
    out.into_inner()
}
