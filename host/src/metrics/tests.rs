use super::*;
use crate::engine::stats::InFlight;

/// A tile run with one of everything: 3 tiles uploaded (one redelivered, one black), a processor
/// failure retried, two upload failures (one retried, one quarantined), a delete that failed, two
/// key renewals, 40 messages left in the queue, one tile in flight, and a few timings.
fn busy_tile_run() -> (Run, InFlight) {
    let stats = Arc::new(Stats::default());
    stats.uploaded(100, false, false);
    stats.uploaded(200, true, false);
    stats.uploaded(300, false, true);
    stats.failed_attempt(FailureClass::Processor, true);
    stats.failed_attempt(FailureClass::Upload, true);
    stats.failed_attempt(FailureClass::Upload, false);
    stats.quarantined();
    stats.delete_failed();
    for ms in [3, 20, 2000] {
        stats.plugin_time(Duration::from_millis(ms));
    }
    for ms in [7, 7, 90_000] {
        stats.upload_time(Duration::from_millis(ms));
    }
    let renewals = Renewals::default();
    renewals.renewed();
    renewals.renewed();
    let job_wide = Arc::new(JobWide::default());
    job_wide.seen(40);
    let in_flight = InFlight::start(stats.clone());
    let run = Run {
        job_id: 7,
        unit: Unit::Tiles,
        stats,
        renewals,
        job_wide,
    };
    (run, in_flight)
}

#[test]
fn a_tile_run_is_encoded_as_prometheus_text() {
    let (run, _in_flight) = busy_tile_run();
    let want = r#"# HELP boss_ingest_tiles_uploaded_total Tiles stored, indexed and deleted from the upload queue
# TYPE boss_ingest_tiles_uploaded_total counter
boss_ingest_tiles_uploaded_total{job_id="7"} 3
# HELP boss_ingest_bytes_uploaded_total Bytes of the uploaded tiles
# TYPE boss_ingest_bytes_uploaded_total counter
boss_ingest_bytes_uploaded_total{job_id="7"} 600
# HELP boss_ingest_duplicates_total Uploaded tiles whose message had been received before (stored twice at most)
# TYPE boss_ingest_duplicates_total counter
boss_ingest_duplicates_total{job_id="7"} 1
# HELP boss_ingest_failures_total Failed attempts, by where they failed (class: processor, upload, index)
# TYPE boss_ingest_failures_total counter
boss_ingest_failures_total{job_id="7",class="processor"} 1
boss_ingest_failures_total{job_id="7",class="upload"} 2
boss_ingest_failures_total{job_id="7",class="index"} 0
# HELP boss_ingest_retries_total Failed attempts left on the upload queue for another delivery
# TYPE boss_ingest_retries_total counter
boss_ingest_retries_total{job_id="7"} 2
# HELP boss_ingest_quarantined_total Tiles given up on and written to the failure report
# TYPE boss_ingest_quarantined_total counter
boss_ingest_quarantined_total{job_id="7"} 1
# HELP boss_ingest_black_tiles_total Tiles the processor replaced by black
# TYPE boss_ingest_black_tiles_total counter
boss_ingest_black_tiles_total{job_id="7"} 1
# HELP boss_ingest_delete_failures_total Stored tiles whose upload message could not be deleted (uploaded again)
# TYPE boss_ingest_delete_failures_total counter
boss_ingest_delete_failures_total{job_id="7"} 1
# HELP boss_ingest_credential_renewals_total Times the job's AWS keys were renewed by re-joining the job
# TYPE boss_ingest_credential_renewals_total counter
boss_ingest_credential_renewals_total{job_id="7"} 2
# HELP boss_ingest_in_flight Tiles received and not yet deleted from the upload queue
# TYPE boss_ingest_in_flight gauge
boss_ingest_in_flight{job_id="7"} 1
# HELP boss_ingest_queue_depth Messages in the job's upload queue (all clients) at the last status reading
# TYPE boss_ingest_queue_depth gauge
boss_ingest_queue_depth{job_id="7"} 40
# HELP boss_ingest_plugin_seconds Time of the plugin stage per tile: processor call and encoding
# TYPE boss_ingest_plugin_seconds histogram
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.005"} 1
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.01"} 1
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.025"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.05"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.1"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.25"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="0.5"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="1"} 2
boss_ingest_plugin_seconds_bucket{job_id="7",le="2.5"} 3
boss_ingest_plugin_seconds_bucket{job_id="7",le="5"} 3
boss_ingest_plugin_seconds_bucket{job_id="7",le="10"} 3
boss_ingest_plugin_seconds_bucket{job_id="7",le="30"} 3
boss_ingest_plugin_seconds_bucket{job_id="7",le="60"} 3
boss_ingest_plugin_seconds_bucket{job_id="7",le="+Inf"} 3
boss_ingest_plugin_seconds_sum{job_id="7"} 2.023
boss_ingest_plugin_seconds_count{job_id="7"} 3
# HELP boss_ingest_upload_seconds Time of one S3 PutObject, from the first try to success or failure
# TYPE boss_ingest_upload_seconds histogram
boss_ingest_upload_seconds_bucket{job_id="7",le="0.005"} 0
boss_ingest_upload_seconds_bucket{job_id="7",le="0.01"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="0.025"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="0.05"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="0.1"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="0.25"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="0.5"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="1"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="2.5"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="5"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="10"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="30"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="60"} 2
boss_ingest_upload_seconds_bucket{job_id="7",le="+Inf"} 3
boss_ingest_upload_seconds_sum{job_id="7"} 90.014
boss_ingest_upload_seconds_count{job_id="7"} 3
"#;
    assert_eq!(encode(&registry(run)), want);
}

