//! Where decoded rows go: each codec hands its rows (or row segments) to a [`Sink`], which copies
//! the part inside the window into the tile, sample by sample, exactly or through a cast.
//!
//! One sink for every codec keeps the window arithmetic, the zero padding and the cast policy in
//! one place; a codec only says which image row and column its samples start at.

use super::{Conversion, DecodeError, Pixels, Window};
use crate::header::{Color, Format, Header, SampleKind};
use plugin_abi::Dtype;

/// Samples of one decoded row segment, in the codec's own representation.
pub(super) enum Samples<'a> {
    U8(&'a [u8]),
    /// 16-bit big-endian bytes, as PNG stores them: converted while copying, not before.
    U16Be(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    U64(&'a [u64]),
    I8(&'a [i8]),
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
    F32(&'a [f32]),
    F64(&'a [f64]),
}

/// Receives decoded rows and writes the part inside the window into the tile.
pub(super) struct Sink {
    pub(super) window: Window,
    pub(super) image_width: u64,
    pub(super) image_height: u64,
    pub(super) channels: usize,
    pub(super) conversion: Conversion,
    /// For casts: how to reduce a pixel's samples to one gray value.
    pub(super) luma: Luma,
    /// For casts: the value range of the source samples.
    pub(super) range: (f64, f64),
    pub(super) pixels: Pixels,
    /// Set when decoded samples are not of the type the header promised.
    pub(super) mismatch: bool,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Luma {
    /// Take the first sample (gray, gray+alpha).
    First,
    /// ITU-R BT.601 weights of the first three samples (RGB, RGBA); alpha is ignored.
    Rgb,
}

impl Sink {
    pub(super) fn new(
        window: Window,
        header: &Header,
        conversion: Conversion,
    ) -> Result<Sink, DecodeError> {
        let luma = match header.color {
            Color::Gray | Color::GrayAlpha | Color::Palette => Luma::First,
            Color::Rgb | Color::Rgba => Luma::Rgb,
            // The JPEG decoder turns CMYK and YCbCr into RGB itself (see `jpeg_rows`).
            Color::Cmyk | Color::Other(_) if header.format == Format::Jpeg => Luma::Rgb,
            Color::Cmyk | Color::Other(_) => {
                return Err(DecodeError::Unsupported(format!(
                    "{} {} images to gray",
                    header.dtype_description(),
                    header.format
                )))
            }
        };
        Ok(Sink {
            window,
            image_width: u64::from(header.width),
            image_height: u64::from(header.height),
            channels: usize::from(header.color.channels()),
            conversion,
            luma,
            range: sample_range(header.kind, header.bits),
            pixels: Pixels::zeros(window.width, window.height, conversion.dtype()),
            mismatch: false,
        })
    }

    pub(super) fn finish(self) -> Result<Pixels, DecodeError> {
        if self.mismatch {
            return Err(DecodeError::Corrupt(
                "the pixel data does not match the sample type its header declares".into(),
            ));
        }
        Ok(self.pixels)
    }

    /// Image rows the window needs, `[first, end)`.
    pub(super) fn rows(&self) -> (u64, u64) {
        let end = (self.window.y0 + u64::from(self.window.height)).min(self.image_height);
        (self.window.y0, end)
    }

    /// Takes the samples of image row `y`, covering image columns from `x_start` on.
    pub(super) fn put(&mut self, y: u64, x_start: u64, samples: Samples<'_>) {
        let w = self.window;
        if y < w.y0 || y >= w.y0 + u64::from(w.height) {
            return;
        }
        let len = match &samples {
            Samples::U8(s) => s.len(),
            Samples::U16Be(s) => s.len() / 2,
            Samples::U16(s) => s.len(),
            Samples::U32(s) => s.len(),
            Samples::U64(s) => s.len(),
            Samples::I8(s) => s.len(),
            Samples::I16(s) => s.len(),
            Samples::I32(s) => s.len(),
            Samples::I64(s) => s.len(),
            Samples::F32(s) => s.len(),
            Samples::F64(s) => s.len(),
        } / self.channels;
        let first = x_start.max(w.x0);
        let end = (x_start + len as u64)
            .min(w.x0 + u64::from(w.width))
            .min(self.image_width);
        if first >= end {
            return;
        }
        // Source pixel range inside `samples`, destination pixel offset inside the tile.
        let (src, n) = ((first - x_start) as usize, (end - first) as usize);
        let bytes = self.pixels.dtype.size();
        let row = (y - w.y0) as usize * w.width as usize;
        let dst_start = (row + (first - w.x0) as usize) * bytes;
        let dst = &mut self.pixels.data[dst_start..dst_start + n * bytes];
        let ch = self.channels;
        match self.conversion {
            Conversion::Exact(dtype) => {
                // `Exact` is chosen from the header (gray uint8/16/64); a file whose data then
                // decodes as something else is damaged, which `finish` reports.
                let copied = ch == 1
                    && match (samples, dtype) {
                        (Samples::U8(s), Dtype::U8) => {
                            dst.copy_from_slice(&s[src..src + n]);
                            true
                        }
                        (Samples::U16Be(s), Dtype::U16) => {
                            for (d, s) in dst
                                .chunks_exact_mut(2)
                                .zip(s[src * 2..(src + n) * 2].chunks_exact(2))
                            {
                                d.copy_from_slice(&[s[1], s[0]]);
                            }
                            true
                        }
                        (Samples::U16(s), Dtype::U16) => {
                            copy_le(dst, &s[src..src + n], u16::to_le_bytes);
                            true
                        }
                        (Samples::U64(s), Dtype::U64) => {
                            copy_le(dst, &s[src..src + n], u64::to_le_bytes);
                            true
                        }
                        _ => false,
                    };
                self.mismatch |= !copied;
            }
            Conversion::Cast(cast) => {
                let (lo, hi) = self.range;
                let luma = self.luma;
                let mut put = |i: usize, value: f64| {
                    let v = cast.convert(value, lo, hi);
                    dst[i * bytes..(i + 1) * bytes].copy_from_slice(&v.to_le_bytes()[..bytes]);
                };
                macro_rules! each {
                    ($s:expr, $to_f64:expr) => {{
                        let s = $s;
                        for i in 0..n {
                            let p = (src + i) * ch;
                            let value = match luma {
                                Luma::First => $to_f64(s, p),
                                Luma::Rgb => {
                                    0.299 * $to_f64(s, p)
                                        + 0.587 * $to_f64(s, p + 1)
                                        + 0.114 * $to_f64(s, p + 2)
                                }
                            };
                            put(i, value);
                        }
                    }};
                }
                match samples {
                    Samples::U8(s) => each!(s, |s: &[u8], i: usize| f64::from(s[i])),
                    Samples::U16Be(s) => {
                        each!(s, |s: &[u8], i: usize| f64::from(u16::from_be_bytes([
                            s[2 * i],
                            s[2 * i + 1]
                        ])))
                    }
                    Samples::U16(s) => each!(s, |s: &[u16], i: usize| f64::from(s[i])),
                    Samples::U32(s) => each!(s, |s: &[u32], i: usize| f64::from(s[i])),
                    Samples::U64(s) => each!(s, |s: &[u64], i: usize| s[i] as f64),
                    Samples::I8(s) => each!(s, |s: &[i8], i: usize| f64::from(s[i])),
                    Samples::I16(s) => each!(s, |s: &[i16], i: usize| f64::from(s[i])),
                    Samples::I32(s) => each!(s, |s: &[i32], i: usize| f64::from(s[i])),
                    Samples::I64(s) => each!(s, |s: &[i64], i: usize| s[i] as f64),
                    Samples::F32(s) => each!(s, |s: &[f32], i: usize| f64::from(s[i])),
                    Samples::F64(s) => each!(s, |s: &[f64], i: usize| s[i]),
                }
            }
        }
    }
}

fn copy_le<T: Copy, const N: usize>(dst: &mut [u8], src: &[T], to_le: fn(T) -> [u8; N]) {
    for (d, s) in dst.chunks_exact_mut(N).zip(src) {
        d.copy_from_slice(&to_le(*s));
    }
}

/// The full value range of a sample type: what `scale` casts map onto the target range.
/// Floats are taken to be normalised to `[0, 1]`.
pub(super) fn sample_range(kind: SampleKind, bits: u16) -> (f64, f64) {
    let bits = i32::from(bits.clamp(1, 64));
    match kind {
        SampleKind::Uint => (0.0, 2f64.powi(bits) - 1.0),
        SampleKind::Int => (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0),
        SampleKind::Float => (0.0, 1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_window;
    use crate::decode::tests::{u8_png, win};
    use crate::fixtures::{colortype, tiff};
    use crate::header::sniff;

    #[test]
    fn data_that_contradicts_the_header_is_corrupt_not_a_panic() {
        let bytes = u8_png(4, 4);
        let mut header = sniff(&bytes).unwrap();
        header.bits = 16; // a header claiming 16-bit over 8-bit data
        let err = decode_window(
            &bytes,
            &header,
            win(0, 0, 4, 4),
            Conversion::Exact(Dtype::U16),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DecodeError::Corrupt(
                "the pixel data does not match the sample type its header declares".into()
            )
        );
    }

    #[test]
    fn cmyk_tiff_is_refused_by_name() {
        let bytes = tiff::<colortype::CMYK8>(1, 1, &[0, 0, 0, 0]);
        let header = sniff(&bytes).unwrap();
        let cast = Conversion::Cast("clip_uint8".parse().unwrap());
        assert_eq!(
            decode_window(&bytes, &header, win(0, 0, 1, 1), cast),
            Err(DecodeError::Unsupported(
                "CMYK uint8 TIFF images to gray".into()
            ))
        );
    }
}
