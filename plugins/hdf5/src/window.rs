//! What every HDF5 tile processor shares: where the file is, the tile size and the job's
//! extent, the upload format, and reading a 2-D window of a dataset into a [`Canvas`].

use boss_ingest_plugin_kit::location::location;
use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::{HostServices, PluginError};

use crate::canvas::{Canvas, Overlap, UploadFormat};
use crate::source::{open, Data, Opened, SourceError};

/// The settings every HDF5 tile processor reads from its params.
#[derive(Debug, Clone)]
pub struct Job {
    bucket: Option<String>,
    pub tile: (u32, u32),
    /// `[0, stop)` of x and y the job covers.
    pub extent_stop: (u64, u64),
    pub format: UploadFormat,
}

impl Job {
    pub fn from_params(p: &Params<'_>) -> Result<Job, ParamsError> {
        Ok(Job {
            bucket: p.source_bucket()?.map(str::to_string),
            tile: p.tile_size()?,
            extent_stop: (p.extent("x")?.1, p.extent("y")?.1),
            format: UploadFormat::from_params(p)?,
        })
    }

    /// Opens the file of `path` (under the bucket, if any).
    pub fn open(&self, host: &HostServices, path: &str) -> Result<Opened, SourceError> {
        open(host, &location(self.bucket.as_deref(), path))
    }

    /// The first pixel of tile `(x, y)` in job coordinates.
    pub fn origin(&self, x: u64, y: u64) -> (i64, i64) {
        let at = |i: u64, size: u32| i64::try_from(i * u64::from(size)).unwrap_or(i64::MAX);
        (at(x, self.tile.0), at(y, self.tile.1))
    }

    /// A dataset that must reach as far as the job's extent does inside tile `(x, y)` (its
    /// x and y sizes given): otherwise the tile would be padded with black without a word.
    pub fn check_covers(
        &self,
        opened: &Opened,
        data: &Data,
        (width, height): (usize, usize),
        (x, y): (u64, u64),
    ) -> Result<(), SourceError> {
        let (x0, y0) = self.origin(x, y);
        let need_w = (x0 as u64 + u64::from(self.tile.0)).min(self.extent_stop.0);
        let need_h = (y0 as u64 + u64::from(self.tile.1)).min(self.extent_stop.1);
        if width as u64 >= need_w && height as u64 >= need_h {
            return Ok(());
        }
        Err(opened.dataset_error(
            &data.name,
            format!(
                "covers {width}×{height} (x × y), but tile (x={x}, y={y}) needs at least \
                 {need_w}×{need_h}"
            ),
        ))
    }
}

/// Where a 2-D window read from a dataset goes in the tile.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// The window's rows × cols as read.
    pub shape: (usize, usize),
    /// The tile row and column of the window's first sample.
    pub at: (usize, usize),
    /// The dataset's first axis is x (so its rows become tile columns).
    pub transposed: bool,
}

impl Placement {
    /// The placement of the window where the tile's rows `y` and columns `x` overlap the
    /// dataset; a transposed dataset is read x-major, so its window's rows are the x overlap.
    pub fn of_overlap(y: Overlap, x: Overlap, transposed: bool) -> Placement {
        Placement {
            shape: if transposed {
                (x.len, y.len)
            } else {
                (y.len, x.len)
            },
            at: (y.target, x.target),
            transposed,
        }
    }
}

/// Reads the 2-D `selection` of `data` and places it in `canvas`; samples are multiplied by
/// `scale` when one is given.
pub fn copy_window(
    opened: &Opened,
    data: &Data,
    selection: hdf5::Selection,
    placement: Placement,
    scale: Option<f64>,
    canvas: &mut Canvas,
) -> Result<(), PluginError> {
    let Placement {
        shape,
        at,
        transposed,
    } = placement;
    let failed = |e: hdf5::Error| opened.dataset_error(&data.name, e.to_string());
    if data.is_float() || scale.is_some() {
        let values: Vec<f64> = data
            .dataset
            .read_slice_2d::<f64, _>(selection)
            .map_err(failed)?
            .iter()
            .copied()
            .collect();
        let scale = scale.unwrap_or(1.0);
        canvas.place(&values, shape, at, transposed, |c, r, col, v| {
            c.put_float(r, col, v * scale)
        });
    } else {
        let values: Vec<u64> = data
            .dataset
            .read_slice_2d::<u64, _>(selection)
            .map_err(failed)?
            .iter()
            .copied()
            .collect();
        canvas.place(&values, shape, at, transposed, Canvas::put);
    }
    Ok(())
}
