//! A zero-filled tile that dataset windows are copied into, and its encoding.
//!
//! Every HDF5 processor does the same three things: work out which part of a dataset meets the
//! tile, copy it (possibly transposed, possibly scaled) into the right place of a tile that
//! starts black, and encode the tile as `upload_format` says. Values that do not fit the tile's
//! type are clipped to its range and counted — the original cast them silently (wrapping) — and
//! a stored type other than the tile's is reported in a note.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use hdf5::types::TypeDescriptor;
use plugin_abi::Dtype;
use plugin_abi::{ImageFormat, Note, PluginError, TileImage, TileOutput};

/// The part of one axis where a tile window and a dataset overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// First dataset index inside the window.
    pub source: usize,
    /// Where that index lands in the tile.
    pub target: usize,
    pub len: usize,
}

/// The overlap of the window `[start, start + len)` (dataset coordinates, possibly negative)
/// with `[0, limit)`; `None` when they do not meet.
pub fn overlap(start: i64, len: u32, limit: usize) -> Option<Overlap> {
    let end = start.saturating_add(i64::from(len));
    let first = start.max(0);
    let last = end.min(i64::try_from(limit).unwrap_or(i64::MAX));
    (first < last).then(|| Overlap {
        source: first as usize,
        target: (first - start) as usize,
        len: (last - first) as usize,
    })
}

/// How tiles are encoded: `upload_format` `png` (default; raw pixels the host encodes as PNG)
/// or `tiff`/`tif` (encoded here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    Png,
    Tiff,
}

impl UploadFormat {
    pub fn from_params(p: &Params<'_>) -> Result<UploadFormat, ParamsError> {
        match p.opt_string("upload_format")?.map(str::to_ascii_lowercase) {
            None => Ok(UploadFormat::Png),
            Some(f) if f == "png" => Ok(UploadFormat::Png),
            Some(f) if f == "tiff" || f == "tif" => Ok(UploadFormat::Tiff),
            Some(other) => Err(ParamsError(format!(
                "param \"upload_format\" is \"{other}\"; use png or tiff"
            ))),
        }
    }
}

/// The tile datatype param of the HDF5 processors: a Boss channel type. `uint32`, which the
/// original accepted, is no Boss channel type (annotations are uint64), so it is refused here
/// with that advice rather than failing at upload.
pub fn datatype(p: &Params<'_>, default: Dtype) -> Result<Dtype, ParamsError> {
    if p.opt_string("datatype")? == Some("uint32") {
        return Err(ParamsError(
            "param \"datatype\" is \"uint32\", which the Boss does not store; use uint64 for \
             annotation channels (or uint8/uint16 for images)"
                .into(),
        ));
    }
    p.tile_dtype("datatype", default)
}

/// A tile being filled.
pub struct Canvas {
    width: u32,
    height: u32,
    dtype: Dtype,
    data: Vec<u8>,
    clipped: u64,
}

impl Canvas {
    pub fn new((width, height): (u32, u32), dtype: Dtype) -> Canvas {
        Canvas {
            width,
            height,
            dtype,
            data: vec![0; width as usize * height as usize * dtype.size()],
            clipped: 0,
        }
    }

    fn max(&self) -> u64 {
        self.dtype.max_value()
    }

    fn set(&mut self, row: usize, col: usize, value: u64) {
        let bytes = self.dtype.size();
        let at = (row * self.width as usize + col) * bytes;
        self.data[at..at + bytes].copy_from_slice(&value.to_le_bytes()[..bytes]);
    }

    /// Writes an integer sample, clipping it to the tile's range.
    pub fn put(&mut self, row: usize, col: usize, value: u64) {
        let max = self.max();
        if value > max {
            self.clipped += 1;
        }
        self.set(row, col, value.min(max));
    }

    /// Writes a floating-point sample: truncated toward zero like numpy's `astype`, clipped
    /// to the tile's range (NaN counts as clipped and becomes 0).
    pub fn put_float(&mut self, row: usize, col: usize, value: f64) {
        let max = self.max();
        let fits = value >= 0.0 && value < max as f64 + 1.0;
        if !fits {
            self.clipped += 1;
        }
        // `as` saturates (and maps NaN to 0), which is the clipping.
        self.set(row, col, value as u64);
    }

    /// Copies a 2-D array (`rows × cols` in C order, from `values`) to the tile at
    /// `(row0, col0)`; `transposed` when the array's first axis is the tile's x.
    pub fn place<T: Copy>(
        &mut self,
        values: &[T],
        (rows, cols): (usize, usize),
        (row0, col0): (usize, usize),
        transposed: bool,
        mut put: impl FnMut(&mut Canvas, usize, usize, T),
    ) {
        for r in 0..rows {
            for c in 0..cols {
                let v = values[r * cols + c];
                let (tr, tc) = if transposed { (c, r) } else { (r, c) };
                put(self, row0 + tr, col0 + tc, v);
            }
        }
    }

