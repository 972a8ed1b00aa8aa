//! The bundled test tile `TestPathProcessor` always names.
//!
//! The Python client pointed at a PNG inside its installed package. A shared library has no
//! package directory, so the tile is generated (a PNG of the job's tile size with a fixed
//! gradient) and written once into the system temp directory, where any tile processor reading
//! through the host can read it. The file name carries the size and a content hash, and the file
//! is written under a unique name and renamed into place, so concurrent workers never see a
//! half-written tile and never overwrite a different one.

use std::path::PathBuf;

use image::{codecs::png::PngEncoder, ExtendedColorType, ImageEncoder};
use plugin_abi::PluginError;

/// The test tile's pixel at `(x, y)`: a diagonal gradient, never black.
pub fn pixel(x: u32, y: u32) -> u8 {
    ((x + y) % 250 + 3) as u8
}

/// The encoded test tile.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let data: Vec<u8> = (0..height)
        .flat_map(|y| (0..width).map(move |x| pixel(x, y)))
        .collect();
    let mut out = Vec::new();
    PngEncoder::new(&mut out)
        .write_image(&data, width, height, ExtendedColorType::L8)
        // Encoding a well-formed in-memory L8 buffer into a Vec has no failure mode.
        .expect("encoding the test tile cannot fail");
    out
}

/// Writes the test tile of this size if it is not there yet; its path.
pub fn ensure(width: u32, height: u32) -> Result<String, PluginError> {
    let bytes = png(width, height);
    let path: PathBuf = std::env::temp_dir().join(format!(
        "boss-ingest-test-tile-{width}x{height}-{:016x}.png",
        fnv1a(&bytes)
    ));
    let text = path
        .to_str()
        .ok_or_else(|| PluginError::io(format!("temp dir {path:?} is not UTF-8")))?
        .to_string();
    if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
        return Ok(text);
    }
    let partial = path.with_extension(format!("{}.partial", std::process::id()));
    let fail = |e: std::io::Error| {
        PluginError::io(format!(
            "cannot write the test tile {}: {e}",
            partial.display()
        ))
    };
    std::fs::write(&partial, &bytes).map_err(fail)?;
    std::fs::rename(&partial, &path).map_err(fail)?;
    Ok(text)
}

/// FNV-1a: a stable content hash for the file name (std's hasher is not stable across releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageDecoder;

    #[test]
    fn written_once_and_decodes_to_the_gradient() {
        let path = ensure(24, 16).unwrap();
        assert_eq!(ensure(24, 16).unwrap(), path);
        let bytes = std::fs::read(&path).unwrap();
        let decoder = image::codecs::png::PngDecoder::new(std::io::Cursor::new(&bytes)).unwrap();
        assert_eq!(decoder.dimensions(), (24, 16));
        let mut data = vec![0; 24 * 16];
        decoder.read_image(&mut data).unwrap();
        let want: Vec<u8> = (0..16)
            .flat_map(|y| (0..24).map(move |x| pixel(x, y)))
            .collect();
        assert_eq!(data, want);
        assert_ne!(ensure(32, 16).unwrap(), path);
    }
}
