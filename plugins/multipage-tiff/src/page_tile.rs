//! Making a tile from one page of a multi-page TIFF, reading only that page's window.
//!
//! The original loaded every page of a file into memory (and kept it, per z, for the whole run).
//! Here a tile costs the file's directories up to its page and the strips (or TIFF tiles) its
//! window meets, fetched in byte ranges through the host ([`RangeReader`]), so memory depends on
//! the tile size, not on the file; the same code reads `s3://` sources through the host.
//!
//! Pages are gray uint8 or uint16 (the Boss's image types). Params:
//! - `datatype` (`uint16` default, `uint8`, `uint64`): the tile's type. A uint8 page under
//!   `uint16` is widened losslessly (reported as a cast); any other mismatch — the original cast
//!   it silently, wrapping uint16 values into uint8 — is refused unless `cast` names a policy;
//! - `cast`: the stack plugin's explicit cast policy (`clip_uint8`, `scale_uint8`, ...);
//! - `filesystem` (`local`, `s3`, `s3_copy`) and `bucket`: where the files are.

use boss_ingest_plugin_kit::cast::{Cast, CastMode, CAST_VALUES};
use boss_ingest_plugin_kit::decode::{decode_tiff_page_window, Conversion, DecodeError, Window};
use boss_ingest_plugin_kit::header::{sniff_tiff_page, Header, HeaderError};
use boss_ingest_plugin_kit::location::location;
use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_ingest_plugin_kit::ranged::RangeReader;
use plugin_abi::Dtype;
use plugin_abi::{ErrorKind, HostServices, Note, PluginError, TileOutput};

/// A configured page reader.
#[derive(Debug, Clone)]
pub struct PageTiles {
    bucket: Option<String>,
    tile: (u32, u32),
    /// `[0, stop)` of x and y the job covers: what a page must reach inside a tile's window.
    extent_stop: (u64, u64),
    datatype: Dtype,
    cast: Option<Cast>,
}

/// Why a page gave no tile. Each message names the file and page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("{location}: file not found; check the path processor's params")]
    NotFound { location: String },
    /// The host's own failure, whose message names the location.
    #[error("{0}")]
    Read(PluginError),
    #[error("{location}: {reason}")]
    Unreadable { location: String, reason: String },
    #[error("{location} page {page}: pixel type {dtype} is not the tile datatype {datatype}; set \"datatype\" to the pages' type, or \"cast\" to one of {CAST_VALUES}")]
    Dtype {
        location: String,
        page: u64,
        dtype: String,
        datatype: &'static str,
    },
    #[error("{location} page {page}: the page is {width}×{height}, but tile (x={x}, y={y}) needs at least {need_w}×{need_h}")]
    TooSmall {
        location: String,
        page: u64,
        width: u32,
        height: u32,
        x: u64,
        y: u64,
        need_w: u64,
        need_h: u64,
    },
}

impl From<PageError> for PluginError {
    fn from(e: PageError) -> PluginError {
        let message = e.to_string();
        match e {
            PageError::NotFound { .. } => PluginError::not_found(message),
            PageError::Read(e) => e,
            PageError::Unreadable { .. } | PageError::TooSmall { .. } => {
                PluginError::invalid_image(message)
            }
            PageError::Dtype { .. } => PluginError::dtype(message),
        }
    }
}

impl PageTiles {
    pub fn from_params(p: &Params<'_>) -> Result<PageTiles, ParamsError> {
        Ok(PageTiles {
            bucket: p.source_bucket()?.map(str::to_string),
            tile: p.tile_size()?,
            extent_stop: (p.extent("x")?.1, p.extent("y")?.1),
            datatype: p.tile_dtype("datatype", Dtype::U16)?,
            cast: p.cast()?,
        })
    }

    /// Tile `(x, y)` of page `page` (0-based) of the TIFF at `path`.
    pub fn tile(
        &self,
        host: &HostServices,
        path: &str,
        page: u64,
        x: u64,
        y: u64,
    ) -> Result<TileOutput, PageError> {
        let location = location(self.bucket.as_deref(), path);
        let unreadable = |reason: String| PageError::Unreadable {
            location: location.clone(),
            reason,
        };
        let size = host.size(&location).map_err(|e| match e.kind {
            ErrorKind::NotFound => PageError::NotFound {
                location: location.clone(),
            },
            _ => PageError::Read(e),
        })?;
        let page_index = usize::try_from(page)
            .map_err(|_| unreadable(format!("page {page} is beyond any TIFF")))?;
        let fetch = |offset: u64, len: u64| host.read_range(&location, offset, len);
        let mut reader = RangeReader::new(&fetch, size);
        let header = sniff_tiff_page(&mut reader, page_index).map_err(|e| {
            match (reader.take_failure(), e) {
                (Some(host_error), _) => PageError::Read(host_error),
                (None, e @ HeaderError::NoPage { .. }) => unreadable(e.to_string()),
                (None, e) => unreadable(format!("page {page}: {e}")),
            }
        })?;
        let window = Window {
            x0: u64::from(self.tile.0) * x,
            y0: u64::from(self.tile.1) * y,
            width: self.tile.0,
            height: self.tile.1,
        };
        self.covers(&header, &location, page, window, (x, y))?;
        let (conversion, note) = self.conversion(&header, &location, page)?;
        let pixels = decode_tiff_page_window(&mut reader, page_index, &header, window, conversion)
            .map_err(|e| match (reader.take_failure(), e) {
                (Some(host_error), _) => PageError::Read(host_error),
                (None, DecodeError::Corrupt(r) | DecodeError::Unsupported(r)) => {
                    unreadable(format!("page {page}: {r}"))
                }
            })?;
        Ok(TileOutput {
            image: pixels.into(),
            notes: note.into_iter().collect(),
        })
    }

    /// The page must reach as far as the job's extent does inside the window: a page smaller
    /// than the job would otherwise become black padding without a word.
    fn covers(
        &self,
        header: &Header,
        location: &str,
        page: u64,
        window: Window,
        (x, y): (u64, u64),
    ) -> Result<(), PageError> {
        let need_w = (window.x0 + u64::from(window.width)).min(self.extent_stop.0);
        let need_h = (window.y0 + u64::from(window.height)).min(self.extent_stop.1);
        if u64::from(header.width) >= need_w && u64::from(header.height) >= need_h {
            return Ok(());
        }
        Err(PageError::TooSmall {
            location: location.to_string(),
            page,
            width: header.width,
            height: header.height,
            x,
            y,
            need_w,
            need_h,
        })
    }

    /// How the page's samples become the tile's, and the note a conversion deserves.
    fn conversion(
        &self,
        header: &Header,
        location: &str,
        page: u64,
    ) -> Result<(Conversion, Option<Note>), PageError> {
        let found = header.tile_dtype();
        if found == Some(self.datatype) {
            return Ok((Conversion::Exact(self.datatype), None));
        }
        let described = header.dtype_description();
        let cast = match (self.cast, found, self.datatype) {
            (Some(cast), _, _) => cast,
            // Every uint8 value is a uint16 value: widening loses nothing.
            (None, Some(Dtype::U8), Dtype::U16) => Cast {
                mode: CastMode::Clip,
                to: Dtype::U16,
            },
            (None, _, _) => {
                return Err(PageError::Dtype {
                    location: location.to_string(),
                    page,
                    dtype: described,
                    datatype: self.datatype.name(),
                })
            }
        };
        let note = Note::cast(format!(
            "cast: {location} page {page} is {described}, converted with {cast}"
        ));
        Ok((Conversion::Cast(cast), Some(note)))
    }
}
