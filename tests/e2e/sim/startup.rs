//! Starting and stopping boss-sim, and the command-line mistakes it must explain.

use crate::support::sim::{Backend, SimHandle, SimOptions, TOKEN};
use std::net::TcpListener;

#[test]
fn announces_endpoints_and_stops_its_moto_on_shutdown() {
    let sim = SimHandle::start(SimOptions::on(Backend::Moto));
    assert!(sim.api.starts_with("http://127.0.0.1:"), "{}", sim.api);
    assert!(sim.aws.starts_with("http://127.0.0.1:"), "{}", sim.aws);
    assert_ne!(sim.api, sim.aws);
    assert_eq!(sim.token, TOKEN);
    let moto_port = sim.moto_port();
    assert!(std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_ok());
    let status = sim.stop();
    assert!(status.success(), "clean shutdown exits 0, got {status}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err(),
        "moto on port {moto_port} must be stopped with the simulator"
    );
}

#[test]
fn a_killed_simulator_takes_its_moto_with_it() {
    let sim = SimHandle::start(SimOptions::on(Backend::Moto));
    let moto_port = sim.moto_port();
    sim.kill_hard();
    // The kernel delivers the parent-death signal asynchronously; wait for the port to close.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", moto_port)).is_err() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("moto on port {moto_port} outlived a SIGKILLed boss-sim");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let options = SimOptions {
        port,
        ..SimOptions::default()
    };
    let log = SimHandle::try_start(options).err().expect("must not start");
    assert!(
        log.contains(&format!(
            "boss-sim: error: cannot listen on 127.0.0.1:{port} for the REST API"
        )),
        "{log}"
    );
    assert!(log.contains("use --port 0 for a free port"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn resources_file_errors_name_the_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resources.json");
    std::fs::write(
        &path,
        "{\"tokens\": {\"t\": \"u\"},\n \"channels\": [{\"collection\": \"c\", \"collection_id\": 1,\n  \"experiment\": \"e\", \"experiment_id\": 2,\n  \"channel\": \"h\", \"channel_id\": 3, \"base_resolution\": 0}]}\n",
    )
    .unwrap();
    let options = SimOptions {
        resources: Some(path.clone()),
        ..SimOptions::default()
    };
    let log = SimHandle::try_start(options).err().expect("must not start");
    assert!(
        log.contains(&format!(
            "boss-sim: error: resources file {}: missing field `datatype` at line 4",
            path.display()
        )),
        "{log}"
    );
}

#[test]
fn resources_file_with_a_custom_channel_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resources.json");
    std::fs::write(
        &path,
        r#"{"tokens": {"tok-1": "carol"}, "channels": [{"collection": "c1", "collection_id": 1, "experiment": "e1", "experiment_id": 2, "channel": "h1", "channel_id": 3, "datatype": "uint16", "base_resolution": 0}]}"#,
    )
    .unwrap();
    let sim = SimHandle::start(SimOptions {
        resources: Some(path),
        ..SimOptions::default()
    });
    assert_eq!(sim.token, "tok-1");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_already_running_moto_is_used_and_left_running() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Killed on drop, so a failing assertion does not leave it running.
    struct Moto(std::process::Child);
    impl Drop for Moto {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let moto = Moto(
        std::process::Command::new(crate::support::sim::moto_command())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto"),
    );
    let url = format!("http://127.0.0.1:{port}");
    let sim = SimHandle::start(SimOptions {
        aws_backend: Some(url.clone()),
        ..SimOptions::default()
    });
    let api = super::Api::new(&sim);
    let id = api
        .create_ok(&super::tile_config(
            &sim,
            "ch",
            [0, 512],
            [0, 512],
            [0, 1],
            512,
        ))
        .await;
    assert_eq!(api.moto_url().await, url);
    let queues = super::moto_sqs(&url)
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    assert!(
        queues.iter().any(|q| q.ends_with(&format!("-{id}-upload"))),
        "{queues:?}"
    );
    assert!(sim.stop().success());
    let still_running = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    drop(moto);
    assert!(
        still_running,
        "a moto the simulator did not start is not its to stop"
    );
}

#[test]
fn a_missing_moto_is_a_clear_error() {
    let options = SimOptions {
        moto_command: Some("/nonexistent/moto_server".into()),
        ..SimOptions::default()
    };
    let log = SimHandle::try_start(options).err().expect("must not start");
    assert!(
        log.contains("boss-sim: error: cannot start moto server \"/nonexistent/moto_server\": No such file or directory"),
        "{log}"
    );
    assert!(log.contains("scripts/install-tools moto"), "{log}");
}

#[test]
fn a_bad_fault_spec_is_a_clear_error() {
    let options = SimOptions {
        faults: Some("s3.put:503:2".into()),
        ..SimOptions::default()
    };
    let log = SimHandle::try_start(options).err().expect("must not start");
    assert!(
        log.contains(
            "boss-sim: error: --faults: fault rule \"s3.put:503:2\": probability \"2\" is not a number between 0 and 1"
        ),
        "{log}"
    );
}

/// The temporary directory the embedded backend keeps its S3 objects in, from the log.
fn embedded_s3_dir(sim: &SimHandle) -> std::path::PathBuf {
    let log = sim.log();
    let dir = log
        .split("embedded AWS backend (S3 objects in ")
        .nth(1)
        .and_then(|rest| rest.split(") listening on").next())
        .unwrap_or_else(|| panic!("the log names the S3 directory:\n{log}"));
    std::path::PathBuf::from(dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_backend_keeps_objects_in_a_temporary_directory_removed_at_exit() {
    let sim = SimHandle::start(SimOptions::on(Backend::Embedded));
    let s3_dir = embedded_s3_dir(&sim);
    // The simulator's two buckets are directories of the S3 store.
    for bucket in ["tiles.boss-sim.local", "ingest.boss-sim.local"] {
        assert!(s3_dir.join(bucket).is_dir(), "{}", s3_dir.display());
    }
    let backend = super::Api::new(&sim).moto_url().await;
    assert_ne!(
        backend, sim.aws,
        "the backend listens apart from the front door"
    );
    assert!(sim.stop().success());
    assert!(
        !s3_dir.exists(),
        "{} must be removed when the simulator stops",
        s3_dir.display()
    );
}

#[test]
fn the_embedded_backend_keeps_objects_under_the_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let sim = SimHandle::start(SimOptions {
        data_dir: Some(data.path().to_path_buf()),
        ..SimOptions::on(Backend::Embedded)
    });
    assert_eq!(embedded_s3_dir(&sim), data.path().join("s3"));
    assert!(sim.stop().success());
    // A directory the caller chose is the caller's: it stays, with the buckets.
    assert!(data.path().join("s3/tiles.boss-sim.local").is_dir());
}
