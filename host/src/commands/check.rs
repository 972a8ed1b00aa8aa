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
//! Exit code 0 only when every checked tile is fine, 1 when some are not.

use std::collections::BTreeMap;

use anyhow::Context as _;
use std::io::Write;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use boss_protocol::config::{IngestType, TileIndex};
use plugin_abi::{Dtype, ErrorKind, NoteKind, PluginError, TileOutput};
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::chunk::ChunkError;
use crate::cli::{CheckSettings, JsonOut};
use crate::commands::chunks::{FailureKind, PluginChunks};
use crate::config::{self, JobConfig, ProcessorKind};
use crate::exit::{with_code, Code, ResultExt};
use crate::plugins::{PathHandle, Plugins, ProcessorSpec, SearchPath, TileHandle};
use crate::tile::{self, Expected, TileError};

/// What makes one tile: its path processor, then its tile processor.
pub trait TileSource: Sync {
    /// Runs both processors for tile `t`. On error, the path is included when the path
    /// processor got that far, so the report can name the file.
    fn produce(&self, t: TileIndex) -> Result<(String, TileOutput), (Option<String>, PluginError)>;
}

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
}

impl ProblemKind {
    fn label(self) -> &'static str {
        match self {
            ProblemKind::MissingFile => "missing file",
            ProblemKind::BadImage => "bad image",
            ProblemKind::WrongSize => "wrong size",
            ProblemKind::Dtype => "dtype mismatch",
            ProblemKind::BlackTile => "black tile",
            ProblemKind::ZeroFilled => "zero-filled",
            ProblemKind::PluginError => "plugin error",
        }
    }

    fn of_plugin_error(kind: ErrorKind) -> ProblemKind {
        match kind {
            ErrorKind::NotFound => ProblemKind::MissingFile,
            ErrorKind::InvalidImage => ProblemKind::BadImage,
            ErrorKind::Dtype => ProblemKind::Dtype,
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
}

/// Runs `boss-ingest check`.
pub fn run(settings: &CheckSettings) -> anyhow::Result<Code> {
    // A second init (tests calling run twice) keeps the first logger; that is fine.
    let _ = env_logger::Builder::new()
        .filter_level(settings.log_level)
        .target(env_logger::Target::Stderr)
        .try_init();
    let job = config::load(&settings.config)?;
    // With `--json -` stdout carries the JSON only; the words go to stderr.
    let mut out: Box<dyn Write> = match settings.json {
        Some(JsonOut::Stdout) => Box::new(std::io::stderr()),
        _ => Box::new(std::io::stdout()),
    };
    writeln!(out, "{}", job.summary())?;

    let plugins = Plugins::new(SearchPath::from_env());
    let volumetric = job.config.ingest_job.ingest_type == IngestType::Volumetric;
    let (count, items) = select_tiles(&job, settings.sample, settings.seed);
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
        expected: expected_tile(&job, settings.dtype.map(dtype_of)),
        max_listed: settings.max_listed,
        progress: progress_bar(count, if volumetric { "chunks" } else { "tiles" }),
    };
    let started = Instant::now();
    let tally = if volumetric {
        let chunks = PluginChunks::new(&job)
            .exit_code(Code::Usage)?
            .with_dtype(settings.dtype.map(dtype_of));
        writeln!(out, "Loaded chunk_processor {}.", chunks.processor_name())?;
        let chunk_size = job.config.ingest_job.chunk_size;
        check_items(items, &options, |c| check_chunk(&chunks, chunk_size, c))
    } else {
        let source = PluginSource {
            path: plugins
                .path_processor(&spec(&job, ProcessorKind::Path)?)
                .exit_code(Code::Usage)?,
            tile: plugins
                .tile_processor(&spec(&job, ProcessorKind::Tile)?)
                .exit_code(Code::Usage)?,
        };
        check_tiles(&source, items, &options)
    };
    options.progress.finish_and_clear();
    let report = finish(&job, settings, tally, started.elapsed());

    write!(out, "{}", render(&report))?;
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

fn spec(job: &JobConfig, kind: ProcessorKind) -> anyhow::Result<ProcessorSpec> {
    // Validation guarantees the processors the job type needs; this guards hand-made configs.
    job.processor_spec(kind)
        .ok_or_else(|| anyhow::anyhow!("the config has no \"client\": \"{}\"", kind.config_key()))
        .exit_code(Code::Usage)
}

/// The job's own path and tile processors, as an upload runs them.
pub struct PluginSource {
    pub path: PathHandle,
    pub tile: TileHandle,
}

impl TileSource for PluginSource {
    fn produce(&self, t: TileIndex) -> Result<(String, TileOutput), (Option<String>, PluginError)> {
        let path = self.path.path(t.x, t.y, t.z, t.t).map_err(|e| (None, e))?;
        match self.tile.tile(&path, t.x, t.y, t.z, t.t) {
            Ok(output) => Ok((path, output)),
            Err(e) => Err((Some(path), e)),
        }
    }
}

fn dtype_of(d: crate::cli::Dtype) -> Dtype {
    match d {
        crate::cli::Dtype::Uint8 => Dtype::U8,
        crate::cli::Dtype::Uint16 => Dtype::U16,
        crate::cli::Dtype::Uint32 => Dtype::U32,
        crate::cli::Dtype::Uint64 => Dtype::U64,
    }
}

fn expected_tile(job: &JobConfig, dtype: Option<Dtype>) -> Expected {
    // Tile jobs always have a tile size once validated; 0 would make every tile "wrong size".
    let ts = job.config.ingest_job.tile_size;
    let side = |v: Option<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX);
    Expected {
        width: side(ts.map(|t| t.x)),
        height: side(ts.map(|t| t.y)),
        dtype,
    }
}