#[test]
fn the_metrics_are_the_numbers_of_the_summary() {
    let (run, _in_flight) = busy_tile_run();
    let s = run.stats.snapshot();
    let text = encode(&registry(run));
    let value = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert_eq!(
        value(r#"boss_ingest_tiles_uploaded_total{job_id="7"}"#),
        s.uploaded
    );
    assert_eq!(
        value(r#"boss_ingest_bytes_uploaded_total{job_id="7"}"#),
        s.bytes
    );
    let failures: u64 = ["processor", "upload", "index"]
        .iter()
        .map(|c| {
            value(&format!(
                r#"boss_ingest_failures_total{{job_id="7",class="{c}"}}"#
            ))
        })
        .sum();
    assert_eq!(failures, s.failed_attempts);
    assert_eq!(
        value(r#"boss_ingest_quarantined_total{job_id="7"}"#),
        s.quarantined
    );
}

#[test]
fn a_chunk_run_names_chunks_and_cuboids_and_omits_an_unseen_queue() {
    let stats = Arc::new(Stats::default());
    stats.uploaded(4096, false, true);
    stats.cuboids(2);
    let run = Run {
        job_id: 12,
        unit: Unit::Chunks,
        stats,
        renewals: Renewals::default(),
        job_wide: Arc::new(JobWide::default()),
    };
    let text = encode(&registry(run));
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_seconds_"))
        .collect();
    assert_eq!(
        samples,
        [
            r#"boss_ingest_chunks_uploaded_total{job_id="12"} 1"#,
            r#"boss_ingest_cuboids_uploaded_total{job_id="12"} 2"#,
            r#"boss_ingest_bytes_uploaded_total{job_id="12"} 4096"#,
            r#"boss_ingest_duplicates_total{job_id="12"} 0"#,
            r#"boss_ingest_failures_total{job_id="12",class="processor"} 0"#,
            r#"boss_ingest_failures_total{job_id="12",class="upload"} 0"#,
            r#"boss_ingest_failures_total{job_id="12",class="index"} 0"#,
            r#"boss_ingest_retries_total{job_id="12"} 0"#,
            r#"boss_ingest_quarantined_total{job_id="12"} 0"#,
            r#"boss_ingest_zero_filled_chunks_total{job_id="12"} 1"#,
            r#"boss_ingest_delete_failures_total{job_id="12"} 0"#,
            r#"boss_ingest_credential_renewals_total{job_id="12"} 0"#,
            r#"boss_ingest_in_flight{job_id="12"} 0"#,
        ]
    );
}

#[test]
fn addresses_print_as_they_bind() {
    for (given, shown) in [
        ("9100", "127.0.0.1:9100"),
        (":0", "127.0.0.1:0"),
        ("10.0.0.5:9100", "10.0.0.5:9100"),
        ("[::]:9100", "[::]:9100"),
    ] {
        assert_eq!(MetricsAddr::parse(given).unwrap().to_string(), shown);
    }
    assert_eq!(
        MetricsAddr::parse("").unwrap_err(),
        r#""" has no port: write HOST:PORT (e.g. 127.0.0.1:9100), or :PORT for 127.0.0.1:PORT"#
    );
    assert_eq!(
        MetricsAddr::parse(":x").unwrap_err(),
        r#"port "x" is not a number from 0 to 65535"#
    );
}

/// One plain HTTP/1.0 request to the endpoint; the whole answer.
async fn get(addr: SocketAddr, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn the_endpoint_serves_nothing_until_the_run_then_its_metrics() {
    let metrics = Metrics::serve(&MetricsAddr::parse(":0").unwrap())
        .await
        .unwrap();
    let addr = metrics.local_addr();
    assert!(addr.ip().is_loopback(), "{addr}");
    let empty = get(addr, PATH).await;
    assert!(empty.starts_with("HTTP/1.0 200 OK\r\n"), "{empty}");
    assert!(
        empty.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{empty}"
    );
    assert!(empty.ends_with("\r\n\r\n"), "{empty}");

    let (run, _in_flight) = busy_tile_run();
    let want = encode(&registry(run.clone()));
    metrics.observe(run);
    let full = get(addr, PATH).await;
    assert_eq!(
        full.split_once("\r\n\r\n").map(|(_, body)| body),
        Some(&*want)
    );

    let other = get(addr, "/").await;
    assert!(other.starts_with("HTTP/1.0 404 Not Found\r\n"), "{other}");
    assert!(
        other.ends_with("\r\n\r\nnot found: the metrics are at /metrics\n"),
        "{other}"
    );
}

#[tokio::test]
async fn an_address_in_use_names_itself_and_the_os_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let os = std::net::TcpListener::bind(("127.0.0.1", port))
        .unwrap_err()
        .to_string();
    let err = Metrics::serve(&MetricsAddr::parse(&port.to_string()).unwrap())
        .await
        .err()
        .expect("the port is taken");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot serve metrics on 127.0.0.1:{port}: {os}; pass a free port of this machine \
             to --metrics-addr"
        )
    );
}
