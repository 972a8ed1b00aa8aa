//! PNG: the rows a window needs, inflated row by row (PNG is one compressed stream, so rows
//! before the window are inflated but not copied, rows after it never), or, for interlaced files,
//! the whole frame.

use std::io::Cursor;

use super::sink::{sample_range, Luma, Samples, Sink};
use super::{Conversion, DecodeError};
use crate::header::{Header, SampleKind};

/// Feeds the rows of the PNG in `bytes` that the sink's window needs to `sink`.
pub(super) fn rows(bytes: &[u8], header: &Header, sink: &mut Sink) -> Result<(), DecodeError> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::{check, u8_png, value, win};
    use crate::decode::{decode_window, Conversion, DecodeError};
    use crate::fixtures::png;
    use crate::header::{sniff, Color};
    use image::ExtendedColorType;
    use plugin_abi::Dtype;
    use std::io::Cursor;

    #[test]
    fn u8_png_crop_and_pad() {
        let bytes = u8_png(100, 60);
        // Whole image, an inner crop, a right/bottom edge tile that needs padding.
        check(&bytes, 100, 60, Dtype::U8, 0xFF, win(0, 0, 100, 60));
        check(&bytes, 100, 60, Dtype::U8, 0xFF, win(32, 16, 32, 16));
        check(&bytes, 100, 60, Dtype::U8, 0xFF, win(64, 48, 64, 32));
        // Smaller than the tile altogether.
        check(&bytes, 100, 60, Dtype::U8, 0xFF, win(0, 0, 128, 128));
    }

    #[test]
    fn u16_png_crop() {
        let data: Vec<u8> = (0..40u64)
            .flat_map(|y| (0..50u64).flat_map(move |x| (value(x, y) as u16).to_ne_bytes()))
            .collect();
        let bytes = png(50, 40, ExtendedColorType::L16, &data);
        check(&bytes, 50, 40, Dtype::U16, 0xFFFF, win(16, 16, 16, 16));
        check(&bytes, 50, 40, Dtype::U16, 0xFFFF, win(32, 32, 32, 32));
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
        check(&bytes, 21, 13, Dtype::U8, 0xFF, win(0, 0, 21, 13));
        check(&bytes, 21, 13, Dtype::U8, 0xFF, win(16, 8, 16, 8));
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
    fn truncated_png_is_corrupt() {
        let bytes = u8_png(64, 64);
        let cut = &bytes[..bytes.len() / 2];
        let header = sniff(cut).unwrap();
        let err = decode_window(
            cut,
            &header,
            win(0, 0, 64, 64),
            Conversion::Exact(Dtype::U8),
        )
        .unwrap_err();
        assert!(matches!(err, DecodeError::Corrupt(_)), "{err:?}");
    }
}
