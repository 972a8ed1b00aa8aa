//! The typed view of an ingest config: the sections and keys the client and the service act on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::status::IngestType;

/// The typed view of a valid config. Keys we do not use are ignored here; callers that must pass
/// the config on unchanged (job creation, the `ingest_job` handed to plugins) keep the JSON value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub schema: SchemaRef,
    pub client: Client,
    pub database: Database,
    pub ingest_job: IngestJob,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaRef {
    pub name: String,
    pub validator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub backend: Backend,
    pub path_processor: Processor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_processor: Option<Processor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_processor: Option<Processor>,
}

/// Where the Boss API is (`{protocol}://{host}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backend {
    pub name: String,
    pub class: String,
    pub host: String,
    pub protocol: String,
}

/// One processor entry of `client`: a class name (legacy dotted Python name, `library::Class`, or
/// a class with `plugin` naming its library) and its params.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Processor {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    pub params: serde_json::Map<String, Value>,
}

/// The Boss resource the data goes into, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    pub collection: String,
    pub experiment: String,
    pub channel: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestJob {
    /// Spelled `"tile"`/`"volumetric"` in config files; absent means tile.
    #[serde(default, with = "crate::status::ingest_type_name")]
    pub ingest_type: IngestType,
    pub resolution: i64,
    pub extent: Extent,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_size: Option<TileSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_size: Option<ChunkSize>,
}

/// `[start, stop)` of each axis, in voxels (t in time points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extent {
    pub x: Span,
    pub y: Span,
    pub z: Span,
    pub t: Span,
}

/// A half-open range `[start, stop)`. Read from a JSON array whose first two values are used, as
/// the service does; [`validate`](super::validate()) has already refused shorter arrays and negative values and
/// warned about longer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u64>", into = "[u64; 2]")]
pub struct Span {
    pub start: u64,
    pub stop: u64,
}

impl Span {
    /// Number of positions in the range (0 when `stop <= start`).
    pub fn len(&self) -> u64 {
        self.stop.saturating_sub(self.start)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `start, start + step, ...` below `stop`, as Python's `range(start, stop, step)`: the walk
    /// the service makes over each axis when it fills the upload queue.
    pub fn steps(self, step: u64) -> std::iter::StepBy<std::ops::Range<u64>> {
        // `step_by(0)` panics; sizes are validated positive, so 0 only comes from a hand-built
        // struct, where stepping by 1 is the harmless reading.
        let step = usize::try_from(step).unwrap_or(usize::MAX).max(1);
        (self.start..self.stop).step_by(step)
    }
}

impl TryFrom<Vec<u64>> for Span {
    type Error = String;
    fn try_from(v: Vec<u64>) -> Result<Self, Self::Error> {
        match v[..] {
            [start, stop, ..] => Ok(Span { start, stop }),
            _ => Err(format!("expected [start, stop], got {v:?}")),
        }
    }
}

impl From<Span> for [u64; 2] {
    fn from(s: Span) -> Self {
        [s.start, s.stop]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileSize {
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub t: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkSize {
    pub x: u64,
    pub y: u64,
    pub z: u64,
}
