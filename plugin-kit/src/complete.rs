//! Whether an encoded image file is whole: a file still being written (or abandoned half way)
//! has a valid header and the right size in it, so only its end tells. This matters where a
//! file's bytes are uploaded unchanged (pass-through), because nothing decodes them before the
//! Boss does: a truncated file would be stored as a broken tile.
//!
//! The checks are cheap and need no decoding: PNG ends with its IEND chunk, JPEG with its EOI
//! marker, and every strip or tile a TIFF's first image points at lies inside the file.

use std::io::Cursor;

use crate::header::Format;

/// PNG's last chunk: length 0, type `IEND`, its CRC.
const PNG_IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];

/// `Ok` when `bytes` hold a whole file of `format`; else why it is cut short.
pub fn check_complete(bytes: &[u8], format: Format) -> Result<(), String> {
    match format {
        Format::Png if bytes.ends_with(&PNG_IEND) => Ok(()),
        Format::Png => Err(format!(
            "the PNG file ends after {} bytes without its IEND chunk: it is truncated (still \
             being written, or cut short)",
            bytes.len()
        )),
        Format::Jpeg => {
            // Some writers pad after the end-of-image marker.
            let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            if bytes[..end].ends_with(&[0xFF, 0xD9]) {
                Ok(())
            } else {
                Err(format!(
                    "the JPEG file ends after {} bytes without its end-of-image marker: it is \
                     truncated (still being written, or cut short)",
                    bytes.len()
                ))
            }
        }
        Format::Tiff => tiff_complete(bytes),
    }
}

fn tiff_complete(bytes: &[u8]) -> Result<(), String> {
    use tiff::tags::Tag;
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| {
        format!(
            "the TIFF file's image directory cannot be read ({e}): it is truncated (still being \
             written, or cut short) or damaged"
        )
    })?;
    let pairs = [
        (Tag::StripOffsets, Tag::StripByteCounts),
        (Tag::TileOffsets, Tag::TileByteCounts),
    ];
    for (offsets, counts) in pairs {
        let (Ok(offsets), Ok(counts)) = (
            decoder.get_tag_u64_vec(offsets),
            decoder.get_tag_u64_vec(counts),
        ) else {
            continue;
        };
        let len = bytes.len() as u64;
        if let Some((o, c)) = offsets
            .iter()
            .zip(&counts)
            .find(|(o, c)| o.saturating_add(**c) > len)
        {
            return Err(format!(
                "the TIFF file ends after {len} bytes, but its image data reaches byte {}: it \
                 is truncated (still being written, or cut short)",
                o.saturating_add(*c)
            ));
        }
        return Ok(());
    }
    Err("the TIFF file names no strips or tiles of image data".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn whole_files_pass_and_every_cut_is_caught() {
        let data: Vec<u8> = (0..64).collect();
        let png = fixtures::png(8, 8, fixtures::ExtendedColorType::L8, &data);
        let tiff = fixtures::tiff::<fixtures::colortype::Gray8>(8, 8, &data);
        for (bytes, format) in [(png, Format::Png), (tiff, Format::Tiff)] {
            assert_eq!(check_complete(&bytes, format), Ok(()), "{format:?}");
            let half = &bytes[..bytes.len() / 2 + 8];
            let e = check_complete(half, format).unwrap_err();
            assert!(e.contains("it is truncated"), "{format:?}: {e}");
        }
        let png = fixtures::png(8, 8, fixtures::ExtendedColorType::L8, &data);
        let e = check_complete(&png[..60], Format::Png).unwrap_err();
        assert_eq!(
            e,
            "the PNG file ends after 60 bytes without its IEND chunk: it is truncated (still \
             being written, or cut short)"
        );
    }

    #[test]
    fn jpeg_needs_its_end_marker_padding_allowed() {
        let jpeg = [0xFF, 0xD8, 0x01, 0x02, 0xFF, 0xD9];
        assert_eq!(check_complete(&jpeg, Format::Jpeg), Ok(()));
        assert_eq!(
            check_complete(&[&jpeg[..], &[0, 0]].concat(), Format::Jpeg),
            Ok(())
        );
        assert!(check_complete(&jpeg[..4], Format::Jpeg).is_err());
    }
}
