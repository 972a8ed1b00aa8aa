//! The configured processors of a job, the one way `ingest`, `check` and `verify` turn indices
//! into what would be uploaded.
//!
//! A tile: tile key indices → path processor (x, y, z, t) → tile processor (path, x, y, z, t) →
//! [`tile::prepare`] (checked against the tile size and the channel's dtype, encoded when raw).
//! A chunk: chunk key indices → path processor (x, y, z, t = 0) → chunk processor (path, x, y, z)
//! → [`Chunk`] (checked against the chunk size clipped to the extent and the dtype). Every error
//! names the tile or chunk, the source file and what is wrong, and keeps what kind of failure it
//! was, which `check` tallies and the engine reports.

use std::sync::Arc;

use anyhow::anyhow;
use boss_protocol::config::{ChunkSize, Extent, IngestType};
use plugin_abi::{Dtype, ErrorKind, Note, NoteKind, TileOutput};

use crate::chunk::{Chunk, ChunkError, Geometry};
use crate::config::{JobConfig, ProcessorKind};
use crate::engine::{ChunkSource, Failure, Produced, ProducedChunk, TileSource};
use crate::plugins::{ChunkHandle, PathHandle, Plugins, ProcessorSpec, SearchPath, TileHandle};
use crate::sources::settle::Settle;
use crate::tile::{self, Encoded, Expected, TileError};

/// A job's processors, of the kind its config says.
pub enum Processors {
    Tiles(TileProcessors),
    Chunks(ChunkProcessors),
}

impl Processors {
    /// Loads and constructs the processors a job of this config's ingest type runs; `follow`
    /// (`--follow`) makes their reads wait for sources still being written.
    pub fn load(job: &JobConfig, follow: Option<Arc<Settle>>) -> anyhow::Result<Processors> {
        Ok(match job.config.ingest_job.ingest_type {
            IngestType::Tile => Processors::Tiles(TileProcessors::load(job, follow)?),
            IngestType::Volumetric => Processors::Chunks(ChunkProcessors::load(job, follow)?),
        })
    }
}

/// The config's processor of `kind`, to resolve and construct.
fn spec(job: &JobConfig, kind: ProcessorKind) -> anyhow::Result<ProcessorSpec> {
    // Validation guarantees the processors the job type needs; this guards hand-made configs.
    job.processor_spec(kind).ok_or_else(|| {
        anyhow!(
            "{}: the config has no \"client\": \"{}\"",
            job.path.display(),
            kind.config_key()
        )
    })
}

/// The configured path and tile processors of a tile job.
pub struct TileProcessors {
    path: PathHandle,
    tile: TileHandle,
    expected: Expected,
}

/// A tile made as an upload makes it.
#[derive(Debug)]
pub struct MadeTile {
    /// What the path processor answered.
    pub file: String,
    pub encoded: Encoded,
    /// What the processor said it did (a black tile substituted, a cast applied, ...).
    pub notes: Vec<Note>,
}

impl MadeTile {
    /// Why the processor substituted a black tile (e.g. `fail_gracefully`), if it did.
    pub fn black(&self) -> Option<&str> {
        black_note(&self.notes)
    }
}

fn black_note(notes: &[Note]) -> Option<&str> {
    notes
        .iter()
        .find(|n| n.kind == NoteKind::BlackTile)
        .map(|n| n.message.as_str())
}

/// Why a tile could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileProblem {
    /// The path or tile processor failed (`file` when the path processor got that far).
    Plugin {
        file: Option<String>,
        kind: ErrorKind,
        message: String,
    },
    /// The processor's image cannot be uploaded as this job's tile (`black`: the processor had
    /// substituted a black tile, and said why).
    Unusable {
        file: String,
        error: TileError,
        black: Option<String>,
    },
}

impl TileProblem {
    pub fn file(&self) -> Option<&str> {
        match self {
            TileProblem::Plugin { file, .. } => file.as_deref(),
            TileProblem::Unusable { file, .. } => Some(file),
        }
    }
}

