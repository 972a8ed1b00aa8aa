//! Where a CATMAID tile lives: the four layouts of the Python client's path processors, and the
//! range checks every one of them makes first.
//!
//! CATMAID names tiles by row before column (`{y}_{x}`); `res` is `ingest_job.resolution`:
//! - file: `root_dir/{z}/{y}_{x}_{res}.{filetype}`
//! - zoom level: `root_dir/{res}/{z}/{y}_{x}.{filetype}`
//! - directory: `root_dir/{res}/{z}/{y}/{x}.{filetype}` (the original forgot the extension)
//! - URL: `url{z + z_offset}/{y}/{x}.{filetype}` (a `/` is added after `url` if it lacks one)

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_ingest_plugin_kit::template::join;
use serde_json::Value;

/// The file extensions CATMAID tile sets use (and the tile processors read).
pub const FILETYPES: &[&str] = &["png", "tif", "tiff", "jpg", "jpeg"];

/// Which naming scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    File,
    ZoomLevel,
    Directory,
    /// A tile server; `url` ends with `/`.
    Url {
        url: String,
        z_offset: i64,
    },
}

/// A tile index the job does not cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("CATMAID tiles have no time axis: t = {t}, but only t = 0 exists")]
    Time { t: u64 },
    #[error("z = {z} is outside the job's z extent [{start}, {stop})")]
    Z { z: u64, start: u64, stop: u64 },
    #[error("tile {axis} = {index} starts at {axis} = {first}, beyond the job's {axis} extent, which stops at {stop}")]
    Beyond {
        axis: char,
        index: u64,
        first: u64,
        stop: u64,
    },
}

/// A configured path processor.
#[derive(Debug, Clone)]
pub struct CatmaidPaths {
    layout: Layout,
    root_dir: String,
    filetype: String,
    resolution: u64,
    tile_size: (u32, u32),
    extent: [(u64, u64); 3],
}

/// `params.filetype`, one of [`FILETYPES`].
pub fn filetype(p: &Params<'_>) -> Result<String, ParamsError> {
    let filetype = p.string("filetype", "the tiles' file extension: png, tif, jpg, ...")?;
    if FILETYPES.contains(&filetype.to_ascii_lowercase().as_str()) {
        Ok(filetype.to_string())
    } else {
        Err(ParamsError(format!(
            "param \"filetype\" is \"{filetype}\"; use one of {}",
            FILETYPES.join(", ")
        )))
    }
}

/// `params.z_offset`: an optional signed integer (default 0), also accepted as a string.
pub fn z_offset(params: &Value) -> Result<i64, ParamsError> {
    let value = match params.get("z_offset") {
        None | Some(Value::Null) => return Ok(0),
        Some(v) => v,
    };
    let parsed = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ParamsError(format!(
            "param \"z_offset\" must be an integer, got {value}"
        ))
    })
}

impl CatmaidPaths {
    /// The path processor for `layout` (`Url` is filled in from params: pass any `Url`).
    pub fn from_params(params: &Value, layout: Layout) -> Result<CatmaidPaths, ParamsError> {
        let p = Params::new(params)?;
        let layout = match layout {
            Layout::Url { .. } => {
                let mut url = p.string("url", "the tile server's base URL")?.to_string();
                if !url.ends_with('/') {
                    url.push('/');
                }
                Layout::Url {
                    url,
                    z_offset: z_offset(params)?,
                }
            }
            other => other,
        };
        let root_dir = match layout {
            Layout::Url { .. } => String::new(),
            _ => p
                .string("root_dir", "the directory holding the CATMAID tiles")?
                .to_string(),
        };
        let resolution = params.get("ingest_job").and_then(|ij| ij.get("resolution"));
        let resolution = match resolution {
            None | Some(Value::Null) => 0,
            Some(v) => v.as_u64().ok_or_else(|| {
                ParamsError(format!(
                    "ingest_job.resolution must be a non-negative integer, got {v}"
                ))
            })?,
        };
        Ok(CatmaidPaths {
            layout,
            root_dir,
            filetype: filetype(&p)?,
            resolution,
            tile_size: p.tile_size()?,
            extent: [p.extent("x")?, p.extent("y")?, p.extent("z")?],
        })
    }

    /// Checks the tile is one the job covers.
    pub fn check(&self, x: u64, y: u64, z: u64, t: u64) -> Result<(), RangeError> {
        if t != 0 {
            return Err(RangeError::Time { t });
        }
        let (start, stop) = self.extent[2];
        if z < start || z >= stop {
            return Err(RangeError::Z { z, start, stop });
        }
        let sizes = [u64::from(self.tile_size.0), u64::from(self.tile_size.1)];
        for (axis, index, size, (_, stop)) in [
            ('x', x, sizes[0], self.extent[0]),
            ('y', y, sizes[1], self.extent[1]),
        ] {
            let first = index.saturating_mul(size);
            if first >= stop {
                return Err(RangeError::Beyond {
                    axis,
                    index,
                    first,
                    stop,
                });
            }
        }
        Ok(())
    }

