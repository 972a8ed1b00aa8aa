//! Voxel by voxel: what the source would upload against what the cutout holds.

use crate::chunk::{Chunk, Xyz};

/// Compares a chunk with the raw cutout of its box (`max` voxels, z, y, x order, little-endian);
/// voxels past the chunk's own data must be zero. Returns how many voxels differ.
pub fn differing_chunk_voxels(chunk: &Chunk, stored: &[u8], max: Xyz) -> Result<u64, String> {
    let size = chunk.dtype().size();
    let want_len = (max.x * max.y * max.z) as usize * size;
    if stored.len() != want_len {
        return Err(format!(
            "the cutout holds {} bytes, expected {want_len} ({max} voxels of {size} byte(s)): \
             the channel's dtype differs from the chunk's",
            stored.len()
        ));
    }
    let zero = vec![0u8; size];
    let mut differ = 0;
    let mut at = 0;
    for z in 0..max.z {
        for y in 0..max.y {
            for x in 0..max.x {
                let source = chunk.voxel(x, y, z).unwrap_or(&zero);
                if source != &stored[at..at + size] {
                    differ += 1;
                }
                at += size;
            }
        }
    }
    Ok(differ)
}

/// Compares the `w × h` top-left window of an encoded tile with raw cutout voxels (z, y, x order,
/// little-endian). Returns how many voxels differ.
pub fn differing_voxels(tile: &[u8], stored: &[u8], (w, h): (u64, u64)) -> Result<u64, String> {
    let image =
        image::load_from_memory(tile).map_err(|e| format!("cannot decode the tile: {e}"))?;
    let (tw, th) = (u64::from(image.width()), u64::from(image.height()));
    if tw < w || th < h {
        return Err(format!(
            "the tile is {tw}×{th}, smaller than the {w}×{h} it must cover"
        ));
    }
    let (pixels, size): (Vec<u64>, usize) = match image {
        image::DynamicImage::ImageLuma8(b) => {
            (b.into_raw().into_iter().map(u64::from).collect(), 1)
        }
        image::DynamicImage::ImageLuma16(b) => {
            (b.into_raw().into_iter().map(u64::from).collect(), 2)
        }
        other => {
            return Err(format!(
                "the tile is {:?}, not single-channel gray",
                other.color()
            ))
        }
    };
    let want_len = (w * h) as usize * size;
    if stored.len() != want_len {
        return Err(format!(
            "the cutout holds {} bytes, expected {want_len} ({w}×{h} voxels of {size} byte(s)): \
             the channel's dtype differs from the tile's",
            stored.len()
        ));
    }
    let mut differ = 0;
    for y in 0..h {
        for x in 0..w {
            let source = pixels[(y * tw + x) as usize];
            let at = ((y * w + x) as usize) * size;
            let mut value = 0u64;
            for (i, byte) in stored[at..at + size].iter().enumerate() {
                value |= u64::from(*byte) << (8 * i);
            }
            if value != source {
                differ += 1;
            }
        }
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png8(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn counts_differences_inside_the_window_only() {
        let tile = png8(4, 4, |x, y| (x + 10 * y) as u8);
        // The 3×2 window of the tile, with one voxel changed.
        let mut stored: Vec<u8> = vec![0, 1, 2, 10, 11, 12];
        assert_eq!(differing_voxels(&tile, &stored, (3, 2)), Ok(0));
        stored[4] = 99;
        assert_eq!(differing_voxels(&tile, &stored, (3, 2)), Ok(1));
    }

    #[test]
    fn a_dtype_mismatch_is_named() {
        let tile = png8(2, 2, |_, _| 1);
        let err = differing_voxels(&tile, &[1; 8], (2, 2)).unwrap_err();
        assert!(err.contains("the channel's dtype differs"), "{err}");
    }
}
