//! `--follow`: ingest while the microscope is still writing. The test writes slices while the
//! real `boss-ingest` runs — each file in pieces, with pauses, to its final name, as acquisition
//! software does — and what the Boss holds at the end is exactly the source: no slice was read
//! missing, half-written or twice. Short settle and visibility times keep the tests quick.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::boss::stack_config;
use crate::support::cmd::{temp_dir, Cmd, Output};
use crate::support::data::{Dtype, Format, Stack};
use crate::support::job::{assert_complete, ingest, job_id, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumes::failure_report;
use crate::support::volumetric::assert_cutout_matches;

/// 512² uint8 PNG slices: one tile each.
const SIDE: u32 = 512;
const SLICES: u64 = 40;

/// A simulator whose unfinished messages come back after 2 s.
fn sim() -> SimHandle {
    SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    })
}

/// The source slices, encoded once in a staging dir: the test copies them into the followed
/// dir piece by piece.
fn staged(dir: &Path, slices: u64) -> Stack {
    Stack::write(
        &dir.join("staging"),
        "s",
        Format::Png,
        Dtype::U8,
        (SIDE, SIDE),
        0..slices,
    )
}

/// Appends `bytes` to `path` and flushes, as a writer does between pieces.
fn append(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

/// Writes `from` to `to` in 3 pieces, `pause` apart.
fn write_slowly(from: &Path, to: &Path, pause: Duration) {
    let bytes = std::fs::read(from).unwrap();
    let third = bytes.len() / 3 + 1;
    for (i, piece) in bytes.chunks(third).enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        append(to, piece);
    }
}

