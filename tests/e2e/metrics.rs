//! `--metrics-addr`: Prometheus scrapes of a running job show the numbers its summary then prints,
//! and an address that cannot be bound stops the command before a job exists.
//!
//! The client prints the address it bound ("Serving metrics at http://...") and is given port 0,
//! so no port is guessed. The test scrapes until this client's counters reach the job's total and
//! the queue depth it last read is 0; the simulator's WAIT_ON_QUEUES (3 s here) keeps the client
//! in the complete procedure long enough for that scrape, with every counter already final.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::ingest::{png_stack, TILES, Z};
use crate::support::boss::stack_config;
use crate::support::cmd::temp_dir;
use crate::support::job::{assert_complete, ingest, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};

/// One scrape: each sample's value by its series (`name{labels}`).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {l:?}"));
            let value = value
                .parse()
                .unwrap_or_else(|_| panic!("not a sample value: {l:?}"));
            (series.to_string(), value)
        })
        .collect()
}

/// The value of `name` for job `job` (with more labels, if any, after the job's).
fn value(scrape: &BTreeMap<String, f64>, job: u64, name: &str, more: &str) -> f64 {
    let series = format!("{name}{{job_id=\"{job}\"{more}}}");
    *scrape
        .get(&series)
        .unwrap_or_else(|| panic!("no {series} in {scrape:#?}"))
}

/// The numbers of "Uploaded N tiles (X MB) in T s; D duplicates, Q quarantined, B black tiles,
/// F failed attempts retried.": N, X (as printed), D, Q, B, F.
fn summary(stdout: &str) -> (u64, String, u64, u64, u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Uploaded "))
        .unwrap_or_else(|| panic!("no summary in\n{stdout}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| -> u64 {
        words[i]
            .parse()
            .unwrap_or_else(|_| panic!("word {i} of {line:?} is not a count"))
    };
    let mb = words[3].trim_start_matches('(').to_string();
    (n(1), mb, n(8), n(10), n(12), n(15))
}

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_during_a_job_show_the_numbers_of_its_summary() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 3.0,
        ..SimOptions::default()
    });
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let mut client = ingest(&sim, &config)
        // Read the job status often, so that the queue depth of the end is seen before exit.
        .env("BOSS_INGEST_PROGRESS_SECS", "0.2")
        .args(["--metrics-addr", "127.0.0.1:0"])
        .spawn();
    let url = client.line_with("Serving metrics at ").await;
    let url = url.trim_start_matches("Serving metrics at ").to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/metrics"),
        "{url}"
    );

    let http = reqwest::Client::new();
    let mut scrapes = 0;
    let (job, last) = loop {
        assert!(
            client.is_running(),
            "the client ended before a scrape saw all {TILES} tiles ({scrapes} scrapes)"
        );
        let reply = http.get(&url).send().await.expect("scrape");
        assert_eq!(reply.status().as_u16(), 200);
        assert_eq!(
            reply.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let scrape = samples(&reply.text().await.expect("scrape body"));
        scrapes += 1;
        // Empty until the job is joined; then every series names the job.
        let job = scrape.keys().next().map(|series| {
            series
                .split("job_id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .and_then(|id| id.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{series} has no job_id"))
        });
        if let Some(job) = job {
            let uploaded = value(&scrape, job, "boss_ingest_tiles_uploaded_total", "");
            let depth = scrape.get(&format!("boss_ingest_queue_depth{{job_id=\"{job}\"}}"));
            if uploaded == TILES as f64 && depth == Some(&0.0) {
                break (job, scrape);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = client.finish().await;
    let completed = assert_complete(&out, &format!("Uploaded {TILES} tiles"));
    assert_eq!(
        completed,
        job,
        "the scrapes named another job\n{}",
        out.both()
    );
    let stdout = out.stdout;

    let (uploaded, mb, duplicates, quarantined, black, failed) = summary(&stdout);
    let v = |name: &str| value(&last, job, name, "");
    assert_eq!(uploaded, TILES, "{stdout}");
    assert_eq!(v("boss_ingest_tiles_uploaded_total"), uploaded as f64);
    assert_eq!(
        format!("{:.1}", v("boss_ingest_bytes_uploaded_total") / 1e6),
        mb,
        "{stdout}"
    );
    assert_eq!(v("boss_ingest_duplicates_total"), duplicates as f64);
    assert_eq!(v("boss_ingest_quarantined_total"), quarantined as f64);
    assert_eq!(v("boss_ingest_black_tiles_total"), black as f64);
    let failures: f64 = ["processor", "upload", "index"]
        .iter()
        .map(|class| {
            value(
                &last,
                job,
                "boss_ingest_failures_total",
                &format!(",class=\"{class}\""),
            )
        })
        .sum();
    assert_eq!(failures, failed as f64);
    assert_eq!((duplicates, quarantined, black, failed), (0, 0, 0, 0));
    assert_eq!(v("boss_ingest_retries_total"), 0.0);
    assert_eq!(v("boss_ingest_delete_failures_total"), 0.0);
    assert_eq!(v("boss_ingest_credential_renewals_total"), 0.0);
    assert_eq!(v("boss_ingest_in_flight"), 0.0);
    // One plugin call and one PutObject per tile, none failed.
    assert_eq!(v("boss_ingest_plugin_seconds_count"), TILES as f64);
    assert_eq!(v("boss_ingest_upload_seconds_count"), TILES as f64);
    // The simulator stored exactly what the client counted.
    assert_eq!(sim.stats(job).await["tiles_stored"], uploaded);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_address_in_use_exits_2_before_a_job_is_created() {
    let dir = temp_dir();
    let stack = png_stack(dir.path());
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &stack_config(&sim.host(), &stack, "ch", Z));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener to occupy a port");
    let port = taken.local_addr().unwrap().port();
    // The operating system's own words for the port in use.
    let os = std::net::TcpListener::bind(("127.0.0.1", port))
        .expect_err("the port is taken")
        .to_string();
    let out =
        run(ingest(&sim, &config).args(["--metrics-addr", &format!("127.0.0.1:{port}")])).await;
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert_eq!(
        out.stderr,
        format!(
            "error: cannot serve metrics on 127.0.0.1:{port}: {os}; pass a free port of this \
             machine to --metrics-addr\n"
        ),
        "{}",
        out.both()
    );
    assert_eq!(out.stdout, "", "{}", out.both());
    let created = sim.stats(1).await;
    assert!(
        created.get("state").is_none(),
        "a job was created: {created}"
    );
    drop(taken);
}
