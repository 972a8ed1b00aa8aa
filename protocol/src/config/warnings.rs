//! What the service silently assumes or ignores, worth a warning but not a refusal.

use serde_json::Value;

use super::model::{IngestJob, IngestType, TileSize};
use super::validate::shown;

/// What the service silently assumes or ignores (spec §3.2, §5): worth a warning, not a refusal.
pub(super) fn warnings(value: &Value, job: &IngestJob) -> Vec<String> {
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
    if let (IngestType::Tile, Some(ts)) = (job.ingest_type, job.tile_size) {
        tile_warnings(&mut warnings, ts);
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

fn tile_warnings(warnings: &mut Vec<String>, ts: TileSize) {
    if ts.z != 1 {
        warnings.push(format!(
            "\"ingest_job\": \"tile_size\": \"z\" is {}; tiles are single slices and the service \
             uses 1.",
            ts.z
        ));
    }
    if ts.t != 1 {
        warnings.push(format!(
            "\"ingest_job\": \"tile_size\": \"t\" is {}; the service makes one tile per time \
             point and uses 1.",
            ts.t
        ));
    }
}
