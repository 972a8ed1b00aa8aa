//! `ZindexStackPathProcessor`: the file of slice z is `root_dir/<base_filename with z>.<extension>`.
//!
//! Its two range errors keep the Python client's exact texts ("Z Image Stack only supports
//! non-time series data", "Z-index out of range"): people search logs and old issues for them.

use serde_json::Value;

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_ingest_plugin_kit::template::{join, Template, TemplateError};

/// Why a tile has no path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The texts are the Python client's, which users' scripts and habits know.
    #[error("Z Image Stack only supports non-time series data")]
    TimeSeries,
    #[error("Z-index out of range")]
    ZOutOfRange,
    #[error("{0}")]
    Template(#[from] TemplateError),
}

/// A configured stack path processor.
#[derive(Debug, Clone)]
pub struct StackPaths {
    root_dir: String,
    extension: String,
    template: Template,
    z_start: u64,
    z_stop: u64,
}

fn z_count(start: u64, stop: u64) -> u64 {
    stop.saturating_sub(start)
}

impl StackPaths {
    pub fn from_params(params: &Value) -> Result<StackPaths, ParamsError> {
        let p = Params::new(params)?;
        let root_dir = p.string("root_dir", "the directory or key prefix holding the slices")?;
        let extension = p.string("extension", "the slices' file extension, e.g. png or tif")?;
        let base = p.string(
            "base_filename",
            "the slice file name without extension, with <> where z goes",
        )?;
        let template = Template::parse(base)
            .map_err(|e| ParamsError(format!("param \"base_filename\": {e}")))?;
        let (z_start, z_stop) = p.extent("z")?;
        Ok(StackPaths {
            root_dir: root_dir.to_string(),
            extension: extension.to_string(),
            template,
            z_start,
            z_stop,
        })
    }

    /// A likely mistake worth a log line: several slices but no placeholder for z, so every
    /// slice would be read from the same file.
    pub fn warning(&self) -> Option<String> {
        (z_count(self.z_start, self.z_stop) > 1 && !self.template.uses_index()).then(|| {
            format!(
                "base_filename has no <> (or <z>) placeholder: all {} slices will be read from \
                 the same file",
                z_count(self.z_start, self.z_stop)
            )
        })
    }

    pub fn path(&self, x: u64, y: u64, z: u64, t: u64) -> Result<String, PathError> {
        if t != 0 {
            return Err(PathError::TimeSeries);
        }
        if z >= self.z_stop {
            return Err(PathError::ZOutOfRange);
        }
        let mut name = self.template.render(z, x, y, z)?;
        name.push('.');
        name.push_str(&self.extension);
        Ok(join(&self.root_dir, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(root: &str, base: &str, ext: &str) -> StackPaths {
        StackPaths::from_params(&json!({
            "root_dir": root, "extension": ext, "base_filename": base,
            "ingest_job": {"extent": {"x": [0, 512], "y": [0, 512], "z": [0, 200], "t": [0, 1]},
                           "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}}
        }))
        .unwrap()
    }

    #[test]
    fn spec_examples() {
        let p = paths("/data", "<o:3253>_my_stack_section<p:3>", "png");
        assert_eq!(
            p.path(0, 0, 0, 0).unwrap(),
            "/data/3253_my_stack_section000.png"
        );
        assert_eq!(
            p.path(0, 0, 1, 0).unwrap(),
            "/data/3254_my_stack_section001.png"
        );
        let p = paths("/data", "<o:200>_my_base_<p:4>", "tif");
        assert_eq!(p.path(0, 0, 2, 0).unwrap(), "/data/202_my_base_0002.tif");
        let p = paths("/data", "<z>/<y>_<x>", "png");
        assert_eq!(p.path(3, 2, 7, 0).unwrap(), "/data/7/2_3.png");
    }

    #[test]
    fn warns_when_no_placeholder_names_z() {
        assert_eq!(
            paths("/data", "slice", "png").warning().as_deref(),
            Some("base_filename has no <> (or <z>) placeholder: all 200 slices will be read from the same file")
        );
        assert_eq!(paths("/data", "slice<p:3>", "png").warning(), None);
    }

    #[test]
    fn empty_root_gives_bare_name() {
        let p = paths("", "slice_<p:2>", "png");
        assert_eq!(p.path(0, 0, 5, 0).unwrap(), "slice_05.png");
    }

    #[test]
    fn range_errors_have_the_original_texts() {
        let p = paths("/data", "<>", "png");
        assert_eq!(
            p.path(0, 0, 0, 1).unwrap_err().to_string(),
            "Z Image Stack only supports non-time series data"
        );
        assert_eq!(p.path(0, 0, 199, 0).unwrap(), "/data/199.png");
        assert_eq!(
            p.path(0, 0, 200, 0).unwrap_err().to_string(),
            "Z-index out of range"
        );
    }

    #[test]
    fn params_errors_name_the_key() {
        let err = StackPaths::from_params(&json!({"root_dir": "/d", "extension": "png",
            "ingest_job": {"extent": {"z": [0, 1]}}}))
        .unwrap_err();
        assert_eq!(
            err.0,
            "missing param \"base_filename\" (the slice file name without extension, with <> \
             where z goes)"
        );
        let err = StackPaths::from_params(&json!({"root_dir": "/d", "extension": "png",
            "base_filename": "<p:100>", "ingest_job": {"extent": {"z": [0, 1]}}}))
        .unwrap_err();
        assert_eq!(
            err.0,
            "param \"base_filename\": padding in placeholder `<p:100>` is wider than 64 digits"
        );
    }
}
