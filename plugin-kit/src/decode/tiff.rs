//! TIFF: only the strips or tiles a window meets, of one page of the file, so that through a
//! reader of byte ranges ([`crate::ranged`]) the rest of a large file is never fetched.

use std::io::{Read, Seek};

use super::sink::{Samples, Sink};
use super::{Conversion, DecodeError, Pixels, Window};
use crate::header::Header;

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
        bits_supported(header)?;
        chunks(reader, page, &mut sink)?;
    }
    sink.finish()
}

/// The TIFF decoder hands sub-byte samples (bilevel, 4-bit) over still packed, which no cast
/// here would read correctly: refuse them by name instead.
pub(super) fn bits_supported(header: &Header) -> Result<(), DecodeError> {
    match header.bits {
        8 | 16 | 32 | 64 => Ok(()),
        bits => Err(DecodeError::Unsupported(format!(
            "{bits}-bit TIFF samples (convert the files to 8 or 16 bits)"
        ))),
    }
}

/// Feeds the rows of the strips or tiles of page `page` that the sink's window meets to `sink`.
pub(super) fn chunks<R: Read + Seek>(
    reader: R,
    page: usize,
    sink: &mut Sink,
) -> Result<(), DecodeError> {
    use ::tiff::decoder::{ChunkType, Decoder, DecodingResult as D};
    let corrupt = |e: ::tiff::TiffError| match e {
        ::tiff::TiffError::UnsupportedError(u) => DecodeError::Unsupported(u.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    };
    let mut decoder = Decoder::new(reader).map_err(corrupt)?;
    crate::header::seek_to_page(&mut decoder, page)
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    let planar = decoder
        .find_tag_unsigned::<u16>(::tiff::tags::Tag::PlanarConfiguration)
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

#[cfg(test)]
mod tests {
    use super::super::tests::{check, value, win};
    use crate::decode::{decode_window, Conversion, DecodeError};
    use crate::fixtures::{colortype, tiff};
    use crate::header::sniff;
    use plugin_abi::Dtype;
    use std::io::Cursor;

    fn u16_tiff(w: u32, h: u32) -> Vec<u8> {
        let data: Vec<u16> = (0..u64::from(h))
            .flat_map(|y| (0..u64::from(w)).map(move |x| value(x, y) as u16))
            .collect();
        tiff::<colortype::Gray16>(w, h, &data)
    }

    #[test]
    fn u16_tiff_crop_and_pad_reads_only_needed_strips() {
        let bytes = u16_tiff(300, 200);
        check(&bytes, 300, 200, Dtype::U16, 0xFFFF, win(0, 0, 128, 128));
        check(
            &bytes,
            300,
            200,
            Dtype::U16,
            0xFFFF,
            win(128, 128, 128, 128),
        );
        check(
            &bytes,
            300,
            200,
            Dtype::U16,
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
        let decoder = ::tiff::decoder::Decoder::new(Cursor::new(&bytes[..])).unwrap();
        assert_eq!(decoder.get_chunk_type(), ::tiff::decoder::ChunkType::Tile);
        // Windows inside one tile, across tiles, and over the padded right/bottom edge.
        check(&bytes, 40, 24, Dtype::U8, 0xFF, win(0, 0, 16, 16));
        check(&bytes, 40, 24, Dtype::U8, 0xFF, win(8, 8, 16, 16));
        check(&bytes, 40, 24, Dtype::U8, 0xFF, win(32, 16, 16, 16));
        check(&bytes, 40, 24, Dtype::U8, 0xFF, win(0, 0, 64, 32));
    }

    #[test]
    fn u64_tiff() {
        let data: Vec<u64> = (0..20u64)
            .flat_map(|y| (0..30u64).map(move |x| value(x, y) << 40))
            .collect();
        let bytes = tiff::<colortype::Gray64>(30, 20, &data);
        let header = sniff(&bytes).unwrap();
        let w = win(16, 16, 16, 16);
        let got = decode_window(&bytes, &header, w, Conversion::Exact(Dtype::U64)).unwrap();
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
    fn casts_int32_and_float_tiff() {
        let bytes = tiff::<colortype::GrayI32>(4, 1, &[-7, 12, 300, i32::MAX]);
        let header = sniff(&bytes).unwrap();
        let clip = Conversion::Cast("clip_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 4, 1), clip).unwrap();
        assert_eq!(got.data, vec![0, 12, 255, 255]);
        let scale = Conversion::Cast("scale_uint16".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 4, 1), scale).unwrap();
        let last = u16::from_le_bytes([got.data[6], got.data[7]]);
        assert_eq!(last, 65535);

        let bytes = tiff::<colortype::Gray32Float>(3, 1, &[0.0, 0.5, 1.0]);
        let header = sniff(&bytes).unwrap();
        let scale = Conversion::Cast("scale_uint8".parse().unwrap());
        let got = decode_window(&bytes, &header, win(0, 0, 3, 1), scale).unwrap();
        assert_eq!(got.data, vec![0, 128, 255]);
    }

    #[test]
    fn bilevel_tiff_is_refused_even_with_a_cast() {
        let bytes = tiff::<colortype::Gray8>(8, 1, &[0; 8]);
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
}
