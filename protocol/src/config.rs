//! Ingest job configuration: the two schemas the Boss accepts (`boss-v0.1-schema`,
//! `boss-v0.2-schema`), the `BossValidatorV01`/`BossValidatorV02` rules, our own sanity checks,
//! the job's geometry (how many tiles or chunks it has, and which) and the estimate the Python
//! client printed.
//!
//! This module exists once for both sides: `boss-ingest check` and the job creation of
//! `boss-ingest` run [`validate`], and so does `boss-sim`'s create endpoint, so the client can never
//! accept a config the service would refuse or the other way round.
//!
//! Validation follows the service (spec §5): pick the schema by `schema.name`, validate against it
//! (JSON Schema draft-04), then run the validator named by `schema.validator`. On top of that we
//! refuse what would make the job meaningless (non-positive tile or chunk sizes, an extent that is
//! not `[start, stop]`, negative coordinates) and warn about what the service silently assumes
//! (alignment, `start < stop`, the t extent). Messages name the config section and key the way the
//! original validator did: `"ingest_job": "chunk_size": "x" must be a multiple of 512.`

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `schema.name` of the original tile-only configs.
pub const SCHEMA_V01: &str = "boss-v0.1-schema";
/// `schema.name` of configs that may be volumetric.
pub const SCHEMA_V02: &str = "boss-v0.2-schema";
/// `schema.validator` of the original validator (schema only, no further rules).
pub const VALIDATOR_V01: &str = "BossValidatorV01";
/// `schema.validator` of the validator with the tile/volumetric rules.
pub const VALIDATOR_V02: &str = "BossValidatorV02";

/// The schema documents, embedded so that validation needs no files at run time.
pub const SCHEMA_V01_JSON: &str = include_str!("../schema/boss-v0.1-schema.json");
pub const SCHEMA_V02_JSON: &str = include_str!("../schema/boss-v0.2-schema.json");

/// Boss cuboid size (x, y, z): storage is in these blocks, so extents should align to them.
const CUBOID: [u64; 3] = [512, 512, 16];

/// A config the service would refuse (or that cannot describe a job): every problem found, each a
/// complete sentence naming the section and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct Invalid {
    pub problems: Vec<String>,
}

/// A config that passed validation: its typed form and the warnings worth showing a user.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub config: Config,
    pub warnings: Vec<String>,
}

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

/// `ingest_type` as config files spell it; absent means tile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestType {
    #[default]
    Tile,
    Volumetric,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestJob {
    #[serde(default)]
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
/// the service does; [`validate`] has already refused shorter arrays and negative values and
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

/// One tile of a tile job: x/y are tile indices, z the absolute slice, t the time point — the
/// numbers that go into the tile key (spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileIndex {
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub t: u64,
}

/// What the Python client printed before creating a job (spec §5). Both formulas floor, so they
/// undercount extents that are not multiples of the tile or chunk size; use
/// [`IngestJob::tile_count`] / [`IngestJob::chunk_count`] for the numbers the service generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyEstimate {
    /// `floor(nx*ny/(tx*ty)) * nz * nt`; `None` without `tile_size`.
    pub tiles: Option<u64>,
    /// `floor(nx*ny*nz*nt/(cx*cy*cz))`; `None` without `chunk_size`.
    pub chunks: Option<u64>,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    // Sizes are validated positive; a zero divisor can only come from a hand-built struct.
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

impl IngestJob {
    /// Number of tile upload messages the service generates for a tile job (spec §3.2):
    /// `ceil(dx/tx) * ceil(dy/ty) * dz * ceil(dt/tt)`. 0 for volumetric jobs.
    pub fn tile_count(&self) -> u64 {
        match (self.ingest_type, self.tile_size) {
            (IngestType::Tile, Some(ts)) => {
                let e = &self.extent;
                ceil_div(e.x.len(), ts.x)
                    .saturating_mul(ceil_div(e.y.len(), ts.y))
                    .saturating_mul(e.z.len())
                    .saturating_mul(ceil_div(e.t.len(), ts.t))
            }
            _ => 0,
        }
    }

