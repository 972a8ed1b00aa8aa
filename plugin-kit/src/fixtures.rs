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
    tiff_compressed::<C>(width, height, data, TiffCompression::None)
}

/// How [`tiff_compressed`] compresses the strips: each compression labs' writers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiffCompression {
    None,
    Lzw,
    Deflate,
    /// Deflate after the horizontal differencing predictor (Predictor 2), as `tifffile` writes
    /// with `predictor=True`.
    DeflatePredictor,
    PackBits,
    Zstd,
    /// Lossless WebP: RGB8 or RGBA8 only, as TIFF allows for WebP.
    WebpLossless,
    /// Baseline JPEG at quality 100 ("new-style" JPEG, compression 7): Gray8 only.
    Jpeg,
}

/// A one-page TIFF like [`tiff`], its strips compressed with `compression`. The tiff crate writes
/// the first five itself; for zstd, WebP and JPEG, whose strips it cannot write, the image is one
/// strip made by that codec's encoder, and the directory is written here.
pub fn tiff_compressed<C: colortype::ColorType>(
    width: u32,
    height: u32,
    data: &[C::Inner],
    compression: TiffCompression,
) -> Vec<u8>
where
    [C::Inner]: TiffValue,
{
    use ::tiff::encoder::{compression::DeflateLevel, Compression, Predictor};
    use ::tiff::tags::{CompressionMethod, Tag};
    let by_the_crate = match compression {
        TiffCompression::None => Some((Compression::Uncompressed, Predictor::None)),
        TiffCompression::Lzw => Some((Compression::Lzw, Predictor::None)),
        TiffCompression::Deflate => Some((
            Compression::Deflate(DeflateLevel::Balanced),
            Predictor::None,
        )),
        TiffCompression::DeflatePredictor => Some((
            Compression::Deflate(DeflateLevel::Balanced),
            Predictor::Horizontal,
        )),
        TiffCompression::PackBits => Some((Compression::Packbits, Predictor::None)),
        _ => None,
    };
    let mut out = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).expect("writing to memory does not fail");
    if let Some((compression, predictor)) = by_the_crate {
        encoder
            .with_compression(compression)
            .with_predictor(predictor)
            .write_image::<C>(width, height, data)
            .expect("the data is width×height pixels of the colour type, so it encodes");
        return out.into_inner();
    }
    let samples = data.data();
    let channels = C::BITS_PER_SAMPLE.len();
    let (method, strip) = match compression {
        TiffCompression::Zstd => (
            CompressionMethod::ZSTD,
            zstd::encode_all(&samples[..], 3).expect("zstd compresses memory"),
        ),
        TiffCompression::WebpLossless => {
            let color = match (C::BITS_PER_SAMPLE, channels) {
                ([8, ..], 3) => image_webp::ColorType::Rgb8,
                ([8, ..], 4) => image_webp::ColorType::Rgba8,
                _ => panic!(
                    "WebP in TIFF holds RGB8 or RGBA8, not {:?}",
                    C::BITS_PER_SAMPLE
                ),
            };
            let mut strip = Vec::new();
            image_webp::WebPEncoder::new(&mut strip)
                .encode(&samples, width, height, color)
                .expect("the data is width×height pixels of the colour type, so it encodes");
            (CompressionMethod::WebP, strip)
        }
        TiffCompression::Jpeg => {
            assert_eq!(C::BITS_PER_SAMPLE, [8], "the JPEG fixture is Gray8");
            (
                CompressionMethod::ModernJPEG,
                jpeg_gray(width, height, &samples),
            )
        }
        _ => unreachable!("the tiff crate writes the other compressions"),
    };
    let formats: Vec<u16> = C::SAMPLE_FORMAT.iter().map(|f| f.to_u16()).collect();
    let written = (|| {
        let mut dir = encoder.image_directory()?;
        let offset = u32::try_from(dir.write_data(&strip[..])?).expect("a small fixture");
        dir.write_tag(Tag::ImageWidth, width)?;
        dir.write_tag(Tag::ImageLength, height)?;
        dir.write_tag(Tag::BitsPerSample, C::BITS_PER_SAMPLE)?;
        dir.write_tag(Tag::Compression, method.to_u16())?;
        dir.write_tag(Tag::PhotometricInterpretation, C::TIFF_VALUE.to_u16())?;
        dir.write_tag(Tag::StripOffsets, offset)?;
        dir.write_tag(Tag::SamplesPerPixel, channels as u16)?;
        dir.write_tag(Tag::RowsPerStrip, height)?;
        dir.write_tag(Tag::StripByteCounts, strip.len() as u32)?;
        dir.write_tag(Tag::SampleFormat, &formats[..])?;
        dir.finish()
    })();
    written.expect("writing a directory to memory does not fail");
    out.into_inner()
}
