//! Proof of fidelity: the Python reference client (`boss-ingest` 0.12.0), unchanged, completes a
//! job against boss-sim and the cutout equals the source stack voxel for voxel. If it cannot,
//! the simulator is wrong. It runs on moto (the reference S3/SQS) and on the embedded backend
//! (boto3 1.34 speaks the SQS query protocol, which the embedded SQS must serve as moto does).
//! The client sleeps 10 s whenever the queue looks empty, so the stack is small.

use super::Api;
use crate::support::data::{Dtype, Format, Stack};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `BOSS_SIM_PYTHON_CLIENT` (scripts/test exports it), else installed once per machine.
fn python_client() -> String {
    if let Ok(path) = std::env::var("BOSS_SIM_PYTHON_CLIENT") {
        return path;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let out = Command::new(root.join("scripts/install-tools"))
        .arg("python-client")
        .stderr(Stdio::inherit())
        .output()
        .expect("running scripts/install-tools python-client");
    assert!(
        out.status.success(),
        "scripts/install-tools python-client failed"
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_python_reference_client_completes_a_job_on_moto() {
    python_client_completes_a_job(Backend::Moto);
}

#[test]
fn the_python_reference_client_completes_a_job_on_the_embedded_backend() {
    python_client_completes_a_job(Backend::Embedded);
}

fn python_client_completes_a_job(backend: Backend) {
    let client = python_client();
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 1.0,
        ..SimOptions::on(backend)
    });
    let dir = tempfile::tempdir().unwrap();
    // 18 slices: one full chunk of 16 and a partial one of 2.
    let stack = Stack::write(
        &dir.path().join("stack"),
        "slice_",
        Format::Png,
        Dtype::U8,
        (512, 512),
        0..18,
    );
    let config = json!({
        "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
        "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
            "path_processor": {"class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
                "params": {"root_dir": stack.dir, "extension": "png", "base_filename": "slice_<>"}},
            "tile_processor": {"class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
                "params": {"filesystem": "local", "extension": "png"}}
        },
        "database": {"collection": "col", "experiment": "exp", "channel": "ch"},
        "ingest_job": {"resolution": 0, "extent": {"x": [0, 512], "y": [0, 512], "z": [0, 18], "t": [0, 1]},
            "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}}
    });
    let config_path = dir.path().join("config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let log_path = dir.path().join("python-client.log");
    let mut child = Command::new(&client)
        .args(["-f", "-p", "1"])
        .arg(&config_path)
        .env("INTERN_TOKEN", &sim.token)
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("HOME", &home)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log_path).unwrap())
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("python-client.err")).unwrap(),
        ))
        .spawn()
        .expect("start the Python client");
    let deadline = Instant::now() + Duration::from_secs(400);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "the Python client did not finish:\n{}\n{}",
                std::fs::read_to_string(&log_path).unwrap_or_default(),
                sim.log()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = std::fs::read_to_string(&log_path).unwrap_or_default();
    let errors = std::fs::read_to_string(dir.path().join("python-client.err")).unwrap_or_default();
    assert!(
        status.success(),
        "Python client failed ({status}):\n{output}\n{errors}\n{}",
        sim.log()
    );
    assert!(output.contains("Cleanup Done"), "{output}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let stats = sim.stats(1).await;
        assert_eq!(stats["state"], "COMPLETE", "{stats}");
        assert_eq!(stats["tiles_stored"], json!(18), "{stats}");
        assert_eq!(stats["tiles_missing_metadata"], json!(0), "{stats}");
        assert_eq!(stats["chunks_assembled"], json!(2), "{stats}");
        // boto3 1.34 speaks the SQS query protocol; the front door saw its real operations.
        assert_eq!(stats["aws_requests"]["s3.PutObject"], json!(18), "{stats}");
        assert_eq!(
            stats["aws_requests"]["sqs.SendMessage"],
            json!(18),
            "{stats}"
        );
        let api = Api::new(&sim);
        let (x, y, z) = ((0, 512), (0, 512), (0, 18));
        assert!(
            api.cutout_raw("ch", x, y, z).await == stack.expected_box(x, y, z),
            "cutout differs from the source stack"
        );
    });
}