    /// Number of chunks: for volumetric jobs the upload messages of spec §3.3,
    /// `ceil(dx/cx) * ceil(dy/cy) * ceil(dz/cz) * dt`; for tile jobs the chunk keys (one tile
    /// footprint × up to 16 slices), `ceil(dx/tx) * ceil(dy/ty) * ceil(dz/16) * ceil(dt/tt)`.
    pub fn chunk_count(&self) -> u64 {
        let e = &self.extent;
        match self.ingest_type {
            IngestType::Volumetric => match self.chunk_size {
                Some(cs) => ceil_div(e.x.len(), cs.x)
                    .saturating_mul(ceil_div(e.y.len(), cs.y))
                    .saturating_mul(ceil_div(e.z.len(), cs.z))
                    .saturating_mul(e.t.len()),
                None => 0,
            },
            IngestType::Tile => match self.tile_size {
                Some(ts) => ceil_div(e.x.len(), ts.x)
                    .saturating_mul(ceil_div(e.y.len(), ts.y))
                    .saturating_mul(ceil_div(e.z.len(), CUBOID[2]))
                    .saturating_mul(ceil_div(e.t.len(), ts.t)),
                None => 0,
            },
        }
    }

    /// Number of messages the service puts on the upload queue: tiles for tile jobs, chunks for
    /// volumetric jobs. This is the job's `tile_count` on the wire.
    pub fn upload_message_count(&self) -> u64 {
        match self.ingest_type {
            IngestType::Tile => self.tile_count(),
            IngestType::Volumetric => self.chunk_count(),
        }
    }

    /// The estimate the Python client printed, formulas kept exactly (spec §5).
    pub fn legacy_estimate(&self) -> LegacyEstimate {
        let e = &self.extent;
        let (nx, ny, nz, nt) = (e.x.len(), e.y.len(), e.z.len(), e.t.len());
        let tiles = self.tile_size.map(|ts| {
            (nx.saturating_mul(ny) / ts.x.saturating_mul(ts.y).max(1))
                .saturating_mul(nz)
                .saturating_mul(nt)
        });
        let chunks = self.chunk_size.map(|cs| {
            nx.saturating_mul(ny).saturating_mul(nz).saturating_mul(nt)
                / cs.x.saturating_mul(cs.y).saturating_mul(cs.z).max(1)
        });
        LegacyEstimate { tiles, chunks }
    }

    /// Every tile of a tile job in the order the service enqueues them (spec §3.2): t, then
    /// chunks of 16 slices from the z start, then y, then x, then each slice of the chunk. Tile
    /// indices are the voxel position divided by the tile size. Empty for volumetric jobs.
    /// Lazy: a job of millions of tiles costs nothing to walk.
    pub fn tiles(&self) -> impl Iterator<Item = TileIndex> + Send + 'static {
        let ts = match (self.ingest_type, self.tile_size) {
            (IngestType::Tile, Some(ts)) if ts.x > 0 && ts.y > 0 && ts.t > 0 => Some(ts),
            _ => None,
        };
        let e = self.extent;
        ts.into_iter().flat_map(move |ts| {
            e.t.steps(ts.t).flat_map(move |t| {
                e.z.steps(CUBOID[2]).flat_map(move |z0| {
                    let z1 = (z0 + CUBOID[2]).min(e.z.stop);
                    e.y.steps(ts.y).flat_map(move |y| {
                        e.x.steps(ts.x).flat_map(move |x| {
                            (z0..z1).map(move |z| TileIndex {
                                x: x / ts.x,
                                y: y / ts.y,
                                z,
                                t,
                            })
                        })
                    })
                })
            })
        })
    }
}

impl IngestJob {
    /// Every chunk of a volumetric job in the order the service enqueues them (spec §3.3):
    /// z, then y, then x in steps of the chunk size from the extent's start; each as chunk
    /// indices (voxel position / chunk size) with t = 0, the numbers in the chunk key. Empty for
    /// tile jobs. Lazy, like [`IngestJob::tiles`].
    pub fn volumetric_chunks(&self) -> impl Iterator<Item = TileIndex> + Send + 'static {
        let cs = match (self.ingest_type, self.chunk_size) {
            (IngestType::Volumetric, Some(cs)) if cs.x > 0 && cs.y > 0 && cs.z > 0 => Some(cs),
            _ => None,
        };
        let e = self.extent;
        cs.into_iter().flat_map(move |cs| {
            e.z.steps(cs.z).flat_map(move |z| {
                e.y.steps(cs.y).flat_map(move |y| {
                    e.x.steps(cs.x).map(move |x| TileIndex {
                        x: x / cs.x,
                        y: y / cs.y,
                        z: z / cs.z,
                        t: 0,
                    })
                })
            })
        })
    }
}

