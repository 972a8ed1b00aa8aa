//! `SingleTimeTiffPathProcessor`: slice z of the job lives in one multi-page TIFF whose path is
//! the param `z_<z>`; its pages are the time points.
//!
//! The range checks keep the Python client's exact texts ("Invalid Tile T-Index: 3"), which users
//! search logs for. **fix**: the original rejected the last, partial tile of a row or column
//! (`x > extent / tile_size - 1` in floating point); a tile is valid when it starts inside the
//! extent, and the tile processor pads it with zeros.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use serde_json::Value;

/// Why a tile has no path. The texts are the Python client's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("Invalid Tile T-Index: {0}")]
    T(u64),
    #[error("Invalid Tile Z-Index: {0}")]
    Z(u64),
    #[error("Invalid Tile X-Index: {0}")]
    X(u64),
    #[error("Invalid Tile Y-Index: {0}")]
    Y(u64),
}

/// The job's extent and tile size, as the range checks need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub t: (u64, u64),
    pub z: (u64, u64),
    pub x_stop: u64,
    pub y_stop: u64,
    pub tile: (u32, u32),
}

impl Bounds {
    pub fn from_params(p: &Params<'_>) -> Result<Bounds, ParamsError> {
        Ok(Bounds {
            t: p.extent("t")?,
            z: p.extent("z")?,
            x_stop: p.extent("x")?.1,
            y_stop: p.extent("y")?.1,
            tile: p.tile_size()?,
        })
    }

    /// Checks t, z, x and y in the original's order.
    pub fn check(&self, x: u64, y: u64, z: u64, t: u64) -> Result<(), RangeError> {
        let inside = |v: u64, (start, stop): (u64, u64)| v >= start && v < stop;
        if !inside(t, self.t) {
            return Err(RangeError::T(t));
        }
        if !inside(z, self.z) {
            return Err(RangeError::Z(z));
        }
        // A tile is inside when its first pixel is: the edge tile is cropped and padded.
        let starts_inside = |index: u64, size: u32, stop: u64| {
            index
                .checked_mul(u64::from(size))
                .is_some_and(|first| first < stop)
        };
        if !starts_inside(x, self.tile.0, self.x_stop) {
            return Err(RangeError::X(x));
        }
        if !starts_inside(y, self.tile.1, self.y_stop) {
            return Err(RangeError::Y(y));
        }
        Ok(())
    }
}

/// A configured single-time path processor: one file per z of the extent.
#[derive(Debug, Clone)]
pub struct SingleTimePaths {
    bounds: Bounds,
    /// `files[z - z_start]`.
    files: Vec<String>,
}

/// Most missing `z_<n>` params named in one error; the rest are counted.
const MISSING_NAMED: usize = 5;

impl SingleTimePaths {
    pub fn from_params(params: &Value) -> Result<SingleTimePaths, ParamsError> {
        let p = Params::new(params)?;
        let bounds = Bounds::from_params(&p)?;
        let mut files = Vec::new();
        let mut missing = Vec::new();
        for z in bounds.z.0..bounds.z.1 {
            let key = format!("z_{z}");
            match p.opt_string(&key)? {
                Some(path) => files.push(path.to_string()),
                None => missing.push(key),
            }
        }
        if !missing.is_empty() {
            let more = missing.len().saturating_sub(MISSING_NAMED);
            missing.truncate(MISSING_NAMED);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            return Err(ParamsError(format!(
                "missing param {}{more}: give \"z_<n>\": \"<path of the multi-page TIFF of slice \
                 n>\" for every z of ingest_job.extent.z [{}, {})",
                missing.join(", "),
                bounds.z.0,
                bounds.z.1
            )));
        }
        Ok(SingleTimePaths { bounds, files })
    }

    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<&str, RangeError> {
        self.bounds.check(x, y, z, t)?;
        // `check` put z inside the extent, so the index is inside `files`.
        Ok(&self.files[(z - self.bounds.z.0) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: Value) -> Value {
        let mut v = json!({
            "ingest_job": {"tile_size": {"x": 512, "y": 512, "z": 1, "t": 1},
                           "extent": {"x": [0, 700], "y": [0, 600], "z": [2, 4], "t": [0, 3]}}
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    }

    #[test]
    fn each_z_has_its_file() {
        let p = SingleTimePaths::from_params(&params(
            json!({"z_2": "/d/two.tif", "z_3": "/d/three.tif", "z_9": "/unused.tif"}),
        ))
        .unwrap();
        assert_eq!(p.path(0, 0, 2, 0).unwrap(), "/d/two.tif");
        assert_eq!(p.path(1, 1, 3, 2).unwrap(), "/d/three.tif");
    }

    #[test]
    fn range_errors_have_the_original_texts_and_edge_tiles_are_valid() {
        let p = SingleTimePaths::from_params(&params(json!({"z_2": "a", "z_3": "b"}))).unwrap();
        let err = |x, y, z, t| p.path(x, y, z, t).unwrap_err().to_string();
        assert_eq!(err(0, 0, 2, 3), "Invalid Tile T-Index: 3");
        assert_eq!(err(0, 0, 1, 0), "Invalid Tile Z-Index: 1");
        assert_eq!(err(0, 0, 4, 0), "Invalid Tile Z-Index: 4");
        assert_eq!(err(2, 0, 2, 0), "Invalid Tile X-Index: 2");
        assert_eq!(err(0, 2, 2, 0), "Invalid Tile Y-Index: 2");
        // 700 × 600 with 512 tiles: x=1 and y=1 are partial edge tiles, which the original
        // refused and we crop and pad.
        assert_eq!(p.path(1, 1, 2, 0).unwrap(), "a");
    }

    #[test]
    fn missing_files_are_named_at_construction() {
        let err = SingleTimePaths::from_params(&params(json!({"z_3": "b"}))).unwrap_err();
        assert_eq!(
            err.0,
            "missing param z_2: give \"z_<n>\": \"<path of the multi-page TIFF of slice n>\" for \
             every z of ingest_job.extent.z [2, 4)"
        );
        let mut many = params(json!({}));
        many["ingest_job"]["extent"]["z"] = json!([0, 8]);
        let err = SingleTimePaths::from_params(&many).unwrap_err();
        assert!(
            err.0
                .starts_with("missing param z_0, z_1, z_2, z_3, z_4 and 3 more: give"),
            "{}",
            err.0
        );
    }
}
