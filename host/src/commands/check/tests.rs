//! `check` over a fake source whose tiles are decided by z.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use boss_protocol::config::TileIndex;
use plugin_abi::{Dtype, ErrorKind, Note, TileImage, TileOutput};

use super::report::{finish, human_bytes, render};
use super::selection::select;
use super::tally::{check_items, check_tile};
use super::*;
use crate::config::JobConfig;
use crate::processors::{made, MadeTile, TileProblem};
use crate::tile::Expected;

/// Tiles decided by z, as the processors would make them: the cases `check` must tell apart.
fn fake(t: TileIndex, dtype: Option<Dtype>) -> Result<MadeTile, TileProblem> {
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
            return Err(TileProblem::Plugin {
                file: Some(file),
                kind: ErrorKind::NotFound,
                message,
            });
        }
        2 => TileOutput::new(raw(512, 256, Dtype::U8)),
        3 => TileOutput::new(raw(512, 512, Dtype::U16)),
        4 => TileOutput::new(raw(512, 512, Dtype::U8))
            .with_note(Note::black_tile(format!("{file}: missing, black tile"))),
        _ => TileOutput::new(raw(512, 512, Dtype::U8)),
    };
    let expected = Expected {
        width: 512,
        height: 512,
        dtype,
    };
    made(file, output, &expected)
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
        follow: None,
        log_file: None,
        log_level: log::LevelFilter::Off,
    }
}

fn run_fake(job: &JobConfig, s: &CheckSettings) -> Report {
    let options = Options {
        workers: s.processes,
        max_listed: s.max_listed,
        progress: indicatif::ProgressBar::hidden(),
    };
    let (_, tiles) = select(job, s.sample, s.seed);
    let tally = check_items(tiles, &options, |t| check_tile(t, fake(t, s.dtype)));
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
    s.dtype = Some(Dtype::U16);
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
        let (count, tiles) = select(&job, Some(n), seed);
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
