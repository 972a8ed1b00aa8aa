//! The outcome of a check: what kinds of problem, which tiles, the dtypes seen, the upload's
//! size and speed; rendered for a person, or serialised by `--json`.

use std::collections::BTreeMap;
use std::time::Duration;

use boss_protocol::config::IngestType;
use plugin_abi::{Dtype, ErrorKind};
use serde::Serialize;

use super::selection::items_in_job;
use super::tally::Tally;
use crate::cli::CheckSettings;
use crate::config::JobConfig;

/// Why a tile is not fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The source file does not exist.
    MissingFile,
    /// The source cannot be read as an image, or is not the image the tile needs.
    BadImage,
    /// The tile is not the job's tile size.
    WrongSize,
    /// The tile's dtype differs from `--dtype` or from the other tiles.
    Dtype,
    /// The plugin made a black tile (e.g. `fail_gracefully` on a missing file).
    BlackTile,
    /// A volumetric chunk is partly zeros: smaller than the extent covers, or filled by its
    /// processor (e.g. `fill_missing`).
    ZeroFilled,
    /// Any other plugin failure (params, range, I/O, panic).
    PluginError,
    /// `--follow`: the source does not exist yet (not a problem under `--follow`).
    NotThereYet,
    /// `--follow`: the source exists but is still being written (not a problem under
    /// `--follow`).
    Settling,
}

impl ProblemKind {
    pub(super) fn label(self) -> &'static str {
        match self {
            ProblemKind::MissingFile => "missing file",
            ProblemKind::BadImage => "bad image",
            ProblemKind::WrongSize => "wrong size",
            ProblemKind::Dtype => "dtype mismatch",
            ProblemKind::BlackTile => "black tile",
            ProblemKind::ZeroFilled => "zero-filled",
            ProblemKind::PluginError => "plugin error",
            ProblemKind::NotThereYet => "not there yet",
            ProblemKind::Settling => "still settling",
        }
    }

    pub(super) fn of_plugin_error(kind: ErrorKind) -> ProblemKind {
        match kind {
            ErrorKind::NotFound => ProblemKind::MissingFile,
            ErrorKind::InvalidImage => ProblemKind::BadImage,
            ErrorKind::Dtype => ProblemKind::Dtype,
            ErrorKind::NotYet => ProblemKind::NotThereYet,
            _ => ProblemKind::PluginError,
        }
    }
}

/// One tile (or volumetric chunk: x, y, z are then chunk indices) that is not fine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub t: u64,
    /// The source the path processor named, when it got that far.
    pub file: Option<String>,
    pub message: String,
}

/// The outcome of checking a job's tiles (written as JSON by `--json`). For a volumetric job
/// the `tiles` fields count chunks, and `unit` says so.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub config: String,
    /// What was checked: "tile" or "chunk".
    pub unit: &'static str,
    pub collection: String,
    pub experiment: String,
    pub channel: String,
    /// Tiles in the job (what the service will enqueue).
    pub tiles_in_job: u64,
    pub tiles_checked: u64,
    pub sampled: bool,
    pub good_tiles: u64,
    pub bad_tiles: u64,
    pub problems_by_kind: BTreeMap<ProblemKind, u64>,
    /// The first problems in tile order, at most `--max-listed`.
    pub problems: Vec<Problem>,
    /// Problems counted but not listed.
    pub problems_not_listed: u64,
    /// Good tiles per dtype name.
    pub dtypes: BTreeMap<String, u64>,
    /// The dtype every tile should have: `--dtype`, else the most common one.
    pub expected_dtype: Option<String>,
    /// Bytes the good tiles would upload.
    pub upload_bytes: u64,
    /// For a sample: `upload_bytes` scaled to the whole job.
    pub estimated_job_bytes: Option<u64>,
    pub seconds: f64,
    pub tiles_per_second: f64,
    pub megabytes_per_second: f64,
    pub warnings: Vec<String>,
    /// `check --follow`: the sources of the checked tiles, by state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Sources>,
}

/// `check --follow`: how many checked tiles (or chunks) have their source present, missing, or
/// still being written. Missing and settling sources are listed with the problems but are not
/// bad: `--follow` waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sources {
    pub present: u64,
    pub missing: u64,
    pub settling: u64,
}