/// The tiles to check and how many there are: every tile of the job in service order, walked
/// lazily (a job of millions of tiles costs no memory), or `sample` of them picked uniformly at
/// random (reservoir sampling: one pass, memory for the sample only). Each tile comes with its
/// position in the job, which orders the report. A volumetric job's items are its chunks.
pub fn select_tiles(
    job: &JobConfig,
    sample: Option<u64>,
    seed: Option<u64>,
) -> (u64, Box<dyn Iterator<Item = (u64, TileIndex)> + Send>) {
    let ingest_job = &job.config.ingest_job;
    let total = items_in_job(job);
    let all: Box<dyn Iterator<Item = TileIndex> + Send> = match ingest_job.ingest_type {
        IngestType::Tile => Box::new(ingest_job.tiles()),
        IngestType::Volumetric => Box::new(ingest_job.volumetric_chunks()),
    };
    let all = all.enumerate().map(|(i, t)| (i as u64, t));
    match sample {
        Some(n) if n < total => {
            let picked = reservoir(all, n, seed);
            (picked.len() as u64, Box::new(picked.into_iter()))
        }
        _ => (total, Box::new(all)),
    }
}

/// Tiles of a tile job, chunks (of time point 0) of a volumetric one.
fn items_in_job(job: &JobConfig) -> u64 {
    let ij = &job.config.ingest_job;
    match ij.ingest_type {
        IngestType::Tile => ij.tile_count(),
        // Chunks are few (each is megabytes of voxels): counting them walks little.
        IngestType::Volumetric => ij.volumetric_chunks().count() as u64,
    }
}

fn reservoir(
    items: impl Iterator<Item = (u64, TileIndex)>,
    n: u64,
    seed: Option<u64>,
) -> Vec<(u64, TileIndex)> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut rng = match seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_os_rng(),
    };
    let mut reservoir: Vec<(u64, TileIndex)> = Vec::new();
    for (seen, item) in items.enumerate() {
        if reservoir.len() < n {
            reservoir.push(item);
        } else {
            let j = rng.random_range(0..=seen);
            if j < n {
                reservoir[j] = item;
            }
        }
    }
    reservoir.sort_by_key(|(i, _)| *i);
    reservoir
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

/// How to check tiles.
pub struct Options {
    pub workers: usize,
    pub expected: Expected,
    pub max_listed: usize,
    pub progress: indicatif::ProgressBar,
}