/// Validates a config as the service does (schema + validator rules), plus our own refusals and
/// warnings (module docs). `Err` lists every problem found.
pub fn validate(value: &Value) -> Result<Validated, Invalid> {
    let mut problems = Vec::new();

    let schema_name = value.pointer("/schema/name").and_then(Value::as_str);
    let schema = match schema_name {
        Some(SCHEMA_V01) => v01_schema(),
        Some(SCHEMA_V02) => v02_schema(),
        other => {
            problems.push(format!(
                "\"schema\": \"name\" must be \"{SCHEMA_V01}\" or \"{SCHEMA_V02}\", got {}.",
                shown(other)
            ));
            return Err(Invalid { problems });
        }
    };
    for error in schema.iter_errors(value) {
        problems.push(format!(
            "{}{}",
            location(error.instance_path()),
            error.to_string().trim_end_matches('.')
        ));
    }
    if !problems.is_empty() {
        // Later rules assume the shapes the schema guarantees.
        problems.iter_mut().for_each(|p| p.push('.'));
        return Err(Invalid { problems });
    }

    match value.pointer("/schema/validator").and_then(Value::as_str) {
        Some(VALIDATOR_V01) => {}
        Some(VALIDATOR_V02) => problems.extend(v02_rules(value)),
        other => problems.push(format!(
            "\"schema\": \"validator\" must be \"{VALIDATOR_V01}\" or \"{VALIDATOR_V02}\", got {}.",
            shown(other)
        )),
    }
    problems.extend(geometry_errors(value));
    if !problems.is_empty() {
        return Err(Invalid { problems });
    }

    let config: Config = serde_json::from_value(value.clone()).map_err(|e| Invalid {
        problems: vec![format!("The config cannot be read: {e}.")],
    })?;
    let warnings = warnings(value, &config.ingest_job);
    Ok(Validated { config, warnings })
}

fn shown(v: Option<&str>) -> String {
    match v {
        Some(s) => format!("\"{s}\""),
        None => "nothing".to_string(),
    }
}

fn compile(text: &str) -> jsonschema::Validator {
    // The schemas are constants of this crate, checked by the unit tests below: parsing and
    // compiling them cannot fail at run time.
    let schema: Value = serde_json::from_str(text).expect("embedded schema is valid JSON");
    jsonschema::draft4::new(&schema).expect("embedded schema is a valid draft-04 schema")
}

fn v01_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(SCHEMA_V01_JSON))
}

fn v02_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(SCHEMA_V02_JSON))
}

/// `/ingest_job/extent/x/0` → `"ingest_job": "extent": "x"[0]: ` (empty at the root).
fn location(path: &jsonschema::paths::Location) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            jsonschema::paths::LocationSegment::Property(p) => out.push_str(&format!("\"{p}\": ")),
            jsonschema::paths::LocationSegment::Index(i) => {
                // Attach the index to the key before it: `"x"[0]: `.
                if out.ends_with(": ") {
                    out.truncate(out.len() - 2);
                }
                out.push_str(&format!("[{i}]: "));
            }
        }
    }
    out
}

/// BossValidatorV02: what each ingest type needs beyond the schema.
fn v02_rules(value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let job = &value["ingest_job"];
    let client = &value["client"];
    match job["ingest_type"].as_str() {
        Some("volumetric") => {
            match job.get("chunk_size") {
                None => problems.push(
                    "\"ingest_job\": \"chunk_size\" required for volumetric ingest jobs.".into(),
                ),
                Some(cs) => {
                    for (axis, multiple) in [("x", 512), ("y", 512), ("z", 16)] {
                        if cs[axis].as_i64().is_some_and(|v| v % multiple != 0) {
                            problems.push(format!(
                                "\"ingest_job\": \"chunk_size\": \"{axis}\" must be a multiple of \
                                 {multiple}."
                            ));
                        }
                    }
                }
            }
            if client.get("chunk_processor").is_none() {
                problems.push(
                    "\"client\": \"chunk_processor\" required for volumetric ingest jobs.".into(),
                );
            }
        }
        _ => {
            if job.get("tile_size").is_none() {
                problems
                    .push("\"ingest_job\": \"tile_size\" required for tile ingest jobs.".into());
            }
            if client.get("tile_processor").is_none() {
                problems
                    .push("\"client\": \"tile_processor\" required for tile ingest jobs.".into());
            }
        }
    }
    problems
}

