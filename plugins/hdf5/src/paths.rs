//! The HDF5 path processors.
//!
//! - `Hdf5TimeSeriesPathProcessor` and `Hdf5SlicePathProcessor`: one file per z,
//!   `root_dir/base_filename.extension` with the stack plugin's placeholders on z; z at or past
//!   the extent's stop is "Z-index out of range" (the original's text).
//! - `Hdf5ChunkPathProcessor`: files named
//!   `{prefix}_{x0}-{x1}_{y0}-{y1}_{z0}-{z1}.{extension}`, each axis `index × chunk_size +
//!   offset` to the next chunk's start (minus one when `use_python_convention` is false), where
//!   the x/y index is the tile's and the z index is `z div z_chunk_size`. **fix**: the original
//!   wrote the z chunk *index* as z0 (and took the index from `z + z_offset`), naming files that
//!   do not exist whenever z_offset or the index is not zero.
//! - `Hdf5SingleFilePathProcessor`: always `filename`.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_ingest_plugin_kit::template::{join, FileNames};
use serde_json::Value;

/// One file per z slice.
#[derive(Debug, Clone)]
pub struct SlicePaths {
    names: FileNames,
    z_stop: u64,
}

impl SlicePaths {
    pub fn from_params(params: &Value) -> Result<SlicePaths, ParamsError> {
        let p = Params::new(params)?;
        Ok(SlicePaths {
            names: FileNames::from_params(&p, "z")?,
            z_stop: p.extent("z")?.1,
        })
    }

    pub fn path(&self, x: u64, y: u64, z: u64) -> Result<String, String> {
        if z >= self.z_stop {
            return Err("Z-index out of range".to_string());
        }
        self.names.path(z, x, y, z).map_err(|e| e.to_string())
    }
}

/// One file per chunk.
#[derive(Debug, Clone)]
pub struct ChunkPaths {
    root_dir: String,
    prefix: String,
    extension: String,
    /// x, y, z.
    size: [i64; 3],
    offset: [i64; 3],
    python_convention: bool,
}

impl ChunkPaths {
    pub fn from_params(params: &Value) -> Result<ChunkPaths, ParamsError> {
        let p = Params::new(params)?;
        let mut size = [0; 3];
        let mut offset = [0; 3];
        for (i, axis) in ["x", "y", "z"].into_iter().enumerate() {
            let key = format!("{axis}_chunk_size");
            size[i] = match p.uint(&key, &format!("the chunk extent along {axis}"))? {
                0 => return Err(ParamsError(format!("param \"{key}\" must be at least 1"))),
                n => i64::try_from(n)
                    .map_err(|_| ParamsError(format!("param \"{key}\" is too large")))?,
            };
            offset[i] = p.opt_int(&format!("{axis}_offset"))?.unwrap_or(0);
        }
        Ok(ChunkPaths {
            root_dir: p
                .string("root_dir", "the directory or key prefix holding the chunks")?
                .to_string(),
            prefix: p
                .string("prefix", "the start of every chunk file's name")?
                .to_string(),
            extension: p
                .string("extension", "the chunk files' extension, e.g. h5")?
                .to_string(),
            size,
            offset,
            python_convention: p.bool("use_python_convention", true)?,
        })
    }

    pub fn path(&self, x: u64, y: u64, z: u64) -> Result<String, String> {
        let z_index = z / self.size[2] as u64;
        let mut ranges = Vec::with_capacity(3);
        for (i, index) in [x, y, z_index].into_iter().enumerate() {
            let start = i64::try_from(index)
                .ok()
                .and_then(|n| n.checked_mul(self.size[i]))
                .and_then(|n| n.checked_add(self.offset[i]))
                .ok_or_else(|| format!("chunk index {index} is too large"))?;
            let stop = start + self.size[i] - i64::from(!self.python_convention);
            ranges.push(format!("{start}-{stop}"));
        }
        let name = format!("{}_{}.{}", self.prefix, ranges.join("_"), self.extension);
        Ok(join(&self.root_dir, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slice_paths_use_the_placeholders_on_z() {
        let p = SlicePaths::from_params(&json!({
            "root_dir": "/data", "extension": "h5", "base_filename": "<o:200>_my_base_<p:4>",
            "ingest_job": {"extent": {"z": [0, 10]}}
        }))
        .unwrap();
        assert_eq!(p.path(0, 0, 2).unwrap(), "/data/202_my_base_0002.h5");
        assert_eq!(p.path(0, 0, 10).unwrap_err(), "Z-index out of range");
    }

    fn chunks(extra: Value) -> ChunkPaths {
        let mut v = json!({"root_dir": "/c", "prefix": "vol", "extension": "h5",
            "x_chunk_size": 512, "y_chunk_size": 512, "z_chunk_size": 16});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        ChunkPaths::from_params(&v).unwrap()
    }

    #[test]
    fn chunk_names_with_python_and_inclusive_stops() {
        let p = chunks(json!({"use_python_convention": true}));
        assert_eq!(p.path(0, 0, 0).unwrap(), "/c/vol_0-512_0-512_0-16.h5");
        assert_eq!(
            p.path(1, 2, 17).unwrap(),
            "/c/vol_512-1024_1024-1536_16-32.h5"
        );
        let p = chunks(json!({"use_python_convention": false}));
        assert_eq!(p.path(1, 0, 31).unwrap(), "/c/vol_512-1023_0-511_16-31.h5");
    }

    #[test]
    fn z0_is_index_times_size_plus_offset() {
        // z=40 is in chunk 2; with z_offset 8 its file holds source z 40..56. The original
        // named it "…_11-72" (index 3 taken from z + z_offset, then that index + 8 as z0).
        let p = chunks(json!({"x_offset": -512, "y_offset": 100, "z_offset": 8}));
        assert_eq!(p.path(1, 0, 40).unwrap(), "/c/vol_0-512_100-612_40-56.h5");
    }

    #[test]
    fn chunk_params_are_checked() {
        let err = ChunkPaths::from_params(&json!({"root_dir": "/c", "prefix": "v",
            "extension": "h5", "x_chunk_size": 1, "y_chunk_size": 0, "z_chunk_size": 1}))
        .unwrap_err();
        assert_eq!(err.0, "param \"y_chunk_size\" must be at least 1");
    }
}