/// Counts while tiles are checked; bounded whatever the number of tiles.
#[derive(Debug, Default)]
pub struct Tally {
    pub checked: u64,
    pub good: u64,
    pub bytes: u64,
    pub by_kind: BTreeMap<ProblemKind, u64>,
    /// The first problems by position in the job, at most `max_listed`.
    pub listed: BTreeMap<u64, Problem>,
    /// Good tiles per dtype, with the first few of each (to list the odd ones out at the end).
    pub dtypes: BTreeMap<DtypeKey, DtypeTally>,
}

/// Good tiles of one dtype.
#[derive(Debug, Default)]
pub struct DtypeTally {
    pub tiles: u64,
    pub bytes: u64,
    /// The first tiles by position in the job (tile, file), at most `max_listed`.
    pub first: BTreeMap<u64, (TileIndex, String)>,
}

/// `Dtype` ordered, for map keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DtypeKey(u8);

impl DtypeKey {
    fn of(d: Dtype) -> DtypeKey {
        DtypeKey(d.size() as u8)
    }
    fn dtype(self) -> Dtype {
        match self.0 {
            1 => Dtype::U8,
            2 => Dtype::U16,
            4 => Dtype::U32,
            _ => Dtype::U64,
        }
    }
}

impl Tally {
    fn problem(&mut self, seq: u64, problem: Problem, max_listed: usize) {
        *self.by_kind.entry(problem.kind).or_default() += 1;
        self.listed.insert(seq, problem);
        if self.listed.len() > max_listed {
            self.listed.pop_last();
        }
    }

    fn good(&mut self, seq: u64, t: TileIndex, file: String, dtype: Dtype, bytes: u64, max: usize) {
        self.good += 1;
        self.bytes += bytes;
        let entry = self.dtypes.entry(DtypeKey::of(dtype)).or_default();
        entry.tiles += 1;
        entry.bytes += bytes;
        entry.first.insert(seq, (t, file));
        if entry.first.len() > max {
            entry.first.pop_last();
        }
    }
}

/// Checks `tiles` on `options.workers` threads and tallies the outcome.
pub fn check_tiles<S: TileSource>(
    source: &S,
    tiles: impl Iterator<Item = (u64, TileIndex)>,
    options: &Options,
) -> Tally {
    check_items(tiles, options, |t| check_one(source, t, &options.expected))
}

