//! Volumetric ingest end to end: the real `boss-ingest` runs volumetric jobs against `boss-sim`,
//! reading chunks from the testing plugin's `TestPatternChunkProcessor` (a known value at every
//! voxel, any dtype and axis order), cutting them into blosc cuboids and storing them in the
//! ingest bucket; every voxel is read back through the cutout API. Extents are not multiples of
//! the chunk size, so edge chunks are partial and partial cuboids are zero-padded.

use boss_ingest_plugin_testing::pattern::value;
use boss_protocol::keys::{LookupIds, VolumetricChunkKey};
use plugin_abi::Dtype;
use serde_json::{json, Value};

use crate::support::cmd::{temp_dir, Cmd};
use crate::support::job::{ingest, job_id, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumetric::{
    assert_all_chunks_uploaded, assert_cutout_matches, pattern_config, pattern_config_for_host,
    sim_with_channels,
};

/// x and y not multiples of 512, z not a multiple of 16.
const EXTENT: [u64; 3] = [700, 600, 37];
/// Two cuboids along x and z: 1 × 2 × 2 = 4 chunks of 4 cuboids each.
const CHUNK: [u64; 3] = [1024, 512, 32];
const CHUNKS: u64 = 4;
const CUBOIDS: u64 = 16;

/// Ingests the pattern into `channel` and checks the job, the sim's counters and every voxel.
async fn ingest_and_compare(sim: &SimHandle, channel: &str, dtype: Dtype, params: Value) -> u64 {
    let dir = temp_dir();
    let config = write_config(
        dir.path(),
        &pattern_config(sim, channel, EXTENT, CHUNK, params),
    );
    let out = run(ingest(sim, &config)).await;
    let job = assert_all_chunks_uploaded(sim, &out, CHUNKS, CUBOIDS).await;
    assert_cutout_matches(sim, channel, EXTENT, dtype.size(), |x, y, z| {
        value(dtype, x, y, z)
    })
    .await;
    job
}

#[tokio::test(flavor = "multi_thread")]
async fn uint16_volume_in_zyx_order_is_read_back_exactly() {
    let sim = SimHandle::start(SimOptions::default());
    ingest_and_compare(
        &sim,
        "ch16",
        Dtype::U16,
        json!({"dtype": "uint16", "order": "ZYX"}),
    )
    .await;
    // Voxels past the extent inside stored cuboids are the zero padding.
    let past = crate::support::job::cutout(&sim, "ch16", (700, 1024), (0, 512), (0, 16)).await;
    assert!(past.iter().all(|&b| b == 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn uint8_volumes_in_every_axis_order_are_read_back_exactly() {
    // One channel per order, so each job's cuboids are read back from a channel nothing else
    // wrote.
    let orders = ["XYZ", "ZYX", "XYZT", "TZYX"];
    let channels: Vec<(&str, &str)> = orders.iter().map(|o| (*o, "uint8")).collect();
    let (sim, _resources) = sim_with_channels(&channels);
    for order in orders {
        ingest_and_compare(&sim, order, Dtype::U8, json!({"order": order})).await;
    }
}

/// Reads the upload queue's visible message count until it is `want` (failed messages become
/// visible again only after the visibility timeout).
async fn wait_for_visible_messages(sim: &SimHandle, job: u64, want: u64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status: Value = reqwest::Client::new()
            .get(format!("{}/latest/ingest/{job}/status", sim.api))
            .header("Authorization", format!("Token {}", sim.token))
            .send()
            .await
            .expect("status request")
            .json()
            .await
            .expect("status is JSON");
        if status["current_message_count"] == want || std::time::Instant::now() > deadline {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_shape_and_a_wrong_dtype_are_quarantined_and_left_in_the_queue() {
    let dir = temp_dir();
    let sim = SimHandle::start(SimOptions {
        visibility_timeout_secs: 2,
        ..SimOptions::default()
    });
    let params =
        json!({"dtype": "uint16", "wrong_shape_at": [0, 1, 0], "wrong_dtype_at": [0, 0, 1]});
    let config = write_config(
        dir.path(),
        &pattern_config(&sim, "ch16", EXTENT, CHUNK, params),
    );
    let home = dir.path().join("home");
    let out = run(ingest(&sim, &config)
        .env("HOME", &home)
        .args(["--max-attempts", "2"]))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let job = job_id(&out);
    assert!(
        out.stdout
            .contains("2 chunks were quarantined; the job stays open."),
        "{}",
        out.both()
    );
    let report = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Failure report: "))
        .unwrap_or_else(|| panic!("no failure report printed:\n{}", out.both()));
    let text = std::fs::read_to_string(report.trim()).expect("failure report exists");
    let mut entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("report line is JSON"))
        .collect();
    entries.sort_by_key(|e| e["z"].as_u64());
    let key = |x, y, z| {
        VolumetricChunkKey {
            ids: LookupIds {
                collection: 7,
                experiment: 12,
                channel: 34,
            },
            resolution: 0,
            x,
            y,
            z,
        }
        .key()
    };
    let class = "testing::TestPatternChunkProcessor";
    assert_eq!(
        entries,
        vec![
            json!({"chunk_key": key(0, 1, 0), "x": 0, "y": 1, "z": 0, "t": 0, "file": "",
                "error": format!("chunk x0 y1 z0 (voxels x [0, 700), y [512, 600), z [0, 32)): \
                    the array {class} returned cannot be uploaded: expected a shape of at most \
                    700×88×32 (x×y×z: the chunk size clipped to the extent), got 701×88×32 \
                    (array shape [32, 88, 701] in ZYX order)"),
                "attempts": 2}),
            json!({"chunk_key": key(0, 0, 1), "x": 0, "y": 0, "z": 1, "t": 0, "file": "",
                "error": format!("chunk x0 y0 z1 (voxels x [0, 700), y [0, 512), z [32, 37)): \
                    the array {class} returned cannot be uploaded: expected uint16 voxels (the \
                    channel's datatype), got uint8"),
                "attempts": 2}),
        ]
    );
    // Nothing is lost: both messages come back to the queue, and the other two chunks are
    // stored exactly (their 8 cuboids only).
    let status = wait_for_visible_messages(&sim, job, 2).await;
    assert_eq!(status["current_message_count"], 2, "{status}");
    let stats = sim.stats(job).await;
    assert_eq!(stats["state"], "UPLOADING", "{stats}");
    assert_eq!(stats["cuboids_stored"], CUBOIDS - 8, "{stats}");
    let chunk = crate::support::job::cutout(&sim, "ch16", (0, 700), (0, 512), (0, 32)).await;
    let want: Vec<u8> = (0..32u64)
        .flat_map(|z| (0..512u64).flat_map(move |y| (0..700u64).map(move |x| (x, y, z))))
        .flat_map(|(x, y, z)| (value(Dtype::U16, x, y, z) as u16).to_le_bytes())
        .collect();
    assert!(chunk == want, "chunk (0, 0, 0) differs from the pattern");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_runs_the_chunk_processor_on_every_chunk_and_names_each_problem() {
    let dir = temp_dir();
    let check = |params: Value| {
        let config = write_config(
            dir.path(),
            &pattern_config_for_host("127.0.0.1:9", "ch16", EXTENT, CHUNK, params),
        );
        Cmd::boss_ingest()
            .arg("check")
            .arg(config)
            .args(["--dtype", "uint16", "-p", "2"])
    };
    let out = run(check(json!({"dtype": "uint16", "order": "XYZT"}))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout.contains("Checked 4 of 4 chunks in "),
        "{}",
        out.both()
    );
    assert!(
        out.stdout
            .ends_with("Result: 4 good chunks, 0 bad chunks.\n"),
        "{}",
        out.both()
    );

    let out = run(check(
        json!({"dtype": "uint16", "wrong_shape_at": [0, 1, 0],
        "wrong_dtype_at": [0, 0, 1], "missing_at": [0, 1, 1]}),
    ))
    .await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    let class = "testing::TestPatternChunkProcessor";
    for line in [
        format!(
            "  chunk x=0 y=1 z=0 t=0: wrong size: chunk x0 y1 z0 (voxels x [0, 700), y [512, \
                 600), z [0, 32)): the array {class} returned cannot be uploaded: expected a \
                 shape of at most 700×88×32"
        ),
        format!(
            "  chunk x=0 y=0 z=1 t=0: dtype mismatch: chunk x0 y0 z1 (voxels x [0, 700), y \
                 [0, 512), z [32, 37)): the array {class} returned cannot be uploaded: expected \
                 uint16 voxels (the channel's datatype), got uint8"
        ),
        "  chunk x=0 y=1 z=1 t=0: missing file: chunk x0 y1 z1 (voxels x [0, 700), y [512, 600), \
         z [32, 37)): : no such chunk x0 y1 z1 (TestPatternChunkProcessor missing_at)"
            .to_string(),
    ] {
        assert!(
            out.stdout.contains(&line),
            "missing {line:?} in\n{}",
            out.both()
        );
    }
    assert!(
        out.stdout
            .ends_with("Result: 1 good chunks, 3 bad chunks.\n"),
        "{}",
        out.both()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_compares_every_chunk_with_its_cutout() {
    let sim = SimHandle::start(SimOptions::default());
    let job = ingest_and_compare(&sim, "ch16", Dtype::U16, json!({"dtype": "uint16"})).await;
    let dir = temp_dir();
    let verify = |params: Value| {
        let config = write_config(
            dir.path(),
            &pattern_config(&sim, "ch16", EXTENT, CHUNK, params),
        );
        Cmd::boss_ingest()
            .env("INTERN_TOKEN", &sim.token)
            .arg("verify")
            .arg(config)
            .args(["-j", &job.to_string()])
    };
    let out = run(verify(json!({"dtype": "uint16"}))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout
            .contains("All 4 chunks are identical to the source."),
        "{}",
        out.both()
    );
    // A source that is one more everywhere differs in every voxel of every chunk.
    let out = run(verify(json!({"dtype": "uint16", "plus": 1}))).await;
    assert_eq!(out.code, Some(1), "{}", out.both());
    for line in [
        "chunk x0 y0 z0 (voxels x [0, 700), y [0, 512), z [0, 32)): 11468800 of 11468800 voxels differ",
        "chunk x0 y1 z1 (voxels x [0, 700), y [512, 600), z [32, 37)): 308000 of 308000 voxels differ",
        "4 of 4 chunks differ from the source.",
    ] {
        assert!(out.stdout.contains(line), "missing {line:?} in\n{}", out.both());
    }
}