/// Refusals of our own: shapes the service would crash on or turn into a job with no meaning.
fn geometry_errors(value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let job = &value["ingest_job"];
    for axis in ["x", "y", "z", "t"] {
        let values = job["extent"][axis]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if values.len() < 2 {
            problems.push(format!(
                "\"ingest_job\": \"extent\": \"{axis}\" must be [start, stop], got {}.",
                job["extent"][axis]
            ));
        } else if values[..2]
            .iter()
            .any(|v| v.as_i64().is_some_and(|v| v < 0))
        {
            problems.push(format!(
                "\"ingest_job\": \"extent\": \"{axis}\" is {}: coordinates cannot be negative.",
                job["extent"][axis]
            ));
        }
    }
    let volumetric = job["ingest_type"].as_str() == Some("volumetric");
    let sizes = [
        ("tile_size", ["x", "y", "z", "t"].as_slice(), !volumetric),
        ("chunk_size", ["x", "y", "z"].as_slice(), volumetric),
    ];
    for (section, axes, used) in sizes {
        let Some(size) = job.get(section).filter(|_| used) else {
            continue;
        };
        for axis in axes {
            if size[axis].as_i64().is_some_and(|v| v <= 0) {
                problems.push(format!(
                    "\"ingest_job\": \"{section}\": \"{axis}\" must be positive, got {}.",
                    size[axis]
                ));
            }
        }
    }
    problems
}

/// What the service silently assumes or ignores (spec §3.2, §5): worth a warning, not a refusal.
fn warnings(value: &Value, job: &IngestJob) -> Vec<String> {
    let mut warnings = Vec::new();
    let e = &job.extent;
    let spans = [("x", e.x), ("y", e.y), ("z", e.z), ("t", e.t)];
    for (axis, span) in spans {
        let n = value["ingest_job"]["extent"][axis]
            .as_array()
            .map_or(0, Vec::len);
        if n > 2 {
            warnings.push(format!(
                "\"ingest_job\": \"extent\": \"{axis}\" has {n} values; the service uses the \
                 first two as [start, stop] and ignores the rest."
            ));
        }
        if span.start >= span.stop {
            warnings.push(format!(
                "\"ingest_job\": \"extent\": \"{axis}\" is [{}, {}]: start must be less than \
                 stop, or the job has nothing to upload{}.",
                span.start,
                span.stop,
                if axis == "t" {
                    " (use [0, 1] for data without time points)"
                } else {
                    ""
                }
            ));
        }
    }
    if job.resolution < 0 {
        warnings.push(format!(
            "\"ingest_job\": \"resolution\" is {}; resolutions start at 0.",
            job.resolution
        ));
    }
    match job.ingest_type {
        IngestType::Tile => {
            if let Some(ts) = job.tile_size {
                tile_warnings(&mut warnings, e, ts);
            }
        }
        IngestType::Volumetric => {
            for ((axis, span), multiple) in spans.iter().take(3).zip(CUBOID) {
                if !span.start.is_multiple_of(multiple) {
                    warnings.push(format!(
                        "\"ingest_job\": \"extent\": \"{axis}\" starts at {}, which is not a \
                         multiple of {multiple} (the cuboid size); the service assumes it is and \
                         would misplace the data.",
                        span.start
                    ));
                }
            }
            if (e.t.start, e.t.stop) != (0, 1) {
                warnings.push(format!(
                    "\"ingest_job\": \"extent\": \"t\" is [{}, {}]; volumetric jobs upload t = 0 \
                     only.",
                    e.t.start, e.t.stop
                ));
            }
        }
    }
    let protocol = value["client"]["backend"]["protocol"].as_str();
    if !matches!(protocol, Some("http" | "https")) {
        warnings.push(format!(
            "\"client\": \"backend\": \"protocol\" is {}; expected \"https\" or \"http\".",
            shown(protocol)
        ));
    }
    warnings
}