/// Checks each item (a tile, or a volumetric chunk's indices) with `check` on
/// `options.workers` threads and tallies the outcome.
pub fn check_items<F>(
    items: impl Iterator<Item = (u64, TileIndex)>,
    options: &Options,
    check: F,
) -> Tally
where
    F: Fn(TileIndex) -> Result<(String, Dtype, u64), Problem> + Sync,
{
    let tally = Mutex::new(Tally::default());
    // Bounded: the producer waits while every worker is busy and a few items are queued.
    let (tx, rx) = mpsc::sync_channel::<(u64, TileIndex)>(options.workers * 2);
    let rx = Mutex::new(rx);
    std::thread::scope(|scope| {
        for _ in 0..options.workers {
            scope.spawn(|| loop {
                // A poisoned lock means another worker panicked; the scope re-raises that panic.
                let next = rx.lock().map(|r| r.recv());
                let Ok(Ok((seq, t))) = next else { break };
                let outcome = check(t);
                options.progress.inc(1);
                let Ok(mut tally) = tally.lock() else { break };
                tally.checked += 1;
                match outcome {
                    Ok((file, dtype, bytes)) => {
                        tally.good(seq, t, file, dtype, bytes, options.max_listed)
                    }
                    Err(problem) => tally.problem(seq, problem, options.max_listed),
                }
            });
        }
        for item in items {
            if tx.send(item).is_err() {
                break;
            }
        }
        drop(tx);
    });
    // Workers have all ended with the scope; a poisoned tally still holds valid counts.
    tally.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// One volumetric chunk, read and checked as an upload would, then cut into every cuboid of the
/// chunk size and compressed to measure its upload: `Ok((file, dtype, bytes))` or the problem.
fn check_chunk(
    chunks: &PluginChunks,
    chunk_size: Option<boss_protocol::config::ChunkSize>,
    c: TileIndex,
) -> Result<(String, Dtype, u64), Problem> {
    let problem = |kind, file: Option<String>, message: String| Problem {
        kind,
        x: c.x,
        y: c.y,
        z: c.z,
        t: 0,
        file,
        message,
    };
    let read = chunks.read(c.x, c.y, c.z).map_err(|f| {
        let kind = match &f.kind {
            FailureKind::Plugin(kind) => ProblemKind::of_plugin_error(*kind),
            FailureKind::Array(e) => match **e {
                ChunkError::WrongDtype { .. } | ChunkError::NotStorable(_) => ProblemKind::Dtype,
                _ => ProblemKind::WrongSize,
            },
        };
        problem(kind, f.file, f.message)
    })?;
    let name = crate::commands::chunks::describe(&read.geometry);
    if let Some(note) = read
        .chunk
        .notes()
        .iter()
        .find(|n| n.kind == NoteKind::BlackTile)
    {
        let message = format!("{name} from {}: {}", read.file, note.message);
        return Err(problem(ProblemKind::ZeroFilled, Some(read.file), message));
    }
    if read.chunk.is_short_of(read.geometry.max) {
        let message = format!(
            "{name} from {}: the chunk is {}, smaller than the {} the extent covers; the rest \
             would be uploaded as zeros",
            read.file,
            read.chunk.size(),
            read.geometry.max
        );
        return Err(problem(ProblemKind::ZeroFilled, Some(read.file), message));
    }
    // Validation guarantees a chunk size for volumetric jobs.
    let cs = chunk_size.unwrap_or(boss_protocol::config::ChunkSize { x: 0, y: 0, z: 0 });
    let typesize = read.chunk.dtype().size() * 8;
    let mut bytes = 0u64;
    for z in (0..cs.z).step_by(16) {
        for y in (0..cs.y).step_by(512) {
            for x in (0..cs.x).step_by(512) {
                let cuboid = read.chunk.cuboid(x, y, z);
                bytes +=
                    boss_protocol::cuboid::compress_with_typesize(&cuboid, typesize).len() as u64;
            }
        }
    }
    Ok((read.file, read.chunk.dtype(), bytes))
}

/// One tile: `Ok((file, dtype, bytes to upload))` or the problem.
fn check_one<S: TileSource>(
    source: &S,
    t: TileIndex,
    expected: &Expected,
) -> Result<(String, Dtype, u64), Problem> {
    let problem = |kind, file: Option<String>, message: String| Problem {
        kind,
        x: t.x,
        y: t.y,
        z: t.z,
        t: t.t,
        file,
        message,
    };
    let (file, output) = source
        .produce(t)
        .map_err(|(file, e)| problem(ProblemKind::of_plugin_error(e.kind), file, e.message))?;
    if let Some(note) = output.notes.iter().find(|n| n.kind == NoteKind::BlackTile) {
        return Err(problem(
            ProblemKind::BlackTile,
            Some(file),
            note.message.clone(),
        ));
    }
    match tile::prepare(output.image, expected) {
        Ok(encoded) => {
            // `prepare` has verified the dtype is one the Boss stores.
            let dtype = encoded.info.dtype.unwrap_or(Dtype::U8);
            Ok((file, dtype, encoded.bytes.len() as u64))
        }
        Err(e) => {
            let kind = match e {
                TileError::WrongSize { .. } => ProblemKind::WrongSize,
                TileError::WrongDtype { .. } | TileError::NotATileDtype(_) => ProblemKind::Dtype,
                _ => ProblemKind::BadImage,
            };
            let message = format!("{file}: {e}");
            Err(problem(kind, Some(file), message))
        }
    }
}

/// Turns the tally into the report: decides the expected dtype and lists the odd ones out.
fn finish(
    job: &JobConfig,
    settings: &CheckSettings,
    mut tally: Tally,
    elapsed: Duration,
) -> Report {
    let unit = match job.config.ingest_job.ingest_type {
        IngestType::Tile => "tile",
        IngestType::Volumetric => "chunk",
    };
    let requested = settings.dtype.map(dtype_of);
    let expected = requested.or_else(|| {
        // The most common dtype; on a tie the smaller type, so the choice is stable.
        tally
            .dtypes
            .iter()
            .max_by_key(|(k, d)| (d.tiles, std::cmp::Reverse(**k)))
            .map(|(k, _)| k.dtype())
    });
    if let Some(expected) = expected {
        let odd: Vec<DtypeKey> = tally
            .dtypes
            .keys()
            .copied()
            .filter(|k| k.dtype() != expected)
            .collect();
        for key in odd {
            if let Some(odd) = tally.dtypes.remove(&key) {
                tally.good -= odd.tiles;
                tally.bytes -= odd.bytes;
                *tally.by_kind.entry(ProblemKind::Dtype).or_default() +=
                    odd.tiles - odd.first.len() as u64;
                for (seq, (t, file)) in odd.first {
                    let message = format!(
                        "{file}: {unit} is {}, but most {unit}s are {expected}",
                        key.dtype()
                    );
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
    let bad: u64 = tally.by_kind.values().sum();
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
        problems_not_listed: bad - tally.listed.len() as u64,
        problems_by_kind: tally.by_kind,
        problems: tally.listed.into_values().collect(),
        dtypes: tally
            .dtypes
            .iter()
            .map(|(k, d)| (k.dtype().name().to_string(), d.tiles))
            .collect(),
        expected_dtype: expected.map(|d| d.name().to_string()),
        upload_bytes: tally.bytes,
        estimated_job_bytes: (sampled && tally.good > 0)
            .then(|| (tally.bytes as f64 / tally.good as f64 * job_tiles as f64) as u64),
        seconds,
        tiles_per_second: per_sec(tally.checked as f64),
        megabytes_per_second: per_sec(tally.bytes as f64 / 1e6),
        warnings: job.warnings.clone(),
    }
}

/// Bytes in decimal units, the way upload sizes are usually quoted.
fn human_bytes(n: u64) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use plugin_abi::{Note, TileImage};
    use std::path::Path;

    /// A source whose tiles are decided by z: the cases `check` must tell apart.
    struct Fake;

    impl TileSource for Fake {
        fn produce(
            &self,
            t: TileIndex,
        ) -> Result<(String, TileOutput), (Option<String>, PluginError)> {
            let file = format!("/data/{}.png", t.z);
            let raw = |w: u32, h: u32, dtype: Dtype| TileImage::Raw {
                width: w,
                height: h,
                dtype,
                data: vec![1; (w * h) as usize * dtype.size()],
            };
            let output = match t.z {
                1 => {
                    let message = format!("{file}: file not found");
                    return Err((
                        Some(file),
                        PluginError {
                            kind: ErrorKind::NotFound,
                            message,
                        },
                    ));
                }
                2 => TileOutput::new(raw(512, 256, Dtype::U8)),
                3 => TileOutput::new(raw(512, 512, Dtype::U16)),
                4 => TileOutput::new(raw(512, 512, Dtype::U8))
                    .with_note(Note::black_tile(format!("{file}: missing, black tile"))),
                _ => TileOutput::new(raw(512, 512, Dtype::U8)),
            };
            Ok((file, output))
        }
    }

    fn job(z: u64) -> JobConfig {
        let text = serde_json::json!({
          "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
          "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": "h", "protocol": "https"},
            "path_processor": {"class": "P", "params": {}},
            "tile_processor": {"class": "T", "params": {}}
          },
          "database": {"collection": "c", "experiment": "e", "channel": "ch"},
          "ingest_job": {"resolution": 0,
            "extent": {"x": [0, 1024], "y": [0, 512], "z": [0, z], "t": [0, 1]},
            "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}}
        });
        config::parse(Path::new("job.json"), &text.to_string()).unwrap()
    }

    fn settings(max_listed: usize) -> CheckSettings {
        CheckSettings {
            config: "job.json".into(),
            sample: None,
            seed: None,
            json: None,
            dtype: None,
            processes: 3,
            max_listed,
            log_level: log::LevelFilter::Off,
        }
    }

    fn run_fake(job: &JobConfig, s: &CheckSettings) -> Report {
        let options = Options {
            workers: s.processes,
            expected: expected_tile(job, s.dtype.map(dtype_of)),
            max_listed: s.max_listed,
            progress: indicatif::ProgressBar::hidden(),
        };
        let (_, tiles) = select_tiles(job, s.sample, s.seed);
        let tally = check_tiles(&Fake, tiles, &options);
        finish(job, s, tally, Duration::from_secs(1))
    }

    #[test]
    fn every_kind_of_problem_is_classified_and_counted() {
        let job = job(6);
        let r = run_fake(&job, &settings(100));
        assert_eq!(r.tiles_in_job, 12);
        assert_eq!(r.tiles_checked, 12);
        assert_eq!(r.good_tiles, 4, "{r:#?}");
        assert_eq!(r.bad_tiles, 8);
        let kinds: Vec<_> = r.problems_by_kind.iter().map(|(k, n)| (*k, *n)).collect();
        assert_eq!(
            kinds,
            [
                (ProblemKind::MissingFile, 2),
                (ProblemKind::WrongSize, 2),
                (ProblemKind::Dtype, 2),
                (ProblemKind::BlackTile, 2)
            ]
        );
        let listed: Vec<_> = r
            .problems
            .iter()
            .map(|p| (p.x, p.z, p.kind, p.message.as_str()))
            .collect();
        // Service order: within a chunk of 16 slices, x then z.
        let missing = (ProblemKind::MissingFile, "/data/1.png: file not found");
        let size = (
            ProblemKind::WrongSize,
            "/data/2.png: expected 512×512, got 512×256",
        );
        let dtype = (
            ProblemKind::Dtype,
            "/data/3.png: tile is uint16, but most tiles are uint8",
        );
        let black = (ProblemKind::BlackTile, "/data/4.png: missing, black tile");
        let mut expected = Vec::new();
        for x in 0..2 {
            for (z, (kind, message)) in [(1, missing), (2, size), (3, dtype), (4, black)] {
                expected.push((x, z, kind, message));
            }
        }
        assert_eq!(listed, expected);
        assert_eq!(r.dtypes, BTreeMap::from([("uint8".to_string(), 4)]));
        assert!(render(&r).ends_with("Result: 4 good tiles, 8 bad tiles.\n"));
    }

    #[test]
    fn the_problem_list_is_bounded_and_keeps_the_first_in_tile_order() {
        let job = job(6);
        let r = run_fake(&job, &settings(3));
        assert_eq!(r.bad_tiles, 8);
        assert_eq!(r.problems_not_listed, 5);
        let at: Vec<_> = r.problems.iter().map(|p| (p.x, p.z)).collect();
        assert_eq!(at, [(0, 1), (0, 2), (0, 3)]);
        assert!(render(&r).contains("Problems (3 listed, 5 more not listed;"));
    }

    #[test]
    fn requested_dtype_overrides_the_majority() {
        let job = job(6);
        let mut s = settings(100);
        s.dtype = Some(crate::cli::Dtype::Uint16);
        let r = run_fake(&job, &s);
        assert_eq!(r.expected_dtype.as_deref(), Some("uint16"));
        // z 0 and 5 are uint8 (and z 4's black tiles are counted as black first).
        assert_eq!(r.problems_by_kind.get(&ProblemKind::Dtype), Some(&4));
        assert_eq!(r.good_tiles, 2);
    }

    #[test]
    fn a_seeded_sample_is_repeatable_sorted_and_within_the_job() {
        let job = job(40);
        let pick = |n, seed| {
            let (count, tiles) = select_tiles(&job, Some(n), seed);
            let tiles: Vec<_> = tiles.collect();
            assert_eq!(count, tiles.len() as u64);
            tiles
        };
        let a = pick(10, Some(5));
        assert_eq!(a, pick(10, Some(5)));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0].0 < w[1].0));
        let all: Vec<_> = job.config.ingest_job.tiles().collect();
        assert!(a.iter().all(|(i, t)| all[*i as usize] == *t));
        // A sample as large as the job is the whole job, in order.
        let whole = pick(1000, None);
        assert_eq!(whole.len(), 80);
        assert!(whole
            .iter()
            .enumerate()
            .all(|(i, (seq, _))| i as u64 == *seq));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 kB");
        assert_eq!(human_bytes(168_600_000), "168.6 MB");
    }
}
