//! Issue 4's acceptance: the real `boss-ingest` binary runs whole tile jobs against a real
//! `boss-sim` (moto behind its AWS front door) — create, upload, complete — and every voxel read
//! back through the cutout API equals the generated source. The sim's counters say each tile was
//! stored once with the metadata the service needs. Jobs are small (moto manages ~40 tiles/s)
//! and waits are short (`--receive-wait-secs 1`, a one-second WAIT_ON_QUEUES).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::boss::stack_config;
use crate::support::cmd::{temp_dir, Cmd};
use crate::support::data::{Dtype, Format, Stack};
use crate::support::job::{
    assert_complete, create_job, cutout, ingest, ingest_with_workers, job_id, run, write_config,
};
use crate::support::sim::{SimHandle, SimOptions};

/// The extent of every job here: x/y not multiples of the 512 tile, z not a multiple of 16.
const WIDTH: u32 = 700;
const HEIGHT: u32 = 600;
pub(crate) const Z: (u64, u64) = (0, 37);

/// Reads the whole extent back and compares it with the source, slice by slice.
async fn assert_cutout_equals(sim: &SimHandle, channel: &str, stack: &Stack) {
    for z in Z.0..Z.1 {
        let got = cutout(
            sim,
            channel,
            (0, stack.width.into()),
            (0, stack.height.into()),
            (z, z + 1),
        )
        .await;
        let want = stack.expected_box(
            (0, stack.width.into()),
            (0, stack.height.into()),
            (z, z + 1),
        );
        assert_eq!(got.len(), want.len(), "slice {z}: cutout size");
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "slice {z}: {differing} bytes differ from the source"
        );
    }
}

/// The job completed cleanly, and the sim saw every tile stored once, with no tile errors.
async fn assert_clean_stats(sim: &SimHandle, job: u64, tiles: u64) -> Value {
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["tiles_stored"], tiles, "{stats}");
    assert_eq!(stats["duplicate_tiles"], 0, "{stats}");
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    stats
}

/// 2 × 2 tiles per slice, 37 slices.
pub(crate) const TILES: u64 = 2 * 2 * 37;

#[tokio::test(flavor = "multi_thread")]
async fn uint8_png_stack_is_created_uploaded_and_completed_exactly() {
    let dir = temp_dir();
    let stack = Stack::write(
        &dir.path().join("data"),
        "slice_",
        Format::Png,
        Dtype::U8,
        (WIDTH, HEIGHT),
        Z.0..Z.1,
    );
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let out = run(ingest(&sim, &config)).await;
    let job = assert_complete(&out, &format!("Uploaded {TILES} tiles"));
    let stats = assert_clean_stats(&sim, job, TILES).await;
    // A tile's S3 user metadata as the client sends it, with the join's production-shaped
    // parameters and, on the embedded backend, a production-length receipt handle.
    let metadata = stats["metadata_bytes_max"].as_u64().unwrap();
    eprintln!("largest tile metadata: {metadata} bytes of S3's 2048");
    assert!(metadata > 0 && metadata <= 2048, "{stats}");
    assert_cutout_equals(&sim, "ch", &stack).await;

    // A late worker joining the finished job: the Boss answers 400/9001 NonExistentQueue, and
    // the client reads the job's status and says so at once instead of retrying a join.
    let out = run(ingest(&sim, &config).args(["-j", &job.to_string()])).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert_eq!(
        out.stdout.trim(),
        format!(
            "Resuming ingest job {job} on {}\njob {job} is already complete",
            sim.api
        )
    );

    // `verify` reads the job back tile by tile and agrees.
    let verify = || {
        Cmd::boss_ingest()
            .env("INTERN_TOKEN", &sim.token)
            .arg("verify")
            .arg(&config)
            .args(["-j", &job.to_string()])
    };
    let out = run(verify()).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout
            .contains(&format!("All {TILES} tiles are identical to the source.")),
        "{}",
        out.both()
    );
    // Change the source of slice 3 to all zeros: every non-zero voxel of it now differs.
    let zeros = image::GrayImage::new(WIDTH, HEIGHT);
    zeros.save(stack.slice_path(3)).unwrap();
    let out = run(verify()).await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let file = stack.slice_path(3);
    for (x, y) in [(0u64, 0u64), (1, 0), (0, 1), (1, 1)] {
        let (x0, y0) = (x * 512, y * 512);
        let (x1, y1) = ((x0 + 512).min(WIDTH.into()), (y0 + 512).min(HEIGHT.into()));
        let nonzero = (y0..y1)
            .flat_map(|yy| (x0..x1).map(move |xx| (xx, yy)))
            .filter(|&(xx, yy)| crate::support::data::voxel(Dtype::U8, xx, yy, 3) != 0)
            .count();
        let line = format!(
            "tile x{x} y{y} z3 t0 ({}): {nonzero} of {} voxels differ",
            file.display(),
            (x1 - x0) * (y1 - y0)
        );
        assert!(
            out.stdout.contains(&line),
            "missing {line:?} in\n{}",
            out.both()
        );
    }
    assert!(
        out.stdout
            .contains(&format!("4 of {TILES} tiles differ from the source.")),
        "{}",
        out.both()
    );
}

