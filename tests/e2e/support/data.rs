//! Generated image stacks with a known voxel pattern, so a test can say exactly which value every
//! voxel read back through the cutout API must have. Nothing large is ever committed: each test
//! writes the stack it needs into its own temp dir.

use std::path::{Path, PathBuf};

/// Sample formats a generated stack can be written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Tiff,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Tiff => "tif",
        }
    }
}

pub use plugin_abi::Dtype;

/// The value of voxel (x, y, z): varies along every axis, differs between neighbouring slices and
/// tiles, and (for uint16) uses the high byte, so a swapped axis, an off-by-one slice or a
/// truncated cast shows up as a mismatch. Generated stacks are uint8 or uint16.
pub fn voxel(dtype: Dtype, x: u64, y: u64, z: u64) -> u64 {
    match dtype {
        Dtype::U8 => (x * 7 + y * 13 + z * 31 + (x / 512) * 17) % 251,
        Dtype::U16 => (x * 5 + y * 11 + z * 257 + (y / 512) * 1009) % 65521,
        other => unreachable!("generated stacks are uint8 or uint16, not {other}"),
    }
}

/// A z-stack of single-image files `<dir>/<prefix><z>.<ext>` (z unpadded, as `<>` formats it).
pub struct Stack {
    pub dir: PathBuf,
    pub prefix: String,
    pub format: Format,
    pub dtype: Dtype,
    pub width: u32,
    pub height: u32,
}

impl Stack {
    /// Writes slices `z_range` of a `width × height` stack.
    pub fn write(
        dir: &Path,
        prefix: &str,
        format: Format,
        dtype: Dtype,
        (width, height): (u32, u32),
        z_range: std::ops::Range<u64>,
    ) -> Stack {
        std::fs::create_dir_all(dir).expect("create stack dir");
        let stack = Stack {
            dir: dir.to_path_buf(),
            prefix: prefix.to_string(),
            format,
            dtype,
            width,
            height,
        };
        for z in z_range {
            stack.write_slice(z, width, height);
        }
        stack
    }

    /// The file that holds slice `z`.
    pub fn slice_path(&self, z: u64) -> PathBuf {
        self.dir
            .join(format!("{}{}.{}", self.prefix, z, self.format.extension()))
    }

    /// (Re)writes slice `z` with the given size: a test can make one slice the wrong size.
    pub fn write_slice(&self, z: u64, width: u32, height: u32) {
        let path = self.slice_path(z);
        let result = match self.dtype {
            Dtype::U8 => image::GrayImage::from_fn(width, height, |x, y| {
                image::Luma([voxel(self.dtype, x.into(), y.into(), z) as u8])
            })
            .save(&path),
            Dtype::U16 => {
                image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(width, height, |x, y| {
                    image::Luma([voxel(self.dtype, x.into(), y.into(), z) as u16])
                })
                .save(&path)
            }
            other => unreachable!("generated stacks are uint8 or uint16, not {other}"),
        };
        result.unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// The expected voxels of box `[x0,x1) × [y0,y1) × [z0,z1)` in C order (z, y, x), as the
    /// little-endian bytes the cutout API returns for this stack's dtype.
    pub fn expected_box(&self, x: (u64, u64), y: (u64, u64), z: (u64, u64)) -> Vec<u8> {
        let mut out = Vec::new();
        for zz in z.0..z.1 {
            for yy in y.0..y.1 {
                for xx in x.0..x.1 {
                    let v = voxel(self.dtype, xx, yy, zz);
                    match self.dtype {
                        Dtype::U8 => out.push(v as u8),
                        Dtype::U16 => out.extend_from_slice(&(v as u16).to_le_bytes()),
                        other => unreachable!("generated stacks are uint8 or uint16, not {other}"),
                    }
                }
            }
        }
        out
    }
}
