//! `boss-ingest check <config>`: a preflight that needs no network and no token. It validates the
//! config, loads the plugins, prints the job summary, then runs the path and tile processors over
//! every tile (or a random `--sample`) exactly as an upload would, and reports every tile that
//! would not arrive as it should: missing files, unreadable images, wrong sizes, dtype mismatches,
//! black tiles. It also says how many bytes the upload would move and how fast the sources read.
//! A volumetric job is checked the same way, chunk by chunk: the path and chunk processors run,
//! each chunk is checked against the chunk size clipped to the extent and the dtype, and cut and
//! compressed into its cuboids to measure the upload.
//!
//! Tiles are checked by a fixed number of threads (plugin calls block) fed through a bounded
//! channel, and each tile's bytes are dropped once measured: memory does not grow with the job.
//! The report keeps counts, plus the first `--max-listed` problems in tile order (and the total).
//! Exit code 0 only when every checked tile is fine, 1 when some are not. With `--follow` the
//! sources are read as a following ingest reads them, and the report also counts which are
//! present, missing and still settling; missing and settling sources are listed but are not bad.
//!
//! # Layout
//! - [`selection`]: which tiles or chunks are checked (all, or a seeded random sample).
//! - [`tally`]: checking each on a bounded pool of threads and counting the outcomes.
//! - [`report`]: the report, for a person and as JSON.

mod report;
mod selection;
mod tally;
#[cfg(test)]
mod tests;

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use boss_protocol::config::IngestType;

use crate::cli::{CheckSettings, JsonOut};
use crate::exit::{with_code, Code, ResultExt};
use crate::processors::{ChunkProcessors, TileProcessors};
use crate::sources::settle::Settle;
use crate::{config, prepared};

pub use report::{Problem, ProblemKind, Report};

/// Runs `boss-ingest check`.
pub fn run(settings: &CheckSettings) -> anyhow::Result<Code> {
    prepared::log_to_stderr_or(settings.log_file.as_deref(), settings.log_level)?;
    let job = config::load(&settings.config)?;
    // With `--json -` stdout carries the JSON only; the words go to stderr.
    let mut out: Box<dyn Write> = match settings.json {
        Some(JsonOut::Stdout) => Box::new(std::io::stderr()),
        _ => Box::new(std::io::stdout()),
    };
    writeln!(out, "{}", job.summary())?;

    let volumetric = job.config.ingest_job.ingest_type == IngestType::Volumetric;
    let (count, items) = selection::select(&job, settings.sample, settings.seed);
    if count == 0 {
        // Nothing to check is not "everything is fine": the extent is almost certainly wrong.
        return Err(with_code(
            Code::Usage,
            anyhow::anyhow!(
                "the job in {} has no {}s; check \"ingest_job\": \"extent\" (see the \
                 warnings above)",
                job.path.display(),
                if volumetric { "chunk" } else { "tile" }
            ),
        ));
    }
    let options = Options {
        workers: settings.processes.max(1),
        max_listed: settings.max_listed,
        progress: progress_bar(count, if volumetric { "chunks" } else { "tiles" }),
    };
    log::info!(
        "checking {count} {} on {} workers",
        if volumetric { "chunks" } else { "tiles" },
        options.workers
    );
    let settle = settings.follow.map(|f| Arc::new(Settle::new(f.settle)));
    // A source not there yet is still being written if the settle check has seen it.
    let sorted = |p: Problem| match (&settle, &p.file) {
        (Some(settle), Some(file))
            if p.kind == ProblemKind::NotThereYet && settle.settling(file) =>
        {
            Problem {
                kind: ProblemKind::Settling,
                ..p
            }
        }
        _ => p,
    };
    let started = Instant::now();
    let tally = if volumetric {
        let chunks = ChunkProcessors::load(&job, settle.clone())
            .exit_code(Code::Usage)?
            .with_dtype(settings.dtype);
        writeln!(out, "Loaded chunk_processor {}.", chunks.processor_name())?;
        tally::check_items(items, &options, |c| {
            tally::check_chunk(&chunks, c).map_err(sorted)
        })
    } else {
        let tiles = TileProcessors::load(&job, settle.clone())
            .exit_code(Code::Usage)?
            .with_dtype(settings.dtype);
        tally::check_items(items, &options, |t| {
            tally::check_tile(t, tiles.make(t.x, t.y, t.z, t.t)).map_err(sorted)
        })
    };
    options.progress.finish_and_clear();
    let report = report::finish(&job, settings, tally, started.elapsed());

    write!(out, "{}", report::render(&report))?;
    match &settings.json {
        None => {}
        Some(JsonOut::Stdout) => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            serde_json::to_writer_pretty(&mut lock, &report)?;
            writeln!(lock)?;
        }
        Some(JsonOut::File(path)) => {
            let text = serde_json::to_string_pretty(&report)?;
            std::fs::write(path, text + "\n")
                .with_context(|| format!("writing the JSON report to {}", path.display()))
                .exit_code(Code::Usage)?;
        }
    }
    Ok(if report.bad_tiles == 0 {
        Code::Ok
    } else {
        Code::Quarantined
    })
}

/// How to check tiles or chunks.
pub struct Options {
    pub workers: usize,
    pub max_listed: usize,
    pub progress: indicatif::ProgressBar,
}

fn progress_bar(total: u64, unit: &str) -> indicatif::ProgressBar {
    // indicatif draws nothing when stderr is not a terminal, so scripts and tests see no bar.
    let bar = indicatif::ProgressBar::new(total);
    let style = indicatif::ProgressStyle::with_template(&format!(
        "checking {{bar:40}} {{pos}}/{{len}} {unit}, {{elapsed}} elapsed, eta {{eta}}"
    ));
    // The template is a constant; a bad one would only lose the styling.
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar
}
