//! Checking tiles or chunks on a fixed number of threads (plugin calls block) fed through a
//! bounded channel, and counting the outcomes. Each item's bytes are dropped once measured, and
//! only the first `--max-listed` problems are kept: memory does not grow with the job.

use std::collections::BTreeMap;
use std::sync::{mpsc, Mutex};

use boss_protocol::config::TileIndex;
use boss_protocol::cuboid;
use plugin_abi::{Dtype, NoteKind};

use super::report::{Problem, ProblemKind};
use super::Options;
use crate::chunk::ChunkError;
use crate::processors::{describe, ChunkFailureKind, ChunkProcessors, MadeTile, TileProblem};
use crate::tile::TileError;

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
    pub dtypes: BTreeMap<Dtype, DtypeTally>,
}

/// Good tiles of one dtype.
#[derive(Debug, Default)]
pub struct DtypeTally {
    pub tiles: u64,
    pub bytes: u64,
    /// The first tiles by position in the job (tile, file), at most `max_listed`.
    pub first: BTreeMap<u64, (TileIndex, String)>,
}

impl Tally {
    pub(super) fn problem(&mut self, seq: u64, problem: Problem, max_listed: usize) {
        *self.by_kind.entry(problem.kind).or_default() += 1;
        self.listed.insert(seq, problem);
        if self.listed.len() > max_listed {
            self.listed.pop_last();
        }
    }

    fn good(&mut self, seq: u64, t: TileIndex, file: String, dtype: Dtype, bytes: u64, max: usize) {
        self.good += 1;
        self.bytes += bytes;
        let entry = self.dtypes.entry(dtype).or_default();
        entry.tiles += 1;
        entry.bytes += bytes;
        entry.first.insert(seq, (t, file));
        if entry.first.len() > max {
            entry.first.pop_last();
        }
    }
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
pub fn check_chunk(
    chunks: &ChunkProcessors,
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
            ChunkFailureKind::Plugin(kind) => ProblemKind::of_plugin_error(*kind),
            ChunkFailureKind::Array(e) => match **e {
                ChunkError::WrongDtype { .. } | ChunkError::NotStorable(_) => ProblemKind::Dtype,
                _ => ProblemKind::WrongSize,
            },
        };
        problem(kind, f.file, f.message)
    })?;
    let name = describe(&read.geometry);
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
    // The upload's bytes: every cuboid the service lists for a chunk, compressed as uploaded.
    let bytes = cuboid::offsets(chunks.chunk_size())
        .map(|(x, y, z)| {
            cuboid::compress(&read.chunk.cuboid(x, y, z), read.chunk.dtype()).len() as u64
        })
        .sum();
    Ok((read.file, read.chunk.dtype(), bytes))
}

/// One tile as its processors made it: `Ok((file, dtype, bytes to upload))` or the problem.
pub fn check_tile(
    t: TileIndex,
    made: Result<MadeTile, TileProblem>,
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
    let made = made.map_err(|p| match p {
        TileProblem::Plugin {
            file,
            kind,
            message,
        } => problem(ProblemKind::of_plugin_error(kind), file, message),
        // A black tile is reported as black first, whatever else is wrong with it.
        TileProblem::Unusable {
            file,
            black: Some(why),
            ..
        } => problem(ProblemKind::BlackTile, Some(file), why),
        TileProblem::Unusable { file, error, .. } => {
            let kind = match error {
                TileError::WrongSize { .. } => ProblemKind::WrongSize,
                TileError::WrongDtype { .. } | TileError::NotADtype(_) => ProblemKind::Dtype,
                _ => ProblemKind::BadImage,
            };
            let message = format!("{file}: {error}");
            problem(kind, Some(file), message)
        }
    })?;
    if let Some(why) = made.black() {
        let message = why.to_string();
        return Err(problem(ProblemKind::BlackTile, Some(made.file), message));
    }
    // `prepare` has verified the dtype is one the Boss stores.
    let dtype = made.encoded.info.dtype.unwrap_or(Dtype::U8);
    Ok((made.file, dtype, made.encoded.bytes.len() as u64))
}
