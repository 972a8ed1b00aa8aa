//! Writes the sample stack `scripts/demo` ingests: `slice_<z>.png`, 2048×2048 uint8 grayscale,
//! voxel (x, y, z) = (7x + 13y + 31z) mod 251, so every slice and row differs from its
//! neighbours and a misplaced tile shows in `verify`. A Rust example rather than a script so the
//! demo needs nothing but cargo.
//!
//! Usage: `cargo run --release -p boss-sim --example demo_stack -- DIR [SLICES]` (default 48).

use anyhow::Context;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, ImageEncoder};
use std::path::PathBuf;

const SIDE: u32 = 2048;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let dir = PathBuf::from(args.next().context("usage: demo_stack DIR [SLICES]")?);
    let slices: u32 = match args.next() {
        Some(n) => n
            .to_string_lossy()
            .parse()
            .context("SLICES must be a number")?,
        None => 48,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut pixels = vec![0u8; (SIDE * SIDE) as usize];
    for z in 0..slices {
        for (i, p) in pixels.iter_mut().enumerate() {
            let (x, y) = (i as u32 % SIDE, i as u32 / SIDE);
            *p = ((7 * x + 13 * y + 31 * z) % 251) as u8;
        }
        let path = dir.join(format!("slice_{z}.png"));
        let file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        PngEncoder::new_with_quality(
            std::io::BufWriter::new(file),
            CompressionType::Fast,
            FilterType::Sub,
        )
        .write_image(&pixels, SIDE, SIDE, ExtendedColorType::L8)
        .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
