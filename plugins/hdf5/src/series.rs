//! Time series in HDF5 (calcium imaging and its ROI labels), one file per z slice.
//!
//! - `Hdf5TimeSeriesTileProcessor`: dataset `dataset` laid out (t, x, y, channel); the tile is
//!   time point t, the tile's x/y window, channel `channel_index`, times `scale_factor`
//!   (default 1), as uint16. Values that do not fit uint16 are clipped and counted (the original
//!   wrapped them silently).
//! - `Hdf5TimeSeriesLabelTileProcessor`: dataset `dataset` laid out (x, y); the tile's window.
//!   **fix**: uploaded as uint64, the Boss's annotation type (the original produced uint32,
//!   which no Boss channel stores).
//!
//! Unlike the original (which demanded tile sizes that divide the data), edge tiles are padded
//! with zeros; a dataset smaller than the job's extent is an error naming both sizes.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::Dtype;
use plugin_abi::{HostServices, PluginError, TileOutput};

use crate::canvas::{overlap, Canvas};
use crate::window::{copy_window, Job, Placement};

/// A configured time-series (or label) tile processor.
#[derive(Debug, Clone)]
pub struct SeriesTiles {
    job: Job,
    dataset: String,
    /// `Some((channel_index, scale_factor))` for time series; `None` for labels.
    series: Option<(u64, f64)>,
}

impl SeriesTiles {
    pub fn time_series(p: &Params<'_>) -> Result<SeriesTiles, ParamsError> {
        Ok(SeriesTiles {
            job: Job::from_params(p)?,
            dataset: dataset_name(p)?,
            series: Some((
                p.opt_uint("channel_index")?.unwrap_or(0),
                p.opt_float("scale_factor")?.unwrap_or(1.0),
            )),
        })
    }

    pub fn labels(p: &Params<'_>) -> Result<SeriesTiles, ParamsError> {
        Ok(SeriesTiles {
            job: Job::from_params(p)?,
            dataset: dataset_name(p)?,
            series: None,
        })
    }

    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        x: u64,
        y: u64,
        t: u64,
    ) -> Result<TileOutput, PluginError> {
        let opened = self.job.open(host, path)?;
        let data = opened.dataset(&self.dataset)?;
        let (dtype, layout) = match self.series {
            Some(_) => (Dtype::U16, "t, x, y, channel"),
            None => (Dtype::U64, "x, y"),
        };
        data.expect_rank(&opened, layout)?;
        // x and y are the first two axes of the window (after t for a series).
        let axes = if self.series.is_some() { 1 } else { 0 };
        let (width, height) = (data.shape[axes], data.shape[axes + 1]);
        self.job
            .check_covers(&opened, &data, (width, height), (x, y))?;
        let (x0, y0) = self.job.origin(x, y);
        let mut canvas = Canvas::new(self.job.tile, dtype);
        if let (Some(ox), Some(oy)) = (
            overlap(x0, self.job.tile.0, width),
            overlap(y0, self.job.tile.1, height),
        ) {
            let xs = ox.source..ox.source + ox.len;
            let ys = oy.source..oy.source + oy.len;
            let (selection, scale): (hdf5::Selection, _) = match self.series {
                Some((channel, scale)) => {
                    let index = |value: u64, axis: usize, what: &str| {
                        usize::try_from(value)
                            .ok()
                            .filter(|v| *v < data.shape[axis])
                            .ok_or_else(|| {
                                opened.dataset_error(
                                    &data.name,
                                    format!(
                                        "{what} {value} is beyond its {} (shape {:?})",
                                        data.shape[axis], data.shape
                                    ),
                                )
                            })
                    };
                    let t = index(t, 0, "time point")?;
                    let channel = index(channel, 3, "channel_index")?;
                    ((t, xs, ys, channel).into(), Some(scale))
                }
                None => ((xs, ys).into(), None),
            };
            let placement = Placement::of_overlap(oy, ox, true);
            copy_window(&opened, &data, selection, placement, scale, &mut canvas)?;
        }
        let source = format!("{} \"{}\"", opened.location, data.name);
        canvas.finish(self.job.format, Vec::new(), Some((&source, &data.stored)))
    }
}

fn dataset_name(p: &Params<'_>) -> Result<String, ParamsError> {
    Ok(p.string("dataset", "the name of the dataset in each file")?
        .to_string())
}
