//! Validation: the service's own rules ([`service_rules`]), and ours on top ([`validate`]).

use std::sync::OnceLock;

use serde_json::Value;

use super::model::{Config, IngestJob, IngestType};
use super::{
    CUBOID, SCHEMA_V01, SCHEMA_V01_JSON, SCHEMA_V02, SCHEMA_V02_JSON, VALIDATOR_V01, VALIDATOR_V02,
};

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

/// The Boss's own checks of a posted config, no more (protocol §5): the schema named by
/// `schema.name`, then the validator named by `schema.validator`. `boss-sim` creates jobs with
/// exactly this, so it accepts what the real service accepts, mistakes included.
pub fn service_rules(value: &Value) -> Result<Config, Invalid> {
    schema_problems(value)?;
    let problems = validator_problems(value);
    if !problems.is_empty() {
        return Err(Invalid { problems });
    }
    typed(value)
}

/// What `boss-ingest` accepts: the service's rules, our refusals of jobs with no meaning
/// (non-positive sizes, extents that are not `[start, stop]`, negative coordinates) and of jobs
/// BossDB would store in the wrong place ([`scrambled_on_bossdb`]), then the warnings. `Err`
/// lists every problem found.
pub fn validate(value: &Value) -> Result<Validated, Invalid> {
    schema_problems(value)?;
    let mut problems = validator_problems(value);
    problems.extend(geometry_errors(value));
    if !problems.is_empty() {
        return Err(Invalid { problems });
    }
    let config = typed(value)?;
    let problems = scrambled_on_bossdb(&config.ingest_job);
    if !problems.is_empty() {
        return Err(Invalid { problems });
    }
    let warnings = super::warnings::warnings(value, &config.ingest_job);
    Ok(Validated { config, warnings })
}

/// The schema named by `schema.name`: every complaint, or none. The validator's rules and ours
/// assume the shapes the schema guarantees, so nothing runs after a complaint here.
fn schema_problems(value: &Value) -> Result<(), Invalid> {
    let schema_name = value.pointer("/schema/name").and_then(Value::as_str);
    let schema = match schema_name {
        Some(SCHEMA_V01) => v01_schema(),
        Some(SCHEMA_V02) => v02_schema(),
        other => {
            return Err(Invalid {
                problems: vec![format!(
                    "\"schema\": \"name\" must be \"{SCHEMA_V01}\" or \"{SCHEMA_V02}\", got {}.",
                    shown(other)
                )],
            })
        }
    };
    let problems: Vec<String> = schema
        .iter_errors(value)
        .map(|error| {
            format!(
                "{}{}.",
                location(error.instance_path()),
                error.to_string().trim_end_matches('.')
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Invalid { problems })
    }
}

/// The rules of the validator named by `schema.validator`.
fn validator_problems(value: &Value) -> Vec<String> {
    match value.pointer("/schema/validator").and_then(Value::as_str) {
        Some(VALIDATOR_V01) => Vec::new(),
        Some(VALIDATOR_V02) => v02_rules(value),
        other => vec![format!(
            "\"schema\": \"validator\" must be \"{VALIDATOR_V01}\" or \"{VALIDATOR_V02}\", got {}.",
            shown(other)
        )],
    }
}

fn typed(value: &Value) -> Result<Config, Invalid> {
    serde_json::from_value(value.clone()).map_err(|e| Invalid {
        problems: vec![format!("The config cannot be read: {e}.")],
    })
}

/// Jobs the real service accepts and then stores in the wrong place (protocol errata 7; boss-tools
/// `tile_ingest_lambda`, boss `ingest_queue_upload` and `ingest_queue_upload_volumetric_lambda`).
/// The Boss places tile `i` of a tile job at `i × ceil(tile size / 512) × 512` — its cuboid grid —
/// and the 16-slice blocks of a tile job from `z = 0`; it names a volumetric chunk's cuboids from
/// the extent's start while the chunk's voxels are read from `index × chunk size`. Each mismatch
/// moves data, leaves gaps or overwrites neighbours with zeros, so the job is refused before it
/// exists, with what to change.
pub fn scrambled_on_bossdb(job: &IngestJob) -> Vec<String> {
    let mut problems = Vec::new();
    let e = &job.extent;
    match job.ingest_type {
        IngestType::Tile => {
            if !e.z.start.is_multiple_of(CUBOID[2]) {
                problems.push(format!(
                    "\"ingest_job\": \"extent\": \"z\" starts at {}, which is not a multiple of \
                     16: BossDB stores slices in blocks of 16 from z = 0 and would put slice {} at \
                     z = {}. Start the extent at a multiple of 16.",
                    e.z.start,
                    e.z.start,
                    e.z.start - e.z.start % CUBOID[2]
                ));
            }
            let Some(ts) = job.tile_size else {
                return problems;
            };
            for (axis, span, size) in [("x", e.x, ts.x), ("y", e.y, ts.y)] {
                let shift = span.start % size.max(1);
                if shift != 0 {
                    problems.push(format!(
                        "\"ingest_job\": \"extent\": \"{axis}\" starts at {}, which is not a \
                         multiple of \"tile_size\": \"{axis}\" ({size}): BossDB places tile i at \
                         {axis} = i × {size}, so the data would move by {shift} voxels. Start the \
                         extent at a multiple of the tile size.",
                        span.start
                    ));
                }
                // One tile at index 0 is placed right whatever its size.
                let single = span.start == 0 && span.stop <= size;
                if !size.is_multiple_of(CUBOID[0]) && !single {
                    let grid = size.div_ceil(CUBOID[0]) * CUBOID[0];
                    problems.push(format!(
                        "\"ingest_job\": \"tile_size\": \"{axis}\" is {size}, which is not a \
                         multiple of 512: BossDB places tile i at {axis} = i × {grid} (whole \
                         512-voxel cuboids), which would leave gaps of {} voxels between tiles. \
                         Use a tile size that is a multiple of 512.",
                        grid - size
                    ));
                }
            }
        }
        IngestType::Volumetric => {
            if let Some(cs) = job.chunk_size {
                for (axis, span, size) in [("x", e.x, cs.x), ("y", e.y, cs.y), ("z", e.z, cs.z)] {
                    let shift = span.start % size.max(1);
                    if shift != 0 {
                        problems.push(format!(
                            "\"ingest_job\": \"extent\": \"{axis}\" starts at {}, which is not \
                             a multiple of \"chunk_size\": \"{axis}\" ({size}): the Boss files \
                             chunk i under the cuboids of {axis} = {} + i × {size} while its \
                             voxels are read from {axis} = i × {size}, so the data would move by \
                             {shift} voxels. Start the extent at a multiple of the chunk size.",
                            span.start, span.start
                        ));
                    }
                }
            }
            if !e.t.is_empty() && (e.t.start, e.t.stop) != (0, 1) {
                problems.push(format!(
                    "\"ingest_job\": \"extent\": \"t\" is [{}, {}]: the Boss makes volumetric \
                     upload messages for t = 0 only, and a job with more time points fails while \
                     it is prepared. Use [0, 1].",
                    e.t.start, e.t.stop
                ));
            }
        }
    }
    problems
}

pub(super) fn shown(v: Option<&str>) -> String {
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

pub(super) fn v01_schema() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| compile(SCHEMA_V01_JSON))
}

pub(super) fn v02_schema() -> &'static jsonschema::Validator {
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