impl TileProcessors {
    /// Loads and constructs the job's path and tile processors.
    pub fn load(job: &JobConfig, follow: Option<Arc<Settle>>) -> anyhow::Result<TileProcessors> {
        let plugins = Plugins::new(SearchPath::from_env()).following(follow);
        let path = plugins.path_processor(&spec(job, ProcessorKind::Path)?)?;
        let tile = plugins.tile_processor(&spec(job, ProcessorKind::Tile)?)?;
        let ts = job
            .config
            .ingest_job
            .tile_size
            .ok_or_else(|| anyhow!("{}: the config has no tile_size", job.path.display()))?;
        let side = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(TileProcessors {
            path,
            tile,
            expected: Expected {
                width: side(ts.x),
                height: side(ts.y),
                dtype: None,
            },
        })
    }

    /// Every tile must have this dtype (the channel's); `None` accepts any the Boss stores.
    pub fn with_dtype(mut self, dtype: Option<Dtype>) -> TileProcessors {
        self.expected.dtype = dtype;
        self
    }

    /// The tile at tile indices `x`, `y`, slice `z`, time `t`.
    pub fn make(&self, x: u64, y: u64, z: u64, t: u64) -> Result<MadeTile, TileProblem> {
        let plugin = |file: Option<String>| {
            move |e: plugin_abi::PluginError| TileProblem::Plugin {
                file,
                kind: e.kind,
                message: e.message,
            }
        };
        let file = self.path.path(x, y, z, t).map_err(plugin(None))?;
        let out = self
            .tile
            .tile(&file, x, y, z, t)
            .map_err(plugin(Some(file.clone())))?;
        made(file, out, &self.expected)
    }
}

/// What the tile processor returned for `file`, checked and encoded for upload.
pub fn made(file: String, out: TileOutput, expected: &Expected) -> Result<MadeTile, TileProblem> {
    match tile::prepare(out.image, expected) {
        Ok(encoded) => Ok(MadeTile {
            file,
            encoded,
            notes: out.notes,
        }),
        Err(error) => Err(TileProblem::Unusable {
            file,
            error,
            black: black_note(&out.notes).map(str::to_string),
        }),
    }
}

impl TileSource for TileProcessors {
    fn tile(&self, x: u64, y: u64, z: u64, t: u64) -> Result<Produced, Failure> {
        let made = self.make(x, y, z, t).map_err(|p| match p {
            TileProblem::Plugin {
                file,
                message,
                kind,
            } => Failure {
                file,
                error: message,
                not_yet: kind == ErrorKind::NotYet,
            },
            TileProblem::Unusable { file, error, .. } => Failure {
                error: format!("tile x{x} y{y} z{z} t{t} from {file}: {error}"),
                file: Some(file),
                not_yet: false,
            },
        })?;
        for note in &made.notes {
            log::info!("tile x{x} y{y} z{z} t{t} ({}): {}", made.file, note.message);
        }
        let black = made.black().is_some();
        Ok(Produced {
            bytes: made.encoded.bytes,
            file: Some(made.file),
            black,
        })
    }
}

/// Why a chunk could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkFailure {
    /// The path processor's answer, when it got that far.
    pub file: Option<String>,
    pub kind: ChunkFailureKind,
    /// One readable paragraph naming the chunk, file and processor.
    pub message: String,
}

/// What went wrong, for `check`'s tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkFailureKind {
    /// The path or chunk processor failed (its own error kind).
    Plugin(ErrorKind),
    /// The array came back but cannot be uploaded (boxed: errors stay small to move).
    Array(Box<ChunkError>),
}

/// A chunk read and checked.
#[derive(Debug)]
pub struct ReadChunk {
    pub file: String,
    pub chunk: Chunk,
    pub geometry: Geometry,
}

/// The configured path and chunk processors of a volumetric job.
pub struct ChunkProcessors {
    path: PathHandle,
    chunk: ChunkHandle,
    chunk_size: ChunkSize,
    extent: Extent,
    dtype: Option<Dtype>,
}

