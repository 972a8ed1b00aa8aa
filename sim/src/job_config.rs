//! What the create endpoint reads from a posted config: the target channel names and the job's
//! geometry. Validation itself (schemas and the BossValidatorV01/V02 rules) is
//! `boss_protocol::config::service_rules`, the part of the client's validation the real service
//! runs; this module only maps the validated config to what the service acts on.

use boss_protocol::config;
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

/// Validates a config with the Boss's own rules (`boss_protocol::config::service_rules`: schema
/// and validator, nothing of the client's), then extracts the job. Like the real service, it
/// accepts jobs that BossDB would store in the wrong place; the client refuses those.
pub fn validate(config: &Value) -> Result<JobRequest, Invalid> {
    let c = config::service_rules(config).map_err(|invalid| invalid.problems.join(" "))?;
    let job = &c.ingest_job;
    let span = |s: config::Span| (s.start, s.stop);
    let ingest_type = match job.ingest_type {
        config::IngestType::Tile => IngestType::Tile,
        config::IngestType::Volumetric => IngestType::Volumetric,
    };
    Ok(JobRequest {
        collection: c.database.collection,
        experiment: c.database.experiment,
        channel: c.database.channel,
        ingest_type,
        extent: [
            span(job.extent.x),
            span(job.extent.y),
            span(job.extent.z),
            span(job.extent.t),
        ],
        // The validator guarantees the size that matches the ingest type is present.
        tile_size: job.tile_size.map(|t| (t.x, t.y, t.t.max(1))),
        chunk_size: job.chunk_size.map(|c| (c.x, c.y, c.z)),
    })
}
