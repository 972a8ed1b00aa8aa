//! `Hdf5ChunkTileProcessor`: one z slice of a chunk file.
//!
//! The chunk path processor names the file holding tile (x, y)'s chunk; this reads slice
//! `z mod z_chunk_size` of its dataset `data_name` (z, y, x), cast to `datatype`. The chunk's
//! x/y size is the tile's (a smaller edge chunk is padded with zeros; a larger one is an error,
//! since its other pixels would be lost).
//!
//! A missing chunk file gives a black tile of the *tile* size, reported in the run summary.
//! **fix**: the original made it 512×512 whatever the tile size, logged it at info level only,
//! and also blanked chunks that existed but could not be read; those are errors here.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::Dtype;
use plugin_abi::{HostServices, Note, PluginError, TileOutput};

use crate::canvas::{datatype, Canvas};
use crate::source::SourceError;
use crate::window::{copy_window, Job, Placement};

/// A configured chunk tile processor.
#[derive(Debug, Clone)]
pub struct ChunkTiles {
    job: Job,
    data_name: String,
    z_chunk_size: u64,
    dtype: Dtype,
}

impl ChunkTiles {
    pub fn from_params(p: &Params<'_>) -> Result<ChunkTiles, ParamsError> {
        Ok(ChunkTiles {
            job: Job::from_params(p)?,
            data_name: p
                .string("data_name", "the dataset in each chunk file")?
                .to_string(),
            z_chunk_size: match p.uint("z_chunk_size", "z slices per chunk file")? {
                0 => {
                    return Err(ParamsError(
                        "param \"z_chunk_size\" must be at least 1".into(),
                    ))
                }
                n => n,
            },
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
        let opened = match self.job.open(host, path) {
            Ok(opened) => opened,
            Err(SourceError::NotFound { location }) => {
                let note = Note::black_tile(format!(
                    "black tile: chunk file {location} is missing (tile x={x}, y={y}, z={z})"
                ));
                let black = Canvas::new(self.job.tile, self.dtype);
                return black.finish(self.job.format, vec![note], None);
            }
            Err(e) => return Err(e.into()),
        };
        let data = opened.dataset(&self.data_name)?;
        data.expect_rank(&opened, "z, y, x")?;
        let slice = z % self.z_chunk_size;
        let (depth, rows, cols) = (data.shape[0], data.shape[1], data.shape[2]);
        let (tw, th) = (self.job.tile.0 as usize, self.job.tile.1 as usize);
        if slice as usize >= depth || rows > th || cols > tw {
            return Err(opened
                .dataset_error(
                    &data.name,
                    format!(
                        "has shape {:?} (z, y, x), but tile z={z} needs slice {slice} of a chunk \
                         of at most {tw}×{th} (x × y, the tile size)",
                        data.shape
                    ),
                )
                .into());
        }
        let mut canvas = Canvas::new(self.job.tile, self.dtype);
        let placement = Placement {
            shape: (rows, cols),
            at: (0, 0),
            transposed: false,
        };
        let selection = (slice as usize, 0..rows, 0..cols);
        copy_window(
            &opened,
            &data,
            selection.into(),
            placement,
            None,
            &mut canvas,
        )?;
        let source = format!("{} \"{}\"", opened.location, data.name);
        canvas.finish(self.job.format, Vec::new(), Some((&source, &data.stored)))
    }
}