    /// The finished tile, with a note if samples of `from` (the dataset, described for
    /// messages, and its stored type) were converted or clipped.
    pub fn finish(
        self,
        format: UploadFormat,
        mut notes: Vec<Note>,
        from: Option<(&str, &TypeDescriptor)>,
    ) -> Result<TileOutput, PluginError> {
        let converted =
            from.filter(|(_, stored)| !lossless(stored, self.dtype) || self.clipped > 0);
        if let Some((source, stored)) = converted {
            let clipped = match self.clipped {
                0 => String::new(),
                n => format!(" ({n} values outside its range clipped)"),
            };
            notes.push(Note::cast(format!(
                "cast: {source} is {stored}, uploaded as {}{clipped}",
                self.dtype.name()
            )));
        }
        let image = match format {
            UploadFormat::Png => TileImage::Raw {
                width: self.width,
                height: self.height,
                dtype: self.dtype,
                data: self.data,
            },
            UploadFormat::Tiff => TileImage::Encoded {
                format: ImageFormat::Tiff,
                bytes: encode_tiff(self.width, self.height, self.dtype, &self.data)
                    .map_err(|e| PluginError::other(format!("encoding a TIFF tile: {e}")))?,
            },
        };
        Ok(TileOutput { image, notes })
    }
}

/// Whether every value of the stored type fits the tile's type unchanged.
fn lossless(stored: &TypeDescriptor, to: Dtype) -> bool {
    match stored {
        TypeDescriptor::Unsigned(size) => (*size as usize) <= to.size(),
        TypeDescriptor::Boolean => true,
        _ => false,
    }
}

/// The stored type "unsigned integer of `bytes` bytes", for tests.
#[cfg(test)]
pub(crate) fn unsigned(bytes: usize) -> TypeDescriptor {
    use hdf5::types::IntSize;
    TypeDescriptor::Unsigned(IntSize::from_int(bytes).expect("a valid integer size"))
}

fn encode_tiff(
    width: u32,
    height: u32,
    dtype: Dtype,
    data: &[u8],
) -> Result<Vec<u8>, tiff::TiffError> {
    use tiff::encoder::{colortype, TiffEncoder};
    let mut out = std::io::Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out)?;
    match dtype {
        Dtype::U8 => encoder.write_image::<colortype::Gray8>(width, height, data)?,
        Dtype::U16 => {
            let samples: Vec<u16> = data
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]]))
                .collect();
            encoder.write_image::<colortype::Gray16>(width, height, &samples)?
        }
        Dtype::U32 => {
            let samples: Vec<u32> = data
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            encoder.write_image::<colortype::Gray32>(width, height, &samples)?
        }
        Dtype::U64 => {
            let samples: Vec<u64> = data
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().expect("8-byte chunks")))
                .collect();
            encoder.write_image::<colortype::Gray64>(width, height, &samples)?
        }
    }
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlaps() {
        assert_eq!(
            overlap(-3, 8, 100),
            Some(Overlap {
                source: 0,
                target: 3,
                len: 5
            })
        );
        assert_eq!(
            overlap(96, 8, 100),
            Some(Overlap {
                source: 96,
                target: 0,
                len: 4
            })
        );
        assert_eq!(overlap(100, 8, 100), None);
        assert_eq!(overlap(-8, 8, 100), None);
    }

    #[test]
    fn clipping_is_counted_and_reported() {
        let mut c = Canvas::new((2, 1), Dtype::U8);
        c.put(0, 0, 300);
        c.put_float(0, 1, -2.5);
        let out = c
            .finish(
                UploadFormat::Png,
                vec![],
                Some(("f.h5 \"d\"", &unsigned(2))),
            )
            .unwrap();
        assert_eq!(
            out.notes,
            vec![Note::cast(
                "cast: f.h5 \"d\" is uint16, uploaded as uint8 (2 values outside its range clipped)"
            )]
        );
        assert_eq!(
            out.image,
            TileImage::Raw {
                width: 2,
                height: 1,
                dtype: plugin_abi::Dtype::U8,
                data: vec![255, 0]
            }
        );
        // Widening loses nothing and needs no note.
        let c = Canvas::new((1, 1), Dtype::U16);
        assert!(c
            .finish(UploadFormat::Tiff, vec![], Some(("x", &unsigned(1))))
            .unwrap()
            .notes
            .is_empty());
    }
}
