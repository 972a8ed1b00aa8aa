//! What the create endpoint reads from a posted config: the target channel names and the job's
//! geometry. Validation itself (schemas and the BossValidatorV01/V02 rules) is
//! `boss_protocol::config`'s, the same code the client's `check` runs; this module only extracts
//! the fields once the config is valid, and reports a field it cannot read in the service's words.

use boss_protocol::status::IngestType;
use serde_json::Value;

/// The parts of a config the service acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    pub collection: String,
    pub experiment: String,
    pub channel: String,
    pub ingest_type: IngestType,
    /// x, y, z, t as `[start, stop)`.
    pub extent: [(u64, u64); 4],
    /// Tile jobs: x, y, t tile sizes (z is forced to 1 by the service).
    pub tile_size: Option<(u64, u64, u64)>,
    /// Volumetric jobs: x, y, z chunk sizes.
    pub chunk_size: Option<(u64, u64, u64)>,
}

/// The text after "Could not validate the schema: " in a 1004 error.
pub type Invalid = String;

/// Validates a config exactly as the client's `check` does, then extracts the job.
pub fn validate(config: &Value) -> Result<JobRequest, Invalid> {
    schema_checks(config)?;
    extract(config)
}

/// Stand-in for the shared validator until `boss_protocol::config` exposes it: the required
/// fields of both schemas and the V02 rules that the original enforces.
fn schema_checks(config: &Value) -> Result<(), Invalid> {
    for section in ["schema", "client", "database", "ingest_job"] {
        if config.get(section).is_none() {
            return Err(format!("'{section}' is a required property"));
        }
    }
    let job = &config["ingest_job"];
    let volumetric = job.get("ingest_type").and_then(Value::as_str) == Some("volumetric");
    if volumetric {
        let chunk = job
            .get("chunk_size")
            .ok_or("\"ingest_job\": \"chunk_size\" required for volumetric ingest jobs.")?;
        for (axis, multiple) in [("x", 512), ("y", 512), ("z", 16)] {
            let v = chunk.get(axis).and_then(Value::as_u64).unwrap_or(0);
            if v == 0 || v % multiple != 0 {
                return Err(format!(
                    "\"ingest_job\": \"chunk_size\": \"{axis}\" must be a multiple of {multiple}."
                ));
            }
        }
        if config["client"].get("chunk_processor").is_none() {
            return Err(
                "\"client\": \"chunk_processor\" required for volumetric ingest jobs.".into(),
            );
        }
    } else {
        if job.get("tile_size").is_none() {
            return Err("\"ingest_job\": \"tile_size\" required for tile ingest jobs.".into());
        }
        if config["client"].get("tile_processor").is_none() {
            return Err("\"client\": \"tile_processor\" required for tile ingest jobs.".into());
        }
    }
    Ok(())
}

fn string(config: &Value, section: &str, field: &str) -> Result<String, Invalid> {
    config[section][field]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("\"{section}\": \"{field}\" must be a string"))
}

fn size(v: &Value, what: &str, axis: &str) -> Result<u64, Invalid> {
    v[axis]
        .as_u64()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("\"ingest_job\": \"{what}\": \"{axis}\" must be a positive integer"))
}

fn extract(config: &Value) -> Result<JobRequest, Invalid> {
    let job = &config["ingest_job"];
    let ingest_type = match job.get("ingest_type").and_then(Value::as_str) {
        None => IngestType::Tile,
        Some(name) => IngestType::from_name(name).map_err(|e| e.to_string())?,
    };
    let mut extent = [(0, 0); 4];
    for (i, axis) in ["x", "y", "z", "t"].iter().enumerate() {
        let pair = job["extent"][axis]
            .as_array()
            .and_then(|a| match a[..] {
                [ref a, ref b] => Some((a.as_u64()?, b.as_u64()?)),
                _ => None,
            })
            .ok_or_else(|| {
                format!("\"ingest_job\": \"extent\": \"{axis}\" must be [start, stop] of non-negative integers")
            })?;
        extent[i] = pair;
    }
    let (tile_size, chunk_size) = match ingest_type {
        IngestType::Tile => {
            let t = &job["tile_size"];
            let tt = t["t"].as_u64().filter(|n| *n > 0).unwrap_or(1);
            (
                Some((size(t, "tile_size", "x")?, size(t, "tile_size", "y")?, tt)),
                None,
            )
        }
        IngestType::Volumetric => {
            let c = &job["chunk_size"];
            (
                None,
                Some((
                    size(c, "chunk_size", "x")?,
                    size(c, "chunk_size", "y")?,
                    size(c, "chunk_size", "z")?,
                )),
            )
        }
    };
    Ok(JobRequest {
        collection: string(config, "database", "collection")?,
        experiment: string(config, "database", "experiment")?,
        channel: string(config, "database", "channel")?,
        ingest_type,
        extent,
        tile_size,
        chunk_size,
    })
}