/// Turns the tally into the report: decides the expected dtype and lists the odd ones out.
pub(super) fn finish(
    job: &JobConfig,
    settings: &CheckSettings,
    mut tally: Tally,
    elapsed: Duration,
) -> Report {
    let unit = match job.config.ingest_job.ingest_type {
        IngestType::Tile => "tile",
        IngestType::Volumetric => "chunk",
    };
    let requested = settings.dtype;
    let expected = requested.or_else(|| {
        // The most common dtype; on a tie the smaller type, so the choice is stable.
        tally
            .dtypes
            .iter()
            .max_by_key(|(k, d)| (d.tiles, std::cmp::Reverse(**k)))
            .map(|(k, _)| *k)
    });
    if let Some(expected) = expected {
        let odd: Vec<Dtype> = tally
            .dtypes
            .keys()
            .copied()
            .filter(|k| *k != expected)
            .collect();
        for key in odd {
            if let Some(odd) = tally.dtypes.remove(&key) {
                tally.good -= odd.tiles;
                tally.bytes -= odd.bytes;
                *tally.by_kind.entry(ProblemKind::Dtype).or_default() +=
                    odd.tiles - odd.first.len() as u64;
                for (seq, (t, file)) in odd.first {
                    let message =
                        format!("{file}: {unit} is {key}, but most {unit}s are {expected}");
                    let p = Problem {
                        kind: ProblemKind::Dtype,
                        x: t.x,
                        y: t.y,
                        z: t.z,
                        t: t.t,
                        file: Some(file),
                        message,
                    };
                    tally.problem(seq, p, settings.max_listed);
                }
            }
        }
    }
    let count = |kind| tally.by_kind.get(&kind).copied().unwrap_or(0);
    let (missing, settling) = (
        count(ProblemKind::NotThereYet),
        count(ProblemKind::Settling),
    );
    let sources = settings.follow.map(|_| Sources {
        present: tally.checked - missing - settling,
        missing,
        settling,
    });
    let all: u64 = tally.by_kind.values().sum();
    // Under --follow, what is not there yet is waited for, not bad.
    let bad = match sources {
        Some(_) => all - missing - settling,
        None => all,
    };
    let seconds = elapsed.as_secs_f64();
    let per_sec = |v: f64| if seconds > 0.0 { v / seconds } else { 0.0 };
    let job_tiles = items_in_job(job);
    let sampled = settings.sample.is_some_and(|n| n < job_tiles);
    let c = &job.config.database;
    Report {
        config: job.path.display().to_string(),
        unit,
        collection: c.collection.clone(),
        experiment: c.experiment.clone(),
        channel: c.channel.clone(),
        tiles_in_job: job_tiles,
        tiles_checked: tally.checked,
        sampled,
        good_tiles: tally.good,
        bad_tiles: bad,
        problems_not_listed: all - tally.listed.len() as u64,
        problems_by_kind: tally.by_kind,
        problems: tally.listed.into_values().collect(),
        dtypes: tally
            .dtypes
            .iter()
            .map(|(k, d)| (k.name().to_string(), d.tiles))
            .collect(),
        expected_dtype: expected.map(|d| d.name().to_string()),
        upload_bytes: tally.bytes,
        estimated_job_bytes: (sampled && tally.good > 0)
            .then(|| (tally.bytes as f64 / tally.good as f64 * job_tiles as f64) as u64),
        seconds,
        tiles_per_second: per_sec(tally.checked as f64),
        megabytes_per_second: per_sec(tally.bytes as f64 / 1e6),
        warnings: job.warnings.clone(),
        sources,
    }
}

/// Bytes in decimal units, the way upload sizes are usually quoted.
pub(super) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// The report for a person.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let of = if r.sampled {
        format!(
            "a random sample of {} of the job's {}",
            r.tiles_checked, r.tiles_in_job
        )
    } else {
        format!("{} of {}", r.tiles_checked, r.tiles_in_job)
    };
    let unit = r.unit;
    s += &format!(
        "Checked {of} {unit}s in {:.1} s ({:.1} {unit}s/s, {:.1} MB/s).\n",
        r.seconds, r.tiles_per_second, r.megabytes_per_second
    );
    let dtypes: Vec<String> = r.dtypes.iter().map(|(d, n)| format!("{d} ×{n}")).collect();
    if !dtypes.is_empty() {
        s += &format!("  dtypes:       {}\n", dtypes.join(", "));
    }
    s += &format!("  upload size:  {}", human_bytes(r.upload_bytes));
    if let Some(per_tile) = r.upload_bytes.checked_div(r.good_tiles) {
        s += &format!(" ({} per {unit})", human_bytes(per_tile));
    }
    if let Some(total) = r.estimated_job_bytes {
        s += &format!(", about {} for the whole job", human_bytes(total));
    }
    s += "\n";
    if let Some(src) = &r.sources {
        s += &format!(
            "  sources:      {} present, {} missing, {} still settling (--follow waits for \
             them)\n",
            src.present, src.missing, src.settling
        );
    }
    for (kind, n) in &r.problems_by_kind {
        s += &format!("  {:<13} {n}\n", format!("{}:", kind.label()));
    }
    if !r.problems.is_empty() {
        s += &format!("Problems ({} listed", r.problems.len());
        if r.problems_not_listed > 0 {
            s += &format!(
                ", {} more not listed; see --json or --max-listed",
                r.problems_not_listed
            );
        }
        s += "):\n";
        for p in &r.problems {
            s += &format!(
                "  {unit} x={} y={} z={} t={}: {}: {}",
                p.x,
                p.y,
                p.z,
                p.t,
                p.kind.label(),
                p.message
            );
            // Built-in plugins name the file in their messages; a user plugin may not.
            match &p.file {
                Some(file) if !p.message.contains(file.as_str()) => s += &format!(" ({file})\n"),
                _ => s += "\n",
            }
        }
    }
    s += &format!(
        "Result: {} good {unit}s, {} bad {unit}s.\n",
        r.good_tiles, r.bad_tiles
    );
    s
}
