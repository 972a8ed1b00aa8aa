//! The host services plugins read their sources through, against real servers: `http(s)://`
//! against a local HTTP server (ranges, sizes, headers, 404/403 named, a 503 that recovers), and
//! `s3://` end to end: a stack job whose slices live in a bucket of a real local S3 (moto), read
//! with the user's own credentials while the job's uploads go to `boss-sim`.

use std::sync::Arc;
use std::time::Duration;

use boss_ingest::plugins::services::Services;
use boss_ingest::sources::http::{HttpSource, Retry};
use plugin_abi::{ErrorKind, HostApi, HostServices, PluginError};
use serde_json::json;

use crate::support::boss::tile_config;
use crate::support::cmd::temp_dir;
use crate::support::data::{Dtype, Format, Stack};
use crate::support::http::{HttpServer, Script};
use crate::support::job::{cutout, ingest, job_id, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};

fn served() -> (tempfile::TempDir, HttpServer) {
    let dir = temp_dir();
    let body: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    std::fs::write(dir.path().join("data.bin"), &body).unwrap();
    std::fs::write(dir.path().join("flaky.bin"), &body).unwrap();
    let server = HttpServer::start(dir.path());
    (dir, server)
}

#[test]
fn http_reads_ranges_sizes_and_names_what_fails() {
    let (_dir, server) = served();
    let host = Services::new("test", "Reader", None);
    let url = format!("{}/data.bin", server.url);
    let body: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    assert_eq!(host.read(&url).unwrap(), body);
    assert_eq!(host.read_range(&url, 250, 10).unwrap(), &body[250..260]);
    assert_eq!(host.read_range(&url, 995, 10).unwrap(), &body[995..]);
    assert_eq!(host.read_range(&url, 2000, 10).unwrap(), Vec::<u8>::new());
    assert_eq!(
        server.last_header("/data.bin", "range").as_deref(),
        Some("bytes=2000-2009")
    );
    assert_eq!(host.size(&url).unwrap(), 1000);

    let missing = format!("{}/missing.png", server.url);
    assert_eq!(
        host.read(&missing).unwrap_err(),
        PluginError::not_found(format!("{missing}: HTTP 404 Not Found"))
    );
    server.script("/secret.png", Script::Status(403));
    let secret = format!("{}/secret.png", server.url);
    assert_eq!(
        host.read(&secret).unwrap_err(),
        PluginError::denied(format!(
            "{secret}: HTTP 403 Forbidden; the server refuses to send it"
        ))
    );
    assert_eq!(server.requests("/secret.png"), 1, "a 403 is not retried");

    // Two 503s, then the file: one successful read, three requests.
    server.script("/flaky.bin", Script::FailFirst { status: 503, n: 2 });
    assert_eq!(
        host.read(&format!("{}/flaky.bin", server.url)).unwrap(),
        body
    );
    assert_eq!(server.requests("/flaky.bin"), 3);
}

#[test]
fn http_get_sends_the_plugins_headers_through_the_abi() {
    let (_dir, server) = served();
    // Through HostServices, as a plugin (built in or loaded) calls it.
    let host = HostServices::new(Arc::new(Services::new("test", "Reader", None)));
    let url = format!("{}/data.bin", server.url);
    let body = host
        .http_get(&url, &[("Authorization", "Token abc123")])
        .unwrap();
    assert_eq!(body.len(), 1000);
    assert_eq!(
        server.last_header("/data.bin", "authorization").as_deref(),
        Some("Token abc123")
    );
    let err = host.http_get("s3://bucket/key", &[]).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::Params,
            "s3://bucket/key: not an http:// or https:// URL"
        )
    );
}

#[tokio::test]
async fn http_gives_up_after_its_attempts_naming_the_last_status() {
    let (_dir, server) = served();
    server.script("/down", Script::Status(500));
    let source = HttpSource::new(Retry {
        attempts: 3,
        first_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_millis(20),
    })
    .unwrap();
    let url = format!("{}/down", server.url);
    assert_eq!(
        source.get(&url, &[]).await.unwrap_err(),
        PluginError::io(format!(
            "{url}: HTTP 500 Internal Server Error (gave up after 3 attempts)"
        ))
    );
    assert_eq!(server.requests("/down"), 3);
    // A closed port: connection errors are retried too, and named.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/x", listener.local_addr().unwrap())
    };
    let err = source.get(&closed, &[]).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Io);
    assert!(
        err.message.starts_with(&format!("{closed}: "))
            && err.message.ends_with("(gave up after 3 attempts)"),
        "{}",
        err.message
    );
}

/// A moto_server on a free 127.0.0.1 port, killed (by its pid) when dropped.
struct Moto {
    child: std::process::Child,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(crate::support::sim::moto_command())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start moto_server");
        let moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stack_slices_in_s3_are_read_with_the_users_own_credentials() {
    let dir = temp_dir();
    let stack = Stack::write(
        &dir.path().join("stack"),
        "slice",
        Format::Png,
        Dtype::U8,
        (700, 600),
        0..3,
    );
    let sim = SimHandle::start(SimOptions::default());
    // The lab's bucket lives on the S3 behind the simulator, reached directly (not through the
    // simulator's front door, which only accepts the job's keys).
    // The lab's bucket lives on an S3 of its own (a moto of this test), not on the simulator's
    // backend: the job's uploads and the sources are separate places with separate keys.
    let moto = Moto::start();
    let lab_s3 = moto.url.clone();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "lab-user",
                "lab-secret",
                None,
                None,
                "test",
            ))
            .endpoint_url(&lab_s3)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket("lab-data").send().await.unwrap();
    for z in 0..3 {
        let bytes = std::fs::read(stack.slice_path(z)).unwrap();
        s3.put_object()
            .bucket("lab-data")
            .key(format!("stacks/slice{z}.png"))
            .body(bytes.into())
            .send()
            .await
            .unwrap();
    }
    let processors = (
        json!({"class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
               "params": {"root_dir": "stacks", "extension": "png", "base_filename": "slice<>"}}),
        json!({"class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
               "params": {"filesystem": "s3", "bucket": "lab-data", "extension": "png"}}),
    );
    let config = tile_config(&sim, "ch", processors, (700, 600, (0, 3)));
    let user = |cmd: crate::support::cmd::Cmd| {
        cmd.env("BOSS_INGEST_SOURCE_ENDPOINT_URL", &lab_s3)
            .env("AWS_ACCESS_KEY_ID", "lab-user")
            .env("AWS_SECRET_ACCESS_KEY", "lab-secret")
            .env("AWS_REGION", "us-east-1")
    };
    let out = run(user(ingest(&sim, &write_config(dir.path(), &config)))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    sim.assert_completed_cleanly(job_id(&out)).await;
    let got = cutout(&sim, "ch", (0, 700), (0, 600), (0, 3)).await;
    assert!(
        got == stack.expected_box((0, 700), (0, 600), (0, 3)),
        "the cutout differs from the slices in S3"
    );

    // A slice missing from the bucket is named as such by `check`.
    let mut missing = config.clone();
    missing["ingest_job"]["extent"]["z"] = json!([0, 4]);
    let out = run(user(
        crate::support::cmd::Cmd::boss_ingest()
            .arg("check")
            .arg(write_config(dir.path(), &missing)),
    ))
    .await;
    assert_ne!(out.code, Some(0), "{}", out.both());
    assert!(
        out.both()
            .contains("s3://lab-data/stacks/slice3.png: file not found"),
        "{}",
        out.both()
    );
}
