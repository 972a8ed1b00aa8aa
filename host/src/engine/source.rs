//! What the engine asks of the plugin side: given a tile's indices, the bytes to upload; given a
//! volumetric chunk's indices, the checked chunk to cut into cuboids. The engine knows nothing
//! about plugins, files or image formats; `commands::ingest` adapts the configured processors to
//! these traits, and engine tests use small sources of their own. Calls happen on blocking
//! threads, several at once.

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

/// Why a tile or chunk could not be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The file it should have come from, when the path processor got that far.
    pub file: Option<String>,
    /// One readable paragraph: what failed and why.
    pub error: String,
    /// The source is not there yet (`--follow`): not a failed attempt, the item waits.
    pub not_yet: bool,
}

impl Failure {
    /// An ordinary failure: counted, retried, quarantined after the last attempt.
    pub fn new(file: Option<String>, error: impl Into<String>) -> Failure {
        Failure {
            file,
            error: error.into(),
            not_yet: false,
        }
    }
}

/// The name tile code has always used.
pub type TileFailure = Failure;

impl std::fmt::Display for Failure {
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

/// A volumetric chunk, checked against the job and ready to cut into cuboids.
#[derive(Debug)]
pub struct ProducedChunk {
    pub chunk: crate::chunk::Chunk,
    /// Where it came from, for logs and reports.
    pub file: Option<String>,
    /// The chunk is smaller than the extent covers; the rest is uploaded as zeros (counted with
    /// black tiles in the run summary).
    pub short: bool,
}

/// Produces volumetric chunks. Implementations must be cheap to share between threads.
pub trait ChunkSource: Send + Sync + 'static {
    /// The chunk at chunk indices `x`, `y`, `z` (time point 0).
    fn chunk(&self, x: u64, y: u64, z: u64) -> Result<ProducedChunk, Failure>;
}

impl<F> ChunkSource for F
where
    F: Fn(u64, u64, u64) -> Result<ProducedChunk, Failure> + Send + Sync + 'static,
{
    fn chunk(&self, x: u64, y: u64, z: u64) -> Result<ProducedChunk, Failure> {
        self(x, y, z)
    }
}