/// A generated stack in a fresh temp dir.
pub(crate) fn png_stack(dir: &Path) -> Stack {
    Stack::write(
        &dir.join("data"),
        "slice_",
        Format::Png,
        Dtype::U8,
        (WIDTH, HEIGHT),
        Z.0..Z.1,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn uint16_tiff_stack_is_uploaded_exactly() {
    let dir = temp_dir();
    let stack = Stack::write(
        &dir.path().join("data"),
        "img",
        Format::Tiff,
        Dtype::U16,
        (WIDTH, HEIGHT),
        Z.0..Z.1,
    );
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch16", Z));
    let out = run(ingest(&sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    assert_clean_stats(&sim, job, TILES).await;
    assert_cutout_equals(&sim, "ch16", &stack).await;
}

/// The Python developers' `./token.json` alone authorizes a whole run, and a debug log of that
/// run (on stderr and in `-l`'s file) says where the token came from, never the token.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_with_only_token_json_completes_and_never_logs_the_token() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    std::fs::write(
        dir.path().join("token.json"),
        json!({"token": sim.token, "host": sim.host()}).to_string(),
    )
    .unwrap();
    let log = dir.path().join("run.log");

    let out = run(Cmd::boss_ingest()
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .current_dir(dir.path())
        .arg(&config)
        .args([
            "-f",
            "--receive-wait-secs",
            "1",
            "-p",
            "2",
            "-v",
            "debug",
            "-l",
        ])
        .arg(&log)
        .timeout(Duration::from_secs(300)))
    .await;

    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    assert_clean_stats(&sim, job, TILES).await;
    assert_cutout_equals(&sim, "ch", &stack).await;
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("API token from ./token.json"), "{log}");
    assert!(log.contains(" DEBUG "), "not a debug log:\n{log}");
    assert!(!log.contains(&sim.token), "the log holds the token:\n{log}");
    assert!(
        !out.both().contains(&sim.token),
        "the token was printed:\n{}",
        out.both()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_sdks_own_log_reaches_the_log_file_when_asked_for() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let log = dir.path().join("ingest.log");
    let out = run(ingest(&sim, &config)
        .env("BOSS_INGEST_LOG", "aws_smithy_runtime=debug")
        .arg("-l")
        .arg(&log))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    // The SDK's tracing event for every request it sends, as a log record under its module.
    let line = "DEBUG aws_smithy_runtime::client::orchestrator] retry strategy has OKed initial \
                request\n";
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains(line), "no {line:?} in the log:\n{text}");
    // Asked for by target: nothing else gets louder.
    assert!(!text.contains(" DEBUG boss_ingest"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_killed_mid_job_is_resumed_with_its_job_id() {
    use std::io::BufRead;
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let home = temp_dir();
    let mut child = std::process::Command::new(crate::support::cmd::bin("boss-ingest"))
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("INTERN_TOKEN", &sim.token)
        .arg(&config)
        .args(["-f", "--receive-wait-secs", "1", "-p", "1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start boss-ingest");
    let stdout = child.stdout.take().expect("piped stdout");
    let job = tokio::task::spawn_blocking(move || {
        let marker = "keep this id to resume: boss-ingest ";
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.expect("stdout line");
            if line.contains(marker) {
                return line
                    .rsplit(" -j ")
                    .next()
                    .unwrap()
                    .trim()
                    .parse::<u64>()
                    .unwrap();
            }
        }
        panic!("boss-ingest printed no job id");
    })
    .await
    .unwrap();
    // Kill it once some, but not all, tiles are stored.
    loop {
        let stored = sim.stats(job).await["tiles_stored"].as_u64().unwrap_or(0);
        if stored >= 20 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().expect("SIGKILL boss-ingest");
    child.wait().unwrap();
    assert_ne!(sim.stats(job).await["state"], "COMPLETE");

    let out = run(ingest(&sim, &config).args(["-j", &job.to_string()])).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout.contains(&format!("Resuming ingest job {job}")),
        "{}",
        out.both()
    );
    sim.wait_for_state(job, "COMPLETE", Duration::from_secs(5))
        .await;
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_clients_on_one_job_complete_it_exactly() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config_json = stack_config(&sim.host(), &stack, "ch", Z);
    let config = write_config(dir.path(), &config_json);
    let job = create_job(&sim, &config_json).await;
    let clients: Vec<_> = (0..3)
        .map(|_| {
            let cmd = ingest(&sim, &config).args(["-j", &job.to_string()]);
            tokio::task::spawn_blocking(move || cmd.run())
        })
        .collect();
    let mut uploaded = 0;
    for c in clients {
        let out = c.await.unwrap();
        assert_eq!(out.code, Some(0), "{}", out.both());
        // "Uploaded N tiles" of each client adds up to at least every tile once.
        uploaded += out
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("Uploaded "))
            .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
    }
    assert!(
        uploaded >= TILES,
        "clients uploaded {uploaded} of {TILES} tiles"
    );
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_deletes_the_job_and_a_later_join_says_so() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config_json = stack_config(&sim.host(), &stack, "ch", Z);
    let config = write_config(dir.path(), &config_json);
    let job = create_job(&sim, &config_json).await;
    let id = job.to_string();

    let out = run(Cmd::boss_ingest()
        .env("INTERN_TOKEN", &sim.token)
        .arg(&config)
        .args(["-c", "-j", &id]))
    .await;
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(out.both().contains("pass -f"), "{}", out.both());
    assert_ne!(sim.stats(job).await["state"], "DELETED");

    let out = run(Cmd::boss_ingest()
        .env("INTERN_TOKEN", &sim.token)
        .arg(&config)
        .args(["-c", "-j", &id, "-f"]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout
            .contains(&format!("Job {job} is cancelled (DELETED).")),
        "{}",
        out.both()
    );
    assert_eq!(sim.stats(job).await["state"], "DELETED");

    let out = run(ingest(&sim, &config).args(["-j", &id])).await;
    assert_eq!(out.code, Some(3), "{}", out.both());
    assert!(
        out.stderr.contains(&format!(
            "job {job} was cancelled (it is DELETED); create a new job to ingest this data"
        )),
        "{}",
        out.both()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_expiring_every_few_seconds_are_renewed_without_loss() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions {
        credential_ttl_secs: Some(3.0),
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let out = run(ingest(&sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    assert!(
        stats["rest_requests"]["join"].as_u64().unwrap_or(0) > 1,
        "the keys were never renewed: {stats}"
    );
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn injected_faults_do_not_lose_a_voxel() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions {
        faults: Some("api:500:0.1,s3.put:503:0.1,sqs.receive:500:0.05".into()),
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let out = run(ingest(&sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    let stats = sim.assert_completed_cleanly(job).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    assert!(
        stats["faults_injected"]["s3.put"].as_u64().unwrap_or(0) > 0,
        "no fault was injected: {stats}"
    );
    // The faults would hit the test's own read-back too: switch them off first.
    let reply = reqwest::Client::new()
        .put(format!("{}/sim/faults", sim.api))
        .body("")
        .send()
        .await
        .expect("PUT /sim/faults");
    assert!(reply.status().is_success(), "clearing faults: {reply:?}");
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_slice_is_quarantined_and_reported() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let missing = stack.slice_path(20);
    std::fs::remove_file(&missing).unwrap();
    let sim = SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    // A HOME that outlives the command, so the report it writes there can be read.
    let home = dir.path().join("home");
    let out = run(ingest(&sim, &config)
        .env("HOME", &home)
        .args(["--max-attempts", "2"]))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let job = job_id(&out);
    let report_line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Failure report: "))
        .unwrap_or_else(|| panic!("no failure report printed:\n{}", out.both()));
    let report_path = PathBuf::from(report_line.trim());
    assert!(
        report_path.starts_with(home.join(".boss-ingest")),
        "{report_line}"
    );
    let report = std::fs::read_to_string(&report_path).expect("failure report exists");
    let entries: Vec<Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).expect("report line is JSON"))
        .collect();
    // Slice 20 has 2 × 2 tiles; each is reported once, naming the missing file.
    assert_eq!(entries.len(), 4, "{report}");
    let mut xy: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| (e["x"].as_u64().unwrap(), e["y"].as_u64().unwrap()))
        .collect();
    xy.sort();
    assert_eq!(xy, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    for e in &entries {
        assert_eq!(e["z"], 20, "{e}");
        assert_eq!(e["t"], 0, "{e}");
        assert_eq!(e["attempts"], 2, "{e}");
        assert_eq!(e["file"], missing.to_str().unwrap(), "{e}");
        assert!(
            e["error"].as_str().unwrap().contains("file not found"),
            "{e}"
        );
    }
    // 4 footprints × 3 chunks, less the 4 chunks holding slice 20. The service assembles chunks
    // as it reads the tile-index queue, which may trail the client's exit a little.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let stats = loop {
        let stats = sim.stats(job).await;
        if stats["chunks_assembled"] == 8 || std::time::Instant::now() > deadline {
            break stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(stats["chunks_assembled"], 8, "{stats}");
    assert_eq!(stats["state"], "UPLOADING", "{stats}");
    // With a 2 s visibility timeout a slow tile may be redelivered and stored twice: count keys.
    let unique =
        stats["tiles_stored"].as_u64().unwrap() - stats["duplicate_tiles"].as_u64().unwrap();
    assert_eq!(unique, TILES - 4, "{stats}");
    // Chunks are slices 0–15, 16–31 and 32–36: the two without slice 20 are exact.
    for z in (0..16).chain(32..37) {
        let got = cutout(
            &sim,
            "ch",
            (0, WIDTH.into()),
            (0, HEIGHT.into()),
            (z, z + 1),
        )
        .await;
        let want = stack.expected_box((0, WIDTH.into()), (0, HEIGHT.into()), (z, z + 1));
        assert!(got == want, "slice {z} differs");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_client_config_runs_unchanged() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    // The v0.1 layout of the Python client's documentation, as such files are written.
    let text = format!(
        r#"{{
  "schema": {{
      "name": "boss-v0.1-schema",
      "validator": "BossValidatorV01"
  }},
  "client": {{
    "backend": {{
      "name": "boss",
      "class": "BossBackend",
      "host": "{host}",
      "protocol": "http"
    }},
    "path_processor": {{
      "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
      "params": {{
        "root_dir": "{root}",
        "extension": "png",
        "base_filename": "slice_<>"
      }}
    }},
    "tile_processor": {{
      "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
      "params": {{
        "extension": "png",
        "filesystem": "local"
      }}
    }}
  }},
  "database": {{
    "collection": "col",
    "experiment": "exp",
    "channel": "ch"
  }},
  "ingest_job": {{
    "resolution": 0,
    "extent": {{
      "x": [0, {WIDTH}],
      "y": [0, {HEIGHT}],
      "z": [0, 37],
      "t": [0, 1]
    }},
    "tile_size": {{
      "x": 512,
      "y": 512,
      "z": 1,
      "t": 1
    }}
  }}
}}
"#,
        host = sim.host(),
        root = stack.dir.display()
    );
    let config = dir.path().join("python_client.json");
    std::fs::write(&config, text).unwrap();
    let out = run(ingest(&sim, &config)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let job = job_id(&out);
    assert_clean_stats(&sim, job, TILES).await;
    assert_cutout_equals(&sim, "ch", &stack).await;
}

/// The job's visible upload messages (the service's `current_message_count`).
async fn queued(sim: &SimHandle, job: u64) -> u64 {
    let status: Value = reqwest::Client::new()
        .get(format!("{}/latest/ingest/{job}/status", sim.api))
        .header("Authorization", format!("Token {}", sim.token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["current_message_count"].as_u64().unwrap()
}

/// A job stopped by a signal once 20 of its tiles are stored: what the tests of the drain inspect.
struct Stopped {
    _dir: tempfile::TempDir,
    stack: Stack,
    sim: SimHandle,
    config: PathBuf,
    job: u64,
}

/// Starts a job, sends `signal` once 20 tiles are stored, and asserts the exit code and the
/// drain's last line: every tile in flight was finished, and how to resume.
async fn stop_mid_job(signal: &str, code: Option<i32>, args: &[&str]) -> Stopped {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    // Short visibility timeout: a message received but not finished is visible again soon.
    let sim = SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let mut client = ingest_with_workers(&sim, &config, 1).args(args).spawn();
    let job = client.job_id().await;
    client.wait_for_stored(&sim, job, 20).await;
    client.signal(signal);
    let out = client.finish().await;
    assert_eq!(out.code, code, "{}", out.both());
    let stdout = out.stdout;
    assert!(
        stdout.contains(&format!(
            "Interrupted. Tiles in flight were finished; resume with: boss-ingest {} -j {job}",
            config.display()
        )),
        "{stdout}"
    );
    Stopped {
        _dir: dir,
        stack,
        sim,
        config,
        job,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_finishes_tiles_in_flight_and_says_how_to_resume() {
    let Stopped {
        _dir,
        stack,
        sim,
        config,
        job,
    } = stop_mid_job("INT", Some(130), &[]).await;
    // Nothing was lost: every tile is stored or back in the queue once the visibility timeout
    // has passed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = sim.stats(job).await;
    let unique =
        stats["tiles_stored"].as_u64().unwrap() - stats["duplicate_tiles"].as_u64().unwrap();
    let queued = queued(&sim, job).await;
    assert!(
        unique < TILES,
        "the interrupt came too late to test anything: {stats}"
    );
    assert!(
        unique + queued >= TILES,
        "tiles lost: {unique} stored, {queued} queued: {stats}"
    );

    let out = run(ingest(&sim, &config).args(["-j", &job.to_string()])).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    sim.wait_for_state(job, "COMPLETE", Duration::from_secs(5))
        .await;
    sim.assert_completed_cleanly(job).await;
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_job_indexes_and_deletes_what_was_in_flight_and_exits_143() {
    let Stopped {
        _dir,
        stack,
        sim,
        config,
        job,
    } = stop_mid_job("TERM", Some(143), &["--drain-secs", "20"]).await;
    // Every upload that started was stored, once; the service takes the index messages on its
    // own time, so wait until it has taken as many as there are stored tiles.
    let stats = sim.stats(job).await;
    let stored = stats["tiles_stored"].as_u64().unwrap();
    assert!(stored < TILES, "the signal came too late: {stats}");
    assert_eq!(
        stats["aws_requests"]["s3.PutObject"],
        json!(stored),
        "{stats}"
    );
    assert_eq!(stats["duplicate_tiles"], json!(0), "{stats}");
    let mut indexed = 0;
    for _ in 0..100 {
        indexed = sim.stats(job).await["tiles_indexed"].as_u64().unwrap();
        if indexed >= stored {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(indexed, stored, "{}", sim.stats(job).await);
    // Each stored tile's message was deleted, and every other message is back on the queue once
    // the visibility timeout has passed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(queued(&sim, job).await, TILES - stored);

    let out = run(ingest(&sim, &config).args(["-j", &job.to_string()])).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let stats = sim
        .wait_for_state(job, "COMPLETE", Duration::from_secs(5))
        .await;
    assert_eq!(stats["tiles_stored"], json!(TILES), "{stats}");
    assert_eq!(stats["duplicate_tiles"], json!(0), "{stats}");
    assert_cutout_equals(&sim, "ch", &stack).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_while_the_job_is_created_still_prints_its_id() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    // Every request takes 4 s, so the create request is still unanswered when the signal comes.
    let sim = SimHandle::start(SimOptions {
        faults: Some("latency:4000ms".into()),
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let mut client = ingest_with_workers(&sim, &config, 1).spawn();
    // The summary is printed just before the create request is sent (-f asks nothing); give
    // the request a second to leave, well inside its 4 s.
    client.line_with("Ingest job ").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    client.signal("TERM");
    let out = client.finish().await;
    assert_eq!(out.code, Some(143), "{}", out.both());
    let stdout = out.stdout;
    let resume = format!("boss-ingest {} -j 1", config.display());
    assert!(
        stdout.contains(&format!(
            "Created ingest job 1 ({TILES} tiles); keep this id to resume: {resume}\n\
             Not uploading (SIGTERM). Resume with: {resume}\n"
        )),
        "{stdout}"
    );
    // The job exists, whole, and was never joined: a later `-j 1` run takes it from here.
    let stats = sim.stats(1).await;
    assert_eq!(stats["tile_count"], json!(TILES), "{stats}");
    assert_eq!(stats["rest_requests"]["join"], Value::Null, "{stats}");
    assert_eq!(stats["tiles_stored"], json!(0), "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_cancelled_under_a_running_client_stops_it_cleanly() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config_json = stack_config(&sim.host(), &stack, "ch", Z);
    let config = write_config(dir.path(), &config_json);
    let job = create_job(&sim, &config_json).await;
    let client = {
        let cmd = ingest(&sim, &config).args(["-j", &job.to_string()]);
        tokio::task::spawn_blocking(move || cmd.run())
    };
    loop {
        let stored = sim.stats(job).await["tiles_stored"].as_u64().unwrap_or(0);
        if stored >= 20 {
            break;
        }
        assert!(!client.is_finished(), "finished before the cancel");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reply = reqwest::Client::new()
        .delete(format!("{}/latest/ingest/{job}", sim.api))
        .header("Authorization", format!("Token {}", sim.token))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 204);
    let out = client.await.unwrap();
    // Whichever the client meets first — the queue gone, or its keys revoked and the re-join
    // refused — it stops with a service error naming the cancellation.
    assert_eq!(out.code, Some(3), "{}", out.both());
    assert!(out.stderr.contains("cancelled"), "{}", out.both());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_or_f_it_fails_at_once_and_creates_nothing() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let out = run(Cmd::boss_ingest()
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("INTERN_TOKEN", &sim.token)
        .arg(&config))
    .await;
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr.contains(
            "cannot ask \"Create a new ingest job?\": standard input is not a terminal; pass -f \
             to proceed without questions"
        ),
        "{}",
        out.both()
    );
    let created = sim.stats(1).await;
    assert!(
        created.get("state").is_none(),
        "a job was created: {created}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_json_prints_job_wide_readings() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let out = run(ingest(&sim, &config)
        .env("BOSS_INGEST_PROGRESS_SECS", "0.5")
        .args(["--progress", "json"]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let readings: Vec<Value> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a progress line is JSON"))
        .collect();
    assert!(!readings.is_empty(), "no progress lines:\n{}", out.both());
    let job = job_id(&out);
    for r in &readings {
        assert_eq!(r["job"], job, "{r}");
        assert_eq!(r["total"], TILES, "{r}");
        assert!(r["remaining"].as_u64().unwrap() <= TILES, "{r}");
        assert!(r["uploaded"].as_u64().unwrap() <= TILES, "{r}");
        for key in [
            "bytes",
            "tiles_per_sec",
            "mb_per_sec",
            "failed_attempts",
            "quarantined",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
    }
    // Counts only grow.
    let uploaded: Vec<u64> = readings
        .iter()
        .map(|r| r["uploaded"].as_u64().unwrap())
        .collect();
    assert!(uploaded.windows(2).all(|w| w[0] <= w[1]), "{uploaded:?}");
}
