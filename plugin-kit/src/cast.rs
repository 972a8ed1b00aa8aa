//! The explicit cast policy for images whose pixel type the Boss does not store.
//!
//! The Python client silently turned any other dtype into uint8 by dividing by 256, which wrecks
//! int32 and float data without a word. We refuse such images unless the user names a policy in
//! the tile processor's params, `"cast": "<mode>_<type>"`:
//!
//! - `clip_uint8`, `clip_uint16`: each value rounded to the nearest integer and clamped into
//!   the target range (negative → 0, too large → the maximum). For data that already fits.
//! - `scale_uint8`, `scale_uint16`: the source type's whole range mapped linearly onto the target
//!   range (uint16 → uint8 divides by 257; int32's minimum → 0 and maximum → 255; floats are taken
//!   as normalised, 0.0 → 0 and 1.0 → the maximum, clamped outside).
//!
//! Multi-channel images (RGB, RGBA, gray+alpha, palette) become gray first: RGB by the ITU-R
//! BT.601 luma weights (0.299, 0.587, 0.114), alpha dropped. Every cast tile is reported.

use std::fmt;
use std::str::FromStr;

use plugin_abi::Dtype;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CastMode {
    Clip,
    Scale,
}

/// A cast policy: how, and to which type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cast {
    pub mode: CastMode,
    pub to: Dtype,
}

/// The accepted spellings, for error messages.
pub const CAST_VALUES: &str = "clip_uint8, clip_uint16, scale_uint8, scale_uint16";

impl FromStr for Cast {
    type Err = String;

    fn from_str(s: &str) -> Result<Cast, String> {
        let (mode, to) = match s {
            "clip_uint8" => (CastMode::Clip, Dtype::U8),
            "clip_uint16" => (CastMode::Clip, Dtype::U16),
            "scale_uint8" => (CastMode::Scale, Dtype::U8),
            "scale_uint16" => (CastMode::Scale, Dtype::U16),
            other => {
                return Err(format!(
                    "unknown cast \"{other}\"; use one of {CAST_VALUES}"
                ))
            }
        };
        Ok(Cast { mode, to })
    }
}

impl fmt::Display for Cast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.mode {
            CastMode::Clip => "clip",
            CastMode::Scale => "scale",
        };
        write!(f, "{mode}_{}", self.to.name())
    }
}

impl Cast {
    /// Converts one value whose source type spans `[lo, hi]` into the target type, as a `u64`
    /// whose low bytes are the target sample.
    pub fn convert(self, value: f64, lo: f64, hi: f64) -> u64 {
        // (uint64 is not offered as a target: 64-bit values do not survive a trip through f64.)
        let max = self.to.max_value() as f64;
        let v = match self.mode {
            CastMode::Clip => value,
            CastMode::Scale if hi > lo => (value - lo) / (hi - lo) * max,
            CastMode::Scale => 0.0,
        };
        // NaN compares false everywhere and `as` maps it to 0, which is what we want.
        v.round().clamp(0.0, max) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["clip_uint8", "clip_uint16", "scale_uint8", "scale_uint16"] {
            assert_eq!(s.parse::<Cast>().unwrap().to_string(), s);
        }
        assert_eq!(
            "uint8".parse::<Cast>().unwrap_err(),
            "unknown cast \"uint8\"; use one of clip_uint8, clip_uint16, scale_uint8, scale_uint16"
        );
    }

    #[test]
    fn clip() {
        let c: Cast = "clip_uint8".parse().unwrap();
        let (lo, hi) = (f64::from(i32::MIN), f64::from(i32::MAX));
        assert_eq!(c.convert(-5.0, lo, hi), 0);
        assert_eq!(c.convert(17.0, lo, hi), 17);
        assert_eq!(c.convert(300.0, lo, hi), 255);
        assert_eq!(c.convert(2.5, 0.0, 1.0), 3);
        assert_eq!(c.convert(f64::NAN, 0.0, 1.0), 0);
    }

    #[test]
    fn scale() {
        let c: Cast = "scale_uint8".parse().unwrap();
        assert_eq!(c.convert(65535.0, 0.0, 65535.0), 255);
        assert_eq!(c.convert(257.0, 0.0, 65535.0), 1);
        let (lo, hi) = (f64::from(i32::MIN), f64::from(i32::MAX));
        assert_eq!(c.convert(lo, lo, hi), 0);
        assert_eq!(c.convert(hi, lo, hi), 255);
        assert_eq!(c.convert(0.5, 0.0, 1.0), 128);
        assert_eq!(c.convert(2.0, 0.0, 1.0), 255);
        let c16: Cast = "scale_uint16".parse().unwrap();
        assert_eq!(c16.convert(255.0, 0.0, 255.0), 65535);
    }
}
