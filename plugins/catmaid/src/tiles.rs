//! The CATMAID tile processors: each source file (or server response) is exactly one tile.
//!
//! Decoding is the plugin kit's [`ImageTiles`], which is also the stack plugin's tile processor:
//! any PNG/TIFF/JPEG (whatever `filetype` says; the original could only write PNG back and failed
//! on `tif`/`jpg`), gray 8/16/64-bit, passed
//! through byte for byte when it already is a full tile, otherwise decoded and zero-padded to the
//! tile size; other pixel types only under an explicit `cast`. A file smaller than its tile is
//! accepted only where the job's extent ends inside the tile (the right and bottom edge tiles):
//! anywhere else it would silently become black padding, so it is an error naming both sizes.
//!
//! The tile server variant adds what a CATMAID server does: a section before the first one
//! (`z + z_offset < 0`) and an HTTP 403 (its answer for tiles it does not have) become black
//! tiles, each reported as a note. Transient failures (connection errors, 5xx) are retried with
//! backoff by the host; what still fails after that fails this tile only, which comes back
//! through the queue later (the original crashed the whole client after five tries).

use boss_ingest_plugin_kit::decode::Pixels;
use boss_ingest_plugin_kit::image_tiles::{ImageTiles, TileError};
use boss_ingest_plugin_kit::params::{Params, ParamsError};
use plugin_abi::Dtype;
use plugin_abi::{ErrorKind, HostServices, Note, PluginError, TileOutput};
use serde_json::{json, Value};

use crate::paths::z_offset;

/// Tiles whose files each hold one whole tile.
///
/// [`ImageTiles`] checks a file against the job's extent inside the window it cuts. Here the
/// window is always the whole file, so one `ImageTiles` per edge case is set up with the extent
/// a file must cover: a full tile inside, the remainder at the right/bottom edge.
#[derive(Debug, Clone)]
pub struct OneTilePerFile {
    /// Indexed by `right_edge + 2 * bottom_edge`.
    variants: [ImageTiles; 4],
    /// The last tile index in x and y.
    last: (u64, u64),
    tile_size: (u32, u32),
    black_dtype: Dtype,
}

impl OneTilePerFile {
    pub fn from_params(params: &Value) -> Result<OneTilePerFile, ParamsError> {
        let p = Params::new(params)?;
        let (tw, th) = p.tile_size()?;
        let (_, x_stop) = p.extent("x")?;
        let (_, y_stop) = p.extent("y")?;
        let (tw64, th64) = (u64::from(tw), u64::from(th));
        let last = (
            x_stop.saturating_sub(1) / tw64,
            y_stop.saturating_sub(1) / th64,
        );
        // What the last tile of a row/column must cover: the extent's remainder.
        let edge = (x_stop - last.0 * tw64, y_stop - last.1 * th64);
        let variant = |right: bool, bottom: bool| -> Result<ImageTiles, ParamsError> {
            let mut params = params.clone();
            let need_x = if right { edge.0 } else { tw64 };
            let need_y = if bottom { edge.1 } else { th64 };
            params["ingest_job"]["extent"]["x"] = json!([0, need_x]);
            params["ingest_job"]["extent"]["y"] = json!([0, need_y]);
            ImageTiles::from_params(&params)
        };
        Ok(OneTilePerFile {
            variants: [
                variant(false, false)?,
                variant(true, false)?,
                variant(false, true)?,
                variant(true, true)?,
            ],
            last,
            tile_size: (tw, th),
            black_dtype: p.tile_dtype("datatype", Dtype::U8)?,
        })
    }

    /// Tile `(x, y)`, which is the whole file at `path`.
    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        x: u64,
        y: u64,
    ) -> Result<TileOutput, TileError> {
        let index = usize::from(x == self.last.0) + 2 * usize::from(y == self.last.1);
        self.variants[index].tile(host, path, 0, 0)
    }

    /// An all-zero tile of the tile size, with `note` saying why.
    pub fn black(&self, note: String) -> TileOutput {
        let (tw, th) = self.tile_size;
        TileOutput::new(Pixels::zeros(tw, th, self.black_dtype).into())
            .with_note(Note::black_tile(note))
    }
}

/// A missing file, with advice that fits CATMAID layouts.
fn not_found(e: TileError) -> PluginError {
    match e {
        TileError::NotFound { location } => PluginError::not_found(format!(
            "{location}: file not found; check root_dir, filetype and that the processor class \
             matches the tiles' layout, or set \"fail_gracefully\": true to upload black tiles \
             for missing tiles"
        )),
        other => other.into(),
    }
}

/// `CatmaidFileImageStackTileProcessor` and its zoom-level and directory twins.
pub struct FileTiles {
    pub tiles: OneTilePerFile,
    pub host: HostServices,
}

impl FileTiles {
    pub fn tile(&self, path: &str, x: u64, y: u64) -> Result<TileOutput, PluginError> {
        self.tiles.tile(&self.host, path, x, y).map_err(not_found)
    }
}

/// `CatmaidURLTileProcessor` (and the original's `CatmainURLTileProcessor`).
pub struct UrlTiles {
    pub tiles: OneTilePerFile,
    pub z_offset: i64,
    pub host: HostServices,
}

impl UrlTiles {
    pub fn from_params(params: &Value, host: HostServices) -> Result<UrlTiles, ParamsError> {
        Ok(UrlTiles {
            tiles: OneTilePerFile::from_params(params)?,
            z_offset: z_offset(params)?,
            host,
        })
    }

    pub fn tile(&self, url: &str, x: u64, y: u64, z: u64) -> Result<TileOutput, PluginError> {
        let section = i64::try_from(z)
            .unwrap_or(i64::MAX)
            .saturating_add(self.z_offset);
        if section < 0 {
            return Ok(self.tiles.black(format!(
                "black tile: z {z} + z_offset {} = section {section}, before the tile server's \
                 first section",
                self.z_offset
            )));
        }
        match self.tiles.tile(&self.host, url, x, y) {
            Err(TileError::Read(e)) if e.kind == ErrorKind::Denied => {
                Ok(self.tiles.black(format!("black tile: {}", e.message)))
            }
            Err(TileError::NotFound { location }) => Err(PluginError::not_found(format!(
                "{location}: the tile server has no such tile (HTTP 404); check url, filetype \
                 and z_offset"
            ))),
            other => other.map_err(PluginError::from),
        }
    }
}
