//! Small encoded images for tests, so that each plugin's tests need no encoder helper of their own.
//!
//! Behind the `fixtures` feature, which plugins enable in their dev-dependencies: the libraries
//! the host links carry none of it. The kit's own tests always have it.

use image::ImageEncoder;

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
