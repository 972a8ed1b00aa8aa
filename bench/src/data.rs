//! The benchmark's source stacks, generated once and cached.
//!
//! A slice looks like microscopy rather than noise or flat grey: smooth structure plus grain, so
//! PNG compresses it to roughly half, as it does real EM/LM data. Only [`DISTINCT`] slices are
//! really written; the rest of a stack are hard links to them. A 5,120-slice stack then costs the
//! disk (and the page cache) what 32 slices do, while every tile still names its own file, as in a
//! real job. Both clients read the same files, warm in the page cache.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Slices whose pixels really differ; the rest of a stack repeats them.
pub const DISTINCT: u64 = 32;

/// The file name of slice `z` in every stack (the path processor's `base_filename` is
/// `slice_<p:5>`).
pub fn slice_name(z: u64, extension: &str) -> String {
    format!("slice_{z:05}.{extension}")
}

/// A stack of `slices` 1024×1024 uint8 PNG files (the pass-through and re-encode cases).
pub fn png_stack(root: &Path, slices: u64) -> Result<PathBuf> {
    stack(root, "png-u8-1024", slices, "png", |z| {
        let pixels = pattern_u8(1024, 1024, z);
        encode_png_u8(1024, 1024, &pixels)
    })
}

/// A stack of `slices` 2048×2048 uint16 uncompressed TIFF files (the crop case).
pub fn tiff_stack(root: &Path, slices: u64) -> Result<PathBuf> {
    stack(root, "tiff-u16-2048", slices, "tif", |z| {
        let pixels = pattern_u16(2048, 2048, z);
        encode_tiff_u16(2048, 2048, &pixels)
    })
}

fn stack(
    root: &Path,
    name: &str,
    slices: u64,
    extension: &str,
    make: impl Fn(u64) -> Result<Vec<u8>>,
) -> Result<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for z in 0..slices {
        let path = dir.join(slice_name(z, extension));
        if path.exists() {
            continue;
        }
        if z < DISTINCT {
            let bytes = make(z)?;
            // Written under a temporary name first: an interrupted run leaves no half file that a
            // later run would take for a finished one.
            let tmp = dir.join(format!(".{z}.tmp"));
            std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)?;
        } else {
            let original = dir.join(slice_name(z % DISTINCT, extension));
            std::fs::hard_link(&original, &path)
                .with_context(|| format!("linking {} to {}", path.display(), original.display()))?;
        }
    }
    Ok(dir)
}

/// SplitMix64: deterministic grain without a random-number crate.
struct Grain(u64);

impl Grain {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Smooth membranes-and-blobs structure in 0..=1, different for every slice.
fn structure(x: u32, y: u32, z: u64) -> f32 {
    let (x, y, z) = (x as f32, y as f32, z as f32);
    let a = (x / 23.0 + z / 5.0).sin() * (y / 31.0 - z / 7.0).cos();
    let b = ((x + y) / 57.0 + z / 11.0).sin();
    (0.5 + 0.3 * a + 0.2 * b).clamp(0.0, 1.0)
}

/// Uint8 pixels: structure spanning most of the range plus ±8 grain.
pub fn pattern_u8(width: u32, height: u32, z: u64) -> Vec<u8> {
    let mut grain = Grain(z.wrapping_mul(0x5851_F42D_4C95_7F2D) ^ 0xB055);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            let noise = (grain.next() % 17) as f32 - 8.0;
            out.push((structure(x, y, z) * 230.0 + 12.0 + noise).clamp(0.0, 255.0) as u8);
        }
    }
    out
}

/// Uint16 pixels: the same structure over 12 bits (a typical camera) plus grain.
pub fn pattern_u16(width: u32, height: u32, z: u64) -> Vec<u16> {
    let mut grain = Grain(z.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x16);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            let noise = (grain.next() % 129) as f32 - 64.0;
            out.push((structure(x, y, z) * 3800.0 + 100.0 + noise).clamp(0.0, 4095.0) as u16);
        }
    }
    out
}

/// A PNG as an image program would write it (default compression, adaptive filtering), not with
/// the fast settings boss-ingest encodes with.
fn encode_png_u8(width: u32, height: u32, pixels: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Balanced);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}

fn encode_tiff_u16(width: u32, height: u32, pixels: &[u16]) -> Result<Vec<u8>> {
    use tiff::encoder::{colortype::Gray16, TiffEncoder};
    let mut out = std::io::Cursor::new(Vec::new());
    TiffEncoder::new(&mut out)?.write_image::<Gray16>(width, height, pixels)?;
    Ok(out.into_inner())
}