fn followed(stack: &Stack, dir: &Path) -> Stack {
    std::fs::create_dir_all(dir).unwrap();
    Stack {
        dir: dir.to_path_buf(),
        prefix: stack.prefix.clone(),
        format: stack.format,
        dtype: stack.dtype,
        width: stack.width,
        height: stack.height,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_written_while_the_client_follows_it_completes_exactly() {
    let dir = temp_dir();
    let source = staged(dir.path(), SLICES);
    let live = followed(&source, &dir.path().join("live"));
    for z in 0..10 {
        std::fs::copy(source.slice_path(z), live.slice_path(z)).unwrap();
    }
    let sim = sim();
    let config = write_config(
        dir.path(),
        &stack_config(&sim.host(), &live, "ch", (0, SLICES)),
    );
    let cmd = ingest(&sim, &config)
        .args(["--follow", "--settle-secs", "1", "--follow-timeout", "60s"])
        // A half-written slice that sits still for longer than the settle time is read and
        // refused (truncated) on some deliveries: room for those attempts.
        .args(["--max-attempts", "20", "--progress", "json"])
        .env("BOSS_INGEST_PROGRESS_SECS", "1");
    let client = tokio::spawn(run(cmd));

    // The microscope: every other slice in order, each in pieces; slice 30 is written half,
    // left alone for longer than the settle time plus a redelivery, then finished.
    let (staging, target) = (source.dir.clone(), live.dir.clone());
    let from = move |z: u64| staging.join(format!("s{z}.png"));
    let to = move |z: u64| target.join(format!("s{z}.png"));
    tokio::task::spawn_blocking(move || {
        let pause = Duration::from_millis(150);
        for z in (10..SLICES).filter(|z| *z != 30) {
            write_slowly(&from(z), &to(z), pause);
        }
        let bytes = std::fs::read(from(30)).unwrap();
        let (half, rest) = bytes.split_at(bytes.len() / 2);
        append(&to(30), half);
        std::thread::sleep(Duration::from_secs(5));
        append(&to(30), rest);
    })
    .await
    .unwrap();

    let out: Output = client.await.unwrap();
    let job = assert_complete(&out, &format!("Uploaded {SLICES} tiles"));
    // Progress said what it waited for, naming a slice the test had not written yet.
    let waited: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["waiting_for"].as_u64().unwrap_or(0) > 0)
        .collect();
    let first = waited.first().unwrap_or_else(|| panic!("{}", out.both()));
    let newest = first["newest_missing"].as_str().unwrap();
    let later: Vec<String> = (10..SLICES)
        .map(|z| live.slice_path(z).display().to_string())
        .collect();
    assert!(later.contains(&newest.to_string()), "{newest}");

    // Every tile stored once, none broken, and the Boss holds exactly the source: no slice was
    // uploaded missing (black), half-written or before its last piece.
    let stats = sim.stats(job).await;
    assert_eq!(stats["state"], "COMPLETE", "{stats}");
    assert_eq!(stats["tiles_stored"], SLICES, "{stats}");
    assert_eq!(stats["duplicate_tiles"], 0, "{stats}");
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    assert_cutout_matches(
        &sim,
        "ch",
        [SIDE.into(), SIDE.into(), SLICES],
        1,
        |x, y, z| crate::support::data::voxel(Dtype::U8, x, y, z),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_abandoned_half_slice_is_quarantined_never_uploaded_and_a_missing_one_times_out() {
    const Z: u64 = 16;
    let dir = temp_dir();
    let source = staged(dir.path(), Z);
    let live = followed(&source, &dir.path().join("live"));
    for z in (0..Z).filter(|z| *z != 5 && *z != 9) {
        std::fs::copy(source.slice_path(z), live.slice_path(z)).unwrap();
    }
    // Slice 5: half of it, abandoned. Slice 9: never written.
    let bytes = std::fs::read(source.slice_path(5)).unwrap();
    append(&live.slice_path(5), &bytes[..bytes.len() / 2]);
    let sim = sim();
    let config = write_config(dir.path(), &stack_config(&sim.host(), &live, "ch", (0, Z)));
    let cmd = ingest(&sim, &config)
        .args(["--follow", "--settle-secs", "1", "--follow-timeout", "8s"])
        .args(["--max-attempts", "2"]);
    let home = dir.path().join("home");
    let out = run(cmd.env("HOME", &home)).await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let job = job_id(&out);
    let missing = live.slice_path(9).display().to_string();
    let line = format!(
        "Gave up after 8s without a new source: waiting for 1 sources (newest missing: \
         {missing}). Job {job} stays open; when the sources are there, resume with: boss-ingest \
         {} -j {job} --follow",
        config.display()
    );
    assert!(out.stdout.contains(&line), "{line}\n{}", out.both());
    assert!(out.stdout.contains("Uploaded 14 tiles"), "{}", out.both());
    let half = live.slice_path(5).display().to_string();
    let report = failure_report(&out, &home);
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0]["z"], 5);
    assert_eq!(report[0]["file"], half.as_str());
    assert_eq!(report[0]["attempts"], 2);
    let why = format!(
        "{half}: unreadable image: the PNG file ends after {} bytes without its IEND \
         chunk: it is truncated (still being written, or cut short)",
        bytes.len() / 2
    );
    assert_eq!(report[0]["error"], why.as_str(), "{report:?}");

    // The job is open with both tiles still queued; the Boss holds the 14 others and zeros for
    // slices 5 and 9 (nothing half was stored).
    let stats = sim.stats(job).await;
    assert_eq!(stats["state"], "UPLOADING", "{stats}");
    assert_eq!(stats["tiles_stored"], 14, "{stats}");
    assert_eq!(stats["tile_errors"], 0, "{stats}");
}

/// `check --follow` on a stack being written: old slices present, one still settling, one
/// missing; only the present ones are judged.
#[test]
fn check_follow_reports_present_missing_and_settling_sources() {
    let dir = temp_dir();
    let source = staged(dir.path(), 4);
    let live = followed(&source, &dir.path().join("live"));
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for z in 0..3 {
        std::fs::copy(source.slice_path(z), live.slice_path(z)).unwrap();
    }
    for z in 0..2 {
        let f = std::fs::File::options()
            .write(true)
            .open(live.slice_path(z))
            .unwrap();
        f.set_modified(hour_ago).unwrap();
    }
    let config = stack_config("localhost", &live, "ch", (0, 4));
    let config = write_config(dir.path(), &config);
    let out = Cmd::boss_ingest()
        .arg("check")
        .arg(&config)
        .args(["--follow", "--settle-secs", "600", "-p", "1"])
        .run();
    assert_eq!(out.code, Some(0), "{}", out.both());
    let (settling, missing) = (live.slice_path(2), live.slice_path(3));
    let size = std::fs::metadata(&settling).unwrap().len();
    for line in [
        "  sources:      2 present, 1 missing, 1 still settling (--follow waits for them)"
            .to_string(),
        format!(
            "  tile x=0 y=0 z=2 t=0: still settling: {}: still being written (size {size} bytes, \
             changed ",
            settling.display()
        ),
        format!(
            "  tile x=0 y=0 z=3 t=0: not there yet: {}: not there yet (--follow)",
            missing.display()
        ),
        "Result: 2 good tiles, 0 bad tiles.".to_string(),
    ] {
        assert!(
            out.stdout.contains(&line),
            "missing {line:?} in\n{}",
            out.both()
        );
    }
    // Without --follow the missing slice is a problem.
    let out = Cmd::boss_ingest().arg("check").arg(&config).run();
    assert_eq!(out.code, Some(1), "{}", out.both());
    assert!(
        out.stdout.contains("Result: 3 good tiles, 1 bad tiles."),
        "{}",
        out.both()
    );
}
