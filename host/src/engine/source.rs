//! What the engine asks of the plugin side: given a tile's indices, the bytes to upload. The
//! engine knows nothing about plugins, files or image formats; `commands::ingest` adapts the
//! configured path and tile processors to this trait, and engine tests use small sources of their
//! own. Calls happen on blocking threads, several at once.

/// A finished tile, ready to upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Produced {
    /// The encoded image (PNG, TIFF or JPEG) exactly as it will be stored.
    pub bytes: Vec<u8>,
    /// Where it came from, for logs and reports.
    pub file: Option<String>,
    /// The plugin substituted a black tile (e.g. `fail_gracefully` on a missing file).
    pub black: bool,
}

/// Why a tile could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TileFailure {
    /// The file the tile should have come from, when the path processor got that far.
    pub file: Option<String>,
    /// One readable paragraph: what failed and why.
    pub error: String,
}

impl std::fmt::Display for TileFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{} (file {file})", self.error),
            None => f.write_str(&self.error),
        }
    }
}

/// Produces tiles. Implementations must be cheap to share between threads.
pub trait TileSource: Send + Sync + 'static {
    /// The tile at tile indices `x`, `y`, slice `z`, time `t`.
    fn tile(&self, x: u64, y: u64, z: u64, t: u64) -> Result<Produced, TileFailure>;
}

impl<F> TileSource for F
where
    F: Fn(u64, u64, u64, u64) -> Result<Produced, TileFailure> + Send + Sync + 'static,
{
    fn tile(&self, x: u64, y: u64, z: u64, t: u64) -> Result<Produced, TileFailure> {
        self(x, y, z, t)
    }
}