fn tile_warnings(warnings: &mut Vec<String>, e: &Extent, ts: TileSize) {
    if !e.z.start.is_multiple_of(CUBOID[2]) {
        warnings.push(format!(
            "\"ingest_job\": \"extent\": \"z\" starts at {}, which is not a multiple of 16; the \
             service assumes it is and would misplace slices.",
            e.z.start
        ));
    }
    for (axis, span, size) in [("x", e.x, ts.x), ("y", e.y, ts.y)] {
        if !span.start.is_multiple_of(size) {
            warnings.push(format!(
                "\"ingest_job\": \"extent\": \"{axis}\" starts at {}, which is not a multiple of \
                 \"tile_size\": \"{axis}\" ({size}); the service assumes it is and would misplace \
                 tiles.",
                span.start
            ));
        }
        if !size.is_multiple_of(512) {
            warnings.push(format!(
                "\"ingest_job\": \"tile_size\": \"{axis}\" is {size}, which is not a multiple of \
                 512; the service assumes it is."
            ));
        }
    }
    if ts.z != 1 {
        warnings.push(format!(
            "\"ingest_job\": \"tile_size\": \"z\" is {}; tiles are single slices and the service \
             uses 1.",
            ts.z
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The zStack example of the Python client's documentation, as users have it on disk.
    fn v01_example() -> Value {
        json!({
          "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
          "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                        "protocol": "https"},
            "path_processor": {
              "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
              "params": {"root_dir": "", "extension": "png",
                         "base_filename": "<o:3253>_my_stack_section<p:3>"}
            },
            "tile_processor": {
              "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
              "params": {"filesystem": "local", "extension": "png"}
            }
          },
          "database": {"collection": "my_col_1", "experiment": "my_exp_1", "channel": "my_ch_1"},
          "ingest_job": {
            "resolution": 0,
            "extent": {"x": [0, 8192], "y": [0, 8192], "z": [0, 500], "t": [0, 1]},
            "tile_size": {"x": 1024, "y": 1024, "z": 1, "t": 1}
          }
        })
    }

    /// A v0.2 skeleton without ingest type, sizes or tile/chunk processor.
    fn v02_skeleton() -> Value {
        json!({
          "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
          "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                        "protocol": "https"},
            "path_processor": {"class": "ingestclient.plugins.cloudvolume.CloudVolumePathProcessor",
                               "params": {}}
          },
          "database": {"collection": "my_col_1", "experiment": "my_exp_1", "channel": "my_ch_1"},
          "ingest_job": {
            "resolution": 0,
            "extent": {"x": [0, 8192], "y": [0, 8192], "z": [0, 500], "t": [0, 1]}
          }
        })
    }

    fn volumetric() -> Value {
        let mut c = v02_skeleton();
        c["ingest_job"]["ingest_type"] = json!("volumetric");
        c["ingest_job"]["chunk_size"] = json!({"x": 1024, "y": 1024, "z": 64});
        c["client"]["chunk_processor"] = json!({
            "class": "ingestclient.plugins.cloudvolume.CloudVolumeChunkProcessor",
            "params": {"cloudpath": "file:///tmp/vol"}});
        c
    }

    fn problems(v: &Value) -> Vec<String> {
        validate(v).expect_err("config should be refused").problems
    }

    #[test]
    fn embedded_schemas_compile() {
        let _ = v01_schema();
        let _ = v02_schema();
    }

    #[test]
    fn python_example_is_valid_without_warnings() {
        let v = validate(&v01_example()).unwrap();
        assert_eq!(v.warnings, Vec::<String>::new());
        let job = &v.config.ingest_job;
        assert_eq!(job.ingest_type, IngestType::Tile);
        assert_eq!(
            job.extent.z,
            Span {
                start: 0,
                stop: 500
            }
        );
        assert_eq!(v.config.database.channel, "my_ch_1");
        assert_eq!(
            v.config.client.path_processor.class,
            "ingestclient.plugins.stack.ZindexStackPathProcessor"
        );
    }

    #[test]
    fn estimate_of_the_documented_example() {
        let job = validate(&v01_example()).unwrap().config.ingest_job;
        assert_eq!(job.legacy_estimate().tiles, Some(32000));
        assert_eq!(job.legacy_estimate().chunks, None);
        assert_eq!(job.tile_count(), 32000);
        assert_eq!(job.chunk_count(), 64 * 32);
    }

    #[test]
    fn exact_count_exceeds_the_legacy_estimate_on_ragged_extents() {
        let mut c = v01_example();
        c["ingest_job"]["extent"] =
            json!({"x": [0, 2500], "y": [0, 1500], "z": [0, 37], "t": [0, 1]});
        let job = validate(&c).unwrap().config.ingest_job;
        // floor(2500*1500 / 1024²) = 3 per slice, but the service makes 3 × 2 tiles per slice.
        assert_eq!(job.legacy_estimate().tiles, Some(3 * 37));
        assert_eq!(job.tile_count(), 6 * 37);
        assert_eq!(job.chunk_count(), 6 * 3);
        assert_eq!(job.tiles().count() as u64, job.tile_count());
    }

    #[test]
    fn volumetric_chunks_come_in_the_service_order_as_indices() {
        let mut c = volumetric();
        c["ingest_job"]["extent"] =
            json!({"x": [0, 1500], "y": [1024, 2048], "z": [0, 65], "t": [0, 1]});
        let job = validate(&c).unwrap().config.ingest_job;
        let chunks: Vec<(u64, u64, u64)> =
            job.volumetric_chunks().map(|c| (c.x, c.y, c.z)).collect();
        assert_eq!(chunks, vec![(0, 1, 0), (1, 1, 0), (0, 1, 1), (1, 1, 1)]);
        assert_eq!(job.chunk_count(), 4);
        assert_eq!(v01_example_job().volumetric_chunks().count(), 0);
    }

    fn v01_example_job() -> IngestJob {
        validate(&v01_example()).unwrap().config.ingest_job
    }

    #[test]
    fn tiles_come_in_the_service_order() {
        let mut c = v01_example();
        c["ingest_job"]["extent"] =
            json!({"x": [0, 2048], "y": [0, 1024], "z": [0, 18], "t": [0, 1]});
        let job = validate(&c).unwrap().config.ingest_job;
        let tiles: Vec<_> = job.tiles().map(|t| (t.x, t.y, t.z, t.t)).collect();
        let mut expected = Vec::new();
        for (z0, z1) in [(0, 16), (16, 18)] {
            for x in 0..2 {
                for z in z0..z1 {
                    expected.push((x, 0, z, 0));
                }
            }
        }
        assert_eq!(tiles, expected);
    }

    #[test]
    fn tile_indices_of_an_offset_extent() {
        let mut c = v01_example();
        c["ingest_job"]["extent"] =
            json!({"x": [1024, 3072], "y": [2048, 3072], "z": [32, 33], "t": [0, 1]});
        let job = validate(&c).unwrap().config.ingest_job;
        let tiles: Vec<_> = job.tiles().collect();
        assert_eq!(
            tiles,
            vec![
                TileIndex {
                    x: 1,
                    y: 2,
                    z: 32,
                    t: 0
                },
                TileIndex {
                    x: 2,
                    y: 2,
                    z: 32,
                    t: 0
                }
            ]
        );
    }

    #[test]
    fn volumetric_counts() {
        let mut c = volumetric();
        c["ingest_job"]["extent"] =
            json!({"x": [0, 2500], "y": [0, 1024], "z": [0, 100], "t": [0, 1]});
        let job = validate(&c).unwrap().config.ingest_job;
        assert_eq!(job.chunk_count(), 3 * 2);
        assert_eq!(job.upload_message_count(), 6);
        assert_eq!(job.tile_count(), 0);
        assert_eq!(job.tiles().count(), 0);
        assert_eq!(
            job.legacy_estimate().chunks,
            Some(2500 * 1024 * 100 / (1024 * 1024 * 64))
        );
    }

    #[test]
    fn v02_volumetric_needs_chunk_processor() {
        let mut c = volumetric();
        c["client"]
            .as_object_mut()
            .unwrap()
            .remove("chunk_processor");
        assert_eq!(
            problems(&c),
            ["\"client\": \"chunk_processor\" required for volumetric ingest jobs."]
        );
    }

    #[test]
    fn v02_volumetric_needs_chunk_size() {
        let mut c = volumetric();
        c["ingest_job"]
            .as_object_mut()
            .unwrap()
            .remove("chunk_size");
        assert_eq!(
            problems(&c),
            ["\"ingest_job\": \"chunk_size\" required for volumetric ingest jobs."]
        );
    }

    #[test]
    fn v02_chunk_size_multiples() {
        let mut c = volumetric();
        c["ingest_job"]["chunk_size"] = json!({"x": 1000, "y": 1024, "z": 60});
        assert_eq!(
            problems(&c),
            [
                "\"ingest_job\": \"chunk_size\": \"x\" must be a multiple of 512.",
                "\"ingest_job\": \"chunk_size\": \"z\" must be a multiple of 16."
            ]
        );
        c["ingest_job"]["chunk_size"] = json!({"x": 512, "y": 100, "z": 16});
        assert_eq!(
            problems(&c),
            ["\"ingest_job\": \"chunk_size\": \"y\" must be a multiple of 512."]
        );
    }

    #[test]
    fn v02_tile_jobs_need_tile_size_and_tile_processor() {
        let mut c = v02_skeleton();
        c["ingest_job"]["ingest_type"] = json!("tile");
        assert_eq!(
            problems(&c),
            [
                "\"ingest_job\": \"tile_size\" required for tile ingest jobs.",
                "\"client\": \"tile_processor\" required for tile ingest jobs."
            ]
        );
    }

    #[test]
    fn v02_schema_requires_ingest_type() {
        assert_eq!(
            problems(&v02_skeleton()),
            ["\"ingest_job\": \"ingest_type\" is a required property."]
        );
    }

    #[test]
    fn v02_ingest_type_enum() {
        let mut c = volumetric();
        c["ingest_job"]["ingest_type"] = json!("cubes");
        assert_eq!(
            problems(&c),
            ["\"ingest_job\": \"ingest_type\": \"cubes\" is not one of \"tile\" or \"volumetric\"."]
        );
    }

    #[test]
    fn v01_schema_requires_tile_processor_and_tile_size() {
        let mut c = v01_example();
        c["client"]
            .as_object_mut()
            .unwrap()
            .remove("tile_processor");
        c["ingest_job"].as_object_mut().unwrap().remove("tile_size");
        assert_eq!(
            problems(&c),
            [
                "\"client\": \"tile_processor\" is a required property.",
                "\"ingest_job\": \"tile_size\" is a required property."
            ]
        );
    }

    #[test]
    fn schema_type_errors_name_the_key() {
        let mut c = v01_example();
        c["ingest_job"]["extent"]["x"] = json!([0, "8192"]);
        c["database"]["channel"] = json!(7);
        assert_eq!(
            problems(&c),
            [
                "\"database\": \"channel\": 7 is not of type \"string\".",
                "\"ingest_job\": \"extent\": \"x\"[1]: \"8192\" is not of type \"integer\"."
            ]
        );
    }

    #[test]
    fn missing_top_level_section() {
        let mut c = v01_example();
        c.as_object_mut().unwrap().remove("database");
        assert_eq!(problems(&c), ["\"database\" is a required property."]);
    }

    #[test]
    fn unknown_schema_and_validator() {
        let mut c = v01_example();
        c["schema"]["name"] = json!("boss-v9-schema");
        assert_eq!(
            problems(&c),
            [
                "\"schema\": \"name\" must be \"boss-v0.1-schema\" or \"boss-v0.2-schema\", got \
              \"boss-v9-schema\"."
            ]
        );
        let mut c = v01_example();
        c["schema"]["validator"] = json!("Nope");
        assert_eq!(
            problems(&c),
            ["\"schema\": \"validator\" must be \"BossValidatorV01\" or \"BossValidatorV02\", got \
              \"Nope\"."]
        );
        assert_eq!(
            problems(&json!([1, 2])),
            [
                "\"schema\": \"name\" must be \"boss-v0.1-schema\" or \"boss-v0.2-schema\", got \
              nothing."
            ]
        );
    }

    #[test]
    fn v01_validator_has_no_type_rules() {
        // A v0.2 config naming BossValidatorV01 is checked by the schema alone, as the service does.
        let mut c = v02_skeleton();
        c["schema"]["validator"] = json!("BossValidatorV01");
        c["ingest_job"]["ingest_type"] = json!("volumetric");
        c["ingest_job"]["chunk_size"] = json!({"x": 1000, "y": 1024, "z": 64});
        assert!(validate(&c).is_ok());
    }

    #[test]
    fn impossible_geometry_is_refused() {
        let mut c = v01_example();
        c["ingest_job"]["extent"]["x"] = json!([5]);
        c["ingest_job"]["extent"]["y"] = json!([-1, 10]);
        c["ingest_job"]["tile_size"]["x"] = json!(0);
        assert_eq!(
            problems(&c),
            [
                "\"ingest_job\": \"extent\": \"x\" must be [start, stop], got [5].",
                "\"ingest_job\": \"extent\": \"y\" is [-1,10]: coordinates cannot be negative.",
                "\"ingest_job\": \"tile_size\": \"x\" must be positive, got 0."
            ]
        );
    }

    #[test]
    fn alignment_and_extent_warnings() {
        let mut c = v01_example();
        c["ingest_job"]["extent"] =
            json!({"x": [100, 2048], "y": [0, 2048, 7], "z": [5, 40], "t": [0, 0]});
        c["ingest_job"]["tile_size"] = json!({"x": 1000, "y": 1024, "z": 16, "t": 1});
        assert_eq!(
            validate(&c).unwrap().warnings,
            [
                "\"ingest_job\": \"extent\": \"y\" has 3 values; the service uses the first two \
                 as [start, stop] and ignores the rest.",
                "\"ingest_job\": \"extent\": \"t\" is [0, 0]: start must be less than stop, or \
                 the job has nothing to upload (use [0, 1] for data without time points).",
                "\"ingest_job\": \"extent\": \"z\" starts at 5, which is not a multiple of 16; \
                 the service assumes it is and would misplace slices.",
                "\"ingest_job\": \"extent\": \"x\" starts at 100, which is not a multiple of \
                 \"tile_size\": \"x\" (1000); the service assumes it is and would misplace tiles.",
                "\"ingest_job\": \"tile_size\": \"x\" is 1000, which is not a multiple of 512; \
                 the service assumes it is.",
                "\"ingest_job\": \"tile_size\": \"z\" is 16; tiles are single slices and the \
                 service uses 1.",
            ]
        );
    }

    #[test]
    fn volumetric_warnings() {
        let mut c = volumetric();
        c["ingest_job"]["extent"] =
            json!({"x": [256, 2048], "y": [0, 2048], "z": [8, 64], "t": [0, 2]});
        assert_eq!(
            validate(&c).unwrap().warnings,
            [
                "\"ingest_job\": \"extent\": \"x\" starts at 256, which is not a multiple of 512 \
                 (the cuboid size); the service assumes it is and would misplace the data.",
                "\"ingest_job\": \"extent\": \"z\" starts at 8, which is not a multiple of 16 \
                 (the cuboid size); the service assumes it is and would misplace the data.",
                "\"ingest_job\": \"extent\": \"t\" is [0, 2]; volumetric jobs upload t = 0 only.",
            ]
        );
    }

    #[test]
    fn plugin_key_and_unknown_keys_are_kept_or_ignored() {
        let mut c = v01_example();
        c["client"]["tile_processor"]["plugin"] = json!("mylib");
        c["client"]["tile_processor"]["comment"] = json!("ignored");
        let v = validate(&c).unwrap();
        let tp = v.config.client.tile_processor.unwrap();
        assert_eq!(tp.plugin.as_deref(), Some("mylib"));
    }

    #[test]
    fn invalid_displays_one_problem_per_line() {
        let e = Invalid {
            problems: vec!["a.".into(), "b.".into()],
        };
        assert_eq!(e.to_string(), "a.\nb.");
    }
}