impl ChunkProcessors {
    /// Loads and constructs the job's path and chunk processors.
    pub fn load(job: &JobConfig, follow: Option<Arc<Settle>>) -> anyhow::Result<ChunkProcessors> {
        let plugins = Plugins::new(SearchPath::from_env()).following(follow);
        let path = plugins.path_processor(&spec(job, ProcessorKind::Path)?)?;
        let chunk = plugins.chunk_processor(&spec(job, ProcessorKind::Chunk)?)?;
        let ij = &job.config.ingest_job;
        let chunk_size = ij.chunk_size.ok_or_else(|| {
            anyhow!(
                "{}: a volumetric job needs \"ingest_job\": \"chunk_size\"",
                job.path.display()
            )
        })?;
        Ok(ChunkProcessors {
            path,
            chunk,
            chunk_size,
            extent: ij.extent,
            dtype: None,
        })
    }

    /// Every chunk must have this dtype (the channel's); `None` accepts any the Boss stores.
    pub fn with_dtype(mut self, dtype: Option<Dtype>) -> ChunkProcessors {
        self.dtype = dtype;
        self
    }

    /// `library::Class` of the chunk processor.
    pub fn processor_name(&self) -> String {
        self.chunk.name()
    }

    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    pub fn geometry(&self, x: u64, y: u64, z: u64) -> Geometry {
        Geometry::new(self.chunk_size, &self.extent, x, y, z)
    }

    /// Reads the chunk at chunk indices `(x, y, z)` and checks it.
    pub fn read(&self, x: u64, y: u64, z: u64) -> Result<ReadChunk, ChunkFailure> {
        let geometry = self.geometry(x, y, z);
        let name = describe(&geometry);
        let file = self.path.path(x, y, z, 0).map_err(|e| ChunkFailure {
            file: None,
            kind: ChunkFailureKind::Plugin(e.kind),
            message: format!("{name}: {}", e.message),
        })?;
        let from = if file.is_empty() {
            name.clone()
        } else {
            format!("{name} from {file}")
        };
        let array = self.chunk.chunk(&file, x, y, z).map_err(|e| ChunkFailure {
            file: Some(file.clone()),
            kind: ChunkFailureKind::Plugin(e.kind),
            message: format!("{from}: {}", e.message),
        })?;
        let chunk = Chunk::new(array, &geometry, self.dtype).map_err(|e| ChunkFailure {
            file: Some(file.clone()),
            message: format!(
                "{from}: the array {} returned cannot be uploaded: {e}",
                self.chunk.name()
            ),
            kind: ChunkFailureKind::Array(Box::new(e)),
        })?;
        Ok(ReadChunk {
            file,
            chunk,
            geometry,
        })
    }
}

/// "chunk x1 y0 z2 (voxels x [512, 1024), y [0, 512), z [32, 48))": indices and where they are.
pub fn describe(g: &Geometry) -> String {
    format!(
        "chunk x{} y{} z{} (voxels x [{}, {}), y [{}, {}), z [{}, {}))",
        g.index.x,
        g.index.y,
        g.index.z,
        g.origin.x,
        g.origin.x + g.max.x,
        g.origin.y,
        g.origin.y + g.max.y,
        g.origin.z,
        g.origin.z + g.max.z
    )
}

impl ChunkSource for ChunkProcessors {
    fn chunk(&self, x: u64, y: u64, z: u64) -> Result<ProducedChunk, Failure> {
        let read = self.read(x, y, z).map_err(|f| Failure {
            not_yet: f.kind == ChunkFailureKind::Plugin(ErrorKind::NotYet),
            file: f.file,
            error: f.message,
        })?;
        let mut short = read.chunk.is_short_of(read.geometry.max);
        for note in read.chunk.notes() {
            // A processor that filled part of the chunk with zeros (e.g. `fill_missing`) says
            // so with a black-tile note: counted with the zero-filled chunks of the summary.
            short |= note.kind == NoteKind::BlackTile;
            log::warn!(
                "{} from {}: {}",
                describe(&read.geometry),
                read.file,
                note.message
            );
        }
        if read.chunk.is_short_of(read.geometry.max) {
            log::warn!(
                "{} from {}: the chunk is {}, smaller than the {} the extent covers; the rest is \
                 uploaded as zeros",
                describe(&read.geometry),
                read.file,
                read.chunk.size(),
                read.geometry.max
            );
        }
        Ok(ProducedChunk {
            chunk: read.chunk,
            file: Some(read.file),
            short,
        })
    }
}
