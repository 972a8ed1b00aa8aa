//! `Hdf5SliceTileProcessor`: large slices stored with their placement.
//!
//! Each file holds a 2-D dataset `data_name` (y, x), and two small datasets: `offset_name`
//! (y, x) and `extent_name` (y, x). The slice sits at `offset + (offset_origin_y,
//! offset_origin_x)` in the job's coordinates; a tile is the part of the slice inside its
//! window, on black. **fix**: the original added `offset_origin_x` to the y offset too.
//! A tile the slice does not reach at all is black, and reported as such.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::Dtype;
use plugin_abi::{HostServices, Note, PluginError, TileOutput};

use crate::canvas::{datatype, overlap, Canvas};
use crate::source::{Data, Opened};
use crate::window::{copy_window, Job, Placement};

/// A configured slice tile processor.
#[derive(Debug, Clone)]
pub struct SliceTiles {
    job: Job,
    data_name: String,
    offset_name: String,
    extent_name: String,
    /// (x, y).
    origin: (i64, i64),
    dtype: Dtype,
}

impl SliceTiles {
    pub fn from_params(p: &Params<'_>) -> Result<SliceTiles, ParamsError> {
        Ok(SliceTiles {
            job: Job::from_params(p)?,
            data_name: p.string("data_name", "the slice's dataset")?.to_string(),
            offset_name: p
                .string(
                    "offset_name",
                    "the dataset holding the slice's (y, x) offset",
                )?
                .to_string(),
            extent_name: p
                .string(
                    "extent_name",
                    "the dataset holding the slice's (y, x) extent",
                )?
                .to_string(),
            origin: (
                p.opt_int("offset_origin_x")?.unwrap_or(0),
                p.opt_int("offset_origin_y")?.unwrap_or(0),
            ),
            dtype: datatype(p, Dtype::U8)?,
        })
    }

    /// The (y, x) pair stored in the small dataset `name`.
    fn pair(opened: &Opened, name: &str) -> Result<(i64, i64), PluginError> {
        let data = opened.dataset(name)?;
        let values: Vec<i64> = data
            .dataset
            .read_raw::<i64>()
            .map_err(|e| opened.dataset_error(name, e.to_string()))?;
        match values.as_slice() {
            [y, x, ..] => Ok((*y, *x)),
            _ => Err(opened
                .dataset_error(name, format!("holds {values:?}, not a (y, x) pair"))
                .into()),
        }
    }

    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        x: u64,
        y: u64,
    ) -> Result<TileOutput, PluginError> {
        let opened = self.job.open(host, path)?;
        let (off_y, off_x) = Self::pair(&opened, &self.offset_name)?;
        let (ext_y, ext_x) = Self::pair(&opened, &self.extent_name)?;
        let data: Data = opened.dataset(&self.data_name)?;
        data.expect_rank(&opened, "y, x")?;
        // The slice's rows and columns that lie inside the stated extent and the dataset.
        let clamp = |extent: i64, size: usize| extent.clamp(0, size as i64) as usize;
        let (rows, cols) = (clamp(ext_y, data.shape[0]), clamp(ext_x, data.shape[1]));
        let (tile_x0, tile_y0) = self.job.origin(x, y);
        // The window in the slice's own coordinates.
        let (wx, wy) = (
            tile_x0 - (off_x + self.origin.0),
            tile_y0 - (off_y + self.origin.1),
        );
        let mut canvas = Canvas::new(self.job.tile, self.dtype);
        let mut notes = Vec::new();
        match (
            overlap(wx, self.job.tile.0, cols),
            overlap(wy, self.job.tile.1, rows),
        ) {
            (Some(ox), Some(oy)) => {
                let selection = (oy.source..oy.source + oy.len, ox.source..ox.source + ox.len);
                let placement = Placement::of_overlap(oy, ox, false);
                copy_window(
                    &opened,
                    &data,
                    selection.into(),
                    placement,
                    None,
                    &mut canvas,
                )?;
            }
            _ => notes.push(Note::black_tile(format!(
                "black tile: tile (x={x}, y={y}) lies outside the slice in {} (offset x={}, \
                 y={}, extent {cols}×{rows})",
                opened.location,
                off_x + self.origin.0,
                off_y + self.origin.1
            ))),
        }
        let source = format!("{} \"{}\"", opened.location, data.name);
        canvas.finish(self.job.format, notes, Some((&source, &data.stored)))
    }
}
