//! The config's path and chunk processors as one source of checked chunks, the way `ingest`,
//! `check` and `verify` all read a volumetric job: chunk key indices → path processor (x, y, z,
//! t = 0) → chunk processor (path, x, y, z) → [`Chunk`] checked against the chunk size clipped
//! to the extent and against the channel's dtype. Every error names the chunk by its indices and
//! voxel box, the source file and the processor class, so a user can find what to fix.

use anyhow::anyhow;
use boss_protocol::config::{ChunkSize, Extent};
use plugin_abi::{Dtype, ErrorKind};

use crate::chunk::{Chunk, ChunkError, Geometry};
use crate::config::{JobConfig, ProcessorKind};
use crate::engine::{ChunkSource, Failure, ProducedChunk};
use crate::plugins::{ChunkHandle, PathHandle, Plugins, SearchPath};

/// Why a chunk could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkFailure {
    /// The path processor's answer, when it got that far.
    pub file: Option<String>,
    pub kind: FailureKind,
    /// One readable paragraph naming the chunk, file and processor.
    pub message: String,
}

/// What went wrong, for `check`'s tally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureKind {
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

/// The configured processors of a volumetric job.
pub struct PluginChunks {
    path: PathHandle,
    chunk: ChunkHandle,
    chunk_size: ChunkSize,
    extent: Extent,
    dtype: Option<Dtype>,
}

impl PluginChunks {
    /// Loads and constructs the job's path and chunk processors.
    pub fn new(job: &JobConfig) -> anyhow::Result<PluginChunks> {
        let plugins = Plugins::new(SearchPath::from_env());
        let spec = |kind: ProcessorKind| {
            job.processor_spec(kind).ok_or_else(|| {
                anyhow!(
                    "{}: the config has no {}",
                    job.path.display(),
                    kind.config_key()
                )
            })
        };
        let path = plugins.path_processor(&spec(ProcessorKind::Path)?)?;
        let chunk = plugins.chunk_processor(&spec(ProcessorKind::Chunk)?)?;
        let ij = &job.config.ingest_job;
        let chunk_size = ij.chunk_size.ok_or_else(|| {
            anyhow!(
                "{}: a volumetric job needs \"ingest_job\": \"chunk_size\"",
                job.path.display()
            )
        })?;
        Ok(PluginChunks {
            path,
            chunk,
            chunk_size,
            extent: ij.extent,
            dtype: None,
        })
    }

    /// Every chunk must have this dtype (the channel's); `None` accepts any the Boss stores.
    pub fn with_dtype(mut self, dtype: Option<Dtype>) -> PluginChunks {
        self.dtype = dtype;
        self
    }

    /// `library::Class` of the chunk processor.
    pub fn processor_name(&self) -> String {
        self.chunk.name()
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
            kind: FailureKind::Plugin(e.kind),
            message: format!("{name}: {}", e.message),
        })?;
        let from = if file.is_empty() {
            name.clone()
        } else {
            format!("{name} from {file}")
        };
        let array = self.chunk.chunk(&file, x, y, z).map_err(|e| ChunkFailure {
            file: Some(file.clone()),
            kind: FailureKind::Plugin(e.kind),
            message: format!("{from}: {}", e.message),
        })?;
        let chunk = Chunk::new(array, &geometry, self.dtype).map_err(|e| ChunkFailure {
            file: Some(file.clone()),
            message: format!(
                "{from}: the array {} returned cannot be uploaded: {e}",
                self.chunk.name()
            ),
            kind: FailureKind::Array(Box::new(e)),
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

impl ChunkSource for PluginChunks {
    fn chunk(&self, x: u64, y: u64, z: u64) -> Result<ProducedChunk, Failure> {
        let read = self.read(x, y, z).map_err(|f| Failure {
            file: f.file,
            error: f.message,
        })?;
        let mut short = read.chunk.is_short_of(read.geometry.max);
        for note in read.chunk.notes() {
            // A processor that filled part of the chunk with zeros (e.g. `fill_missing`) says
            // so with a black-tile note: counted with the zero-filled chunks of the summary.
            short |= note.kind == plugin_abi::NoteKind::BlackTile;
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