    /// The location of tile `(x, y, z, t)`.
    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, RangeError> {
        self.check(x, y, z, t)?;
        let (res, ext) = (self.resolution, &self.filetype);
        Ok(match &self.layout {
            Layout::File => join(&self.root_dir, &format!("{z}/{y}_{x}_{res}.{ext}")),
            Layout::ZoomLevel => join(&self.root_dir, &format!("{res}/{z}/{y}_{x}.{ext}")),
            Layout::Directory => join(&self.root_dir, &format!("{res}/{z}/{y}/{x}.{ext}")),
            // A negative section is never fetched: the tile processor makes it black.
            Layout::Url { url, z_offset } => {
                format!("{url}{}/{y}/{x}.{ext}", z as i64 + z_offset)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: Value) -> Value {
        let mut p = json!({
            "root_dir": "/data", "filetype": "png",
            "ingest_job": {"resolution": 0, "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1},
                           "extent": {"x": [0, 1024], "y": [0, 1000], "z": [0, 200], "t": [0, 1]}}
        });
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    fn paths(extra: Value, layout: Layout) -> CatmaidPaths {
        CatmaidPaths::from_params(&params(extra), layout).unwrap()
    }

    #[test]
    fn spec_example_file_layout_puts_y_before_x() {
        let p = paths(json!({}), Layout::File);
        assert_eq!(p.path(0, 1, 0, 0).unwrap(), "/data/0/1_0_0.png");
        assert_eq!(p.path(1, 0, 7, 0).unwrap(), "/data/7/0_1_0.png");
    }

    #[test]
    fn the_other_layouts_use_the_resolution_and_keep_the_extension() {
        let mut extra = params(json!({"filetype": "jpg"}));
        extra["ingest_job"]["resolution"] = json!(2);
        let zoom = CatmaidPaths::from_params(&extra, Layout::ZoomLevel).unwrap();
        assert_eq!(zoom.path(1, 0, 5, 0).unwrap(), "/data/2/5/0_1.jpg");
        let dir = CatmaidPaths::from_params(&extra, Layout::Directory).unwrap();
        assert_eq!(dir.path(1, 0, 5, 0).unwrap(), "/data/2/5/0/1.jpg");
        let file = CatmaidPaths::from_params(&extra, Layout::File).unwrap();
        assert_eq!(file.path(1, 0, 5, 0).unwrap(), "/data/5/0_1_2.jpg");
    }

    #[test]
    fn url_layout_adds_z_offset_and_a_missing_slash() {
        let url = |extra| {
            paths(
                extra,
                Layout::Url {
                    url: String::new(),
                    z_offset: 0,
                },
            )
        };
        let p = url(json!({"url": "http://tiles.example/stack/", "filetype": "png"}));
        assert_eq!(
            p.path(1, 0, 3, 0).unwrap(),
            "http://tiles.example/stack/3/0/1.png"
        );
        let p = url(json!({"url": "http://tiles.example/stack", "z_offset": -5}));
        assert_eq!(
            p.path(0, 1, 7, 0).unwrap(),
            "http://tiles.example/stack/2/1/0.png"
        );
        assert_eq!(
            p.path(0, 1, 3, 0).unwrap(),
            "http://tiles.example/stack/-2/1/0.png"
        );
        let err = CatmaidPaths::from_params(
            &params(json!({"url": "http://h/", "z_offset": 1.5})),
            Layout::Url {
                url: String::new(),
                z_offset: 0,
            },
        )
        .unwrap_err();
        assert_eq!(err.0, "param \"z_offset\" must be an integer, got 1.5");
    }

    #[test]
    fn range_checks_name_the_index_and_the_extent() {
        let p = paths(json!({}), Layout::File);
        let msg = |x, y, z, t| p.path(x, y, z, t).unwrap_err().to_string();
        assert_eq!(
            msg(0, 0, 0, 1),
            "CATMAID tiles have no time axis: t = 1, but only t = 0 exists"
        );
        assert_eq!(
            msg(0, 0, 200, 0),
            "z = 200 is outside the job's z extent [0, 200)"
        );
        assert_eq!(
            msg(2, 0, 0, 0),
            "tile x = 2 starts at x = 1024, beyond the job's x extent, which stops at 1024"
        );
        assert_eq!(
            msg(0, 2, 0, 0),
            "tile y = 2 starts at y = 1024, beyond the job's y extent, which stops at 1000"
        );
        // The last, partial tile row is inside.
        assert_eq!(p.path(1, 1, 199, 0).unwrap(), "/data/199/1_1_0.png");
        let mut shifted = params(json!({}));
        shifted["ingest_job"]["extent"]["z"] = json!([10, 20]);
        let p = CatmaidPaths::from_params(&shifted, Layout::File).unwrap();
        assert_eq!(
            p.path(0, 0, 9, 0).unwrap_err().to_string(),
            "z = 9 is outside the job's z extent [10, 20)"
        );
    }

    #[test]
    fn params_errors_name_the_key() {
        let bad = CatmaidPaths::from_params(&params(json!({"filetype": "bmp"})), Layout::File);
        assert_eq!(
            bad.unwrap_err().0,
            "param \"filetype\" is \"bmp\"; use one of png, tif, tiff, jpg, jpeg"
        );
        let mut no_root = params(json!({}));
        no_root.as_object_mut().unwrap().remove("root_dir");
        assert_eq!(
            CatmaidPaths::from_params(&no_root, Layout::Directory)
                .unwrap_err()
                .0,
            "missing param \"root_dir\" (the directory holding the CATMAID tiles)"
        );
    }
}
