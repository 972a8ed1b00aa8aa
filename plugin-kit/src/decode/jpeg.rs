//! JPEG: decoded whole (baseline JPEG has no cheap way to a window's rows), then the window's rows
//! handed on. The codec turns CMYK and YCbCr into RGB itself.

use std::io::Cursor;

use super::sink::{sample_range, Luma, Samples, Sink};
use super::DecodeError;
use crate::header::SampleKind;

/// Feeds the rows of the JPEG in `bytes` that the sink's window needs to `sink`.
pub(super) fn rows(bytes: &[u8], sink: &mut Sink) -> Result<(), DecodeError> {
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
    use super::super::tests::win;
    use crate::decode::{decode_window, Conversion};
    use crate::header::sniff;
    use image::ExtendedColorType;
    use plugin_abi::Dtype;

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
        let got = decode_window(&bytes, &header, window, Conversion::Exact(Dtype::U8)).unwrap();
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
}
