//! `Hdf5SingleFileTileProcessor`: a whole volume in one file.
//!
//! Dataset `data_name` is laid out (z, y, x). Tile (x, y, z) is the window
//! `[x·TS.x + offset_x, …) × [y·TS.y + offset_y, …)` of slice `z + offset_z`, cast to `datatype`;
//! where the window leaves the dataset the tile is padded with zeros. A slice outside the
//! dataset (the original crashed past its end) and a window that misses it entirely give
//! black tiles, reported.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::Dtype;
use plugin_abi::{HostServices, Note, PluginError, TileOutput};

use crate::canvas::{datatype, overlap, Canvas};
use crate::window::{copy_window, Job, Placement};

/// A configured single-file tile processor.
#[derive(Debug, Clone)]
pub struct SingleFileTiles {
    job: Job,
    data_name: String,
    /// x, y, z.
    offset: [i64; 3],
    dtype: Dtype,
}

impl SingleFileTiles {
    pub fn from_params(p: &Params<'_>) -> Result<SingleFileTiles, ParamsError> {
        Ok(SingleFileTiles {
            job: Job::from_params(p)?,
            data_name: p.string("data_name", "the volume's dataset")?.to_string(),
            offset: [
                p.opt_int("offset_x")?.unwrap_or(0),
                p.opt_int("offset_y")?.unwrap_or(0),
                p.opt_int("offset_z")?.unwrap_or(0),
            ],
            dtype: datatype(p, Dtype::U8)?,
        })
    }

    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        x: u64,
        y: u64,
        z: u64,
    ) -> Result<TileOutput, PluginError> {
        let opened = self.job.open(host, path)?;
        let data = opened.dataset(&self.data_name)?;
        data.expect_rank(&opened, "z, y, x")?;
        let (tile_x0, tile_y0) = self.job.origin(x, y);
        let slice = i64::try_from(z).unwrap_or(i64::MAX) + self.offset[2];
        let mut canvas = Canvas::new(self.job.tile, self.dtype);
        let inside = |v: i64, size: usize| v >= 0 && (v as u64) < size as u64;
        let window = (
            overlap(tile_x0 + self.offset[0], self.job.tile.0, data.shape[2]),
            overlap(tile_y0 + self.offset[1], self.job.tile.1, data.shape[1]),
        );
        let mut notes = Vec::new();
        match window {
            (Some(ox), Some(oy)) if inside(slice, data.shape[0]) => {
                let selection = (
                    slice as usize,
                    oy.source..oy.source + oy.len,
                    ox.source..ox.source + ox.len,
                );
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
                "black tile: tile (x={x}, y={y}, z={z}) with offsets {:?} lies outside dataset \
                 \"{}\" of shape {:?} (z, y, x) in {}",
                self.offset, data.name, data.shape, opened.location
            ))),
        }
        let source = format!("{} \"{}\"", opened.location, data.name);
        canvas.finish(self.job.format, notes, Some((&source, &data.stored)))
    }
}
