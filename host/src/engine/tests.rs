//! Whole upload runs of the engine against real S3 and SQS: the simulator's in-process backend
//! (`boss-sim` with `--embedded-aws`, started inside the test), reached through the real AWS SDK
//! and the simulator's front door, which checks keys and counts every request. The join is the
//! client's own (`Backend::join`). What each test asserts is the no-loss invariant from the
//! outside: which requests the simulator saw, and which messages are still on the queue.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use boss_sim::faults::FaultSpec;
use boss_sim::resources::Resources;
use boss_sim::server::{AwsSource, Settings};
use boss_sim::state::{ExpiredKeys, Timing};
use serde_json::{json, Value};
use tokio::sync::{oneshot, Notify};

use super::quarantine::{FailedTile, Quarantine};
use super::*;
use crate::aws::{Endpoints, JobCredentials, RefreshPolicy, Rejoin};
use crate::backend::{Backend, Join, Joined};
use plugin_abi::Dtype;

/// Tiles of the test job: 2 × 1 tiles of 512², 2 slices.
const TILES: u64 = 4;
/// How fast an unfinished message comes back.
const VISIBILITY: Duration = Duration::from_secs(2);

/// A simulator running inside this test process.
struct Sim {
    api: String,
    aws: String,
    token: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

impl Sim {
    async fn start() -> Sim {
        let settings = Settings {
            port: 0,
            aws_port: 0,
            aws: AwsSource::Embedded,
            resources: Resources::builtin(),
            timing: Timing {
                prepare: Duration::ZERO,
                wait_on_queues: Duration::ZERO,
                credential_ttl: None,
                visibility_timeout_secs: VISIBILITY.as_secs() as u32,
                expired_keys: ExpiredKeys::Deleted,
            },
            faults: FaultSpec::default(),
            seed: 7,
            data_dir: None,
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let ready = move |e: &boss_sim::server::Endpoints| {
                let _ = ready_tx.send(e.clone());
            };
            let stop = async move {
                let _ = stop_rx.await;
            };
            if let Err(e) = boss_sim::server::run(settings, ready, stop).await {
                panic!("the simulator did not start: {e}");
            }
        });
        let endpoints = ready_rx
            .await
            .expect("the simulator announces its endpoints");
        Sim {
            api: endpoints.api,
            aws: endpoints.aws,
            token: endpoints.token,
            http: reqwest::Client::new(),
            _stop: stop_tx,
        }
    }

    fn backend(&self) -> Backend {
        Backend::new(&self.api, &self.token).unwrap()
    }

    async fn faults(&self, spec: &str) {
        let r = self
            .http
            .put(format!("{}/sim/faults", self.api))
            .body(spec.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }

    async fn stats(&self, job: u64) -> Value {
        let r = self.http.get(format!("{}/sim/jobs/{job}", self.api));
        r.send().await.unwrap().json().await.unwrap()
    }

    /// Upload-queue messages that are visible (after waiting out the visibility timeout).
    async fn queued(&self, job: u64) -> u64 {
        tokio::time::sleep(VISIBILITY + Duration::from_millis(500)).await;
        let st = self.backend().status(job).await.unwrap();
        st.current_message_count
    }

    /// Creates a job from `ingest_job` on channel `ch` and joins it once it is ready.
    async fn job(&self, ingest_job: Value, client: Value) -> Box<Join> {
        let config = json!({
            "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
            "client": client,
            "database": {"collection": "col", "experiment": "exp", "channel": "ch"},
            "ingest_job": ingest_job,
        });
        let backend = self.backend();
        let created = backend.create(&config).await.unwrap();
        loop {
            match backend.join(created.id).await.unwrap() {
                Joined::Ready(join) => return join,
                Joined::Preparing => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// A tile job of 2 × 1 tiles of 512² per slice, `slices` slices.
    async fn tile_job_of(&self, slices: u64) -> Box<Join> {
        let processor = json!({"class": "x", "params": {}});
        self.job(
            json!({"ingest_type": "tile", "resolution": 0,
                   "extent": {"x": [0, 1024], "y": [0, 512], "z": [0, slices], "t": [0, 1]},
                   "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}}),
            json!({"backend": {"name": "boss", "class": "B", "host": "h", "protocol": "http"},
                   "path_processor": processor, "tile_processor": processor}),
        )
        .await
    }

    async fn tile_job(&self) -> Box<Join> {
        self.tile_job_of(TILES / 2).await
    }

    /// The job's AWS session through the simulator's front door.
    fn session(&self, join: &Join) -> Session {
        let c = join.response.credentials.clone().unwrap();
        let backend = self.backend();
        let id = join.response.ingest_job.id;
        let rejoin: Rejoin = Arc::new(move || {
            let backend = backend.clone();
            Box::pin(async move {
                match backend.join(id).await {
                    Ok(Joined::Ready(j)) => {
                        let c = j.response.credentials.unwrap();
                        Ok(JobCredentials {
                            access_key: c.access_key,
                            secret_key: c.secret_key,
                            session_token: None,
                        })
                    }
                    other => Err(format!("re-join: {other:?}")),
                }
            })
        });
        let endpoints = Endpoints {
            s3: Some(self.aws.clone()),
            sqs: Some(self.aws.clone()),
        };
        let creds = JobCredentials {
            access_key: c.access_key,
            secret_key: c.secret_key,
            session_token: None,
        };
        Session::start(creds, endpoints, RefreshPolicy::default(), rejoin)
    }
}

fn options(max_attempts: u32) -> Options {
    Options {
        workers: 2,
        chunks_in_flight: 2,
        max_attempts,
        receive_wait: Duration::ZERO,
        ramp: Duration::ZERO,
        drain_confirm: Duration::from_millis(200),
        drain_grace: Duration::from_secs(600),
        follow: None,
    }
}

/// A 512² uint8 PNG whose every voxel is `value`.
fn png(value: u8) -> Vec<u8> {
    crate::tile::encode_raw(512, 512, Dtype::U8, vec![value; 512 * 512])
        .unwrap()
        .0
}

/// Tiles that read fine, each named `/src/z{z}x{x}.png`.
fn good_tiles() -> Arc<dyn TileSource> {
    Arc::new(|x: u64, _: u64, z: u64, _: u64| {
        Ok(Produced {
            bytes: png((10 * z + x) as u8 + 1),
            file: Some(format!("/src/z{z}x{x}.png")),
            black: false,
        })
    })
}

async fn upload(
    sim: &Sim,
    join: &Join,
    source: Arc<dyn TileSource>,
    options: Options,
    quarantine: Arc<Quarantine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Outcome {
    let kind = Arc::new(Tiles::from_join(join, (512, 512), source).unwrap());
    let stats = Arc::new(Stats::default());
    run(
        kind,
        sim.session(join),
        options,
        stats,
        quarantine,
        shutdown,
    )
    .await
}

fn report(dir: &tempfile::TempDir) -> Arc<Quarantine> {
    Arc::new(Quarantine::new(dir.path().join("failed.jsonl")))
}

fn count(stats: &Value, op: &str) -> u64 {
    stats["aws_requests"][op].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tile_is_stored_indexed_and_then_deleted() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    let dir = tempfile::tempdir().unwrap();
    let out = upload(
        &sim,
        &join,
        good_tiles(),
        options(3),
        report(&dir),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    assert_eq!(
        (
            out.stats.uploaded,
            out.stats.duplicates,
            out.stats.failed_attempts
        ),
        (TILES, 0, 0)
    );
    // One plugin call and one PutObject per tile, and nothing left in flight.
    assert_eq!(
        (
            out.stats.plugin.count,
            out.stats.upload.count,
            out.stats.in_flight
        ),
        (TILES, TILES, 0)
    );
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), TILES, "{stats}");
    assert_eq!(stats["tiles_stored"], json!(TILES), "{stats}");
    // Nothing is left for another client: every message was deleted.
    assert_eq!(sim.queued(job).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_whose_index_message_fails_is_not_deleted() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    sim.faults("sqs.send:400:1.0").await;
    let dir = tempfile::tempdir().unwrap();
    let quarantine = report(&dir);
    let out = upload(
        &sim,
        &join,
        good_tiles(),
        options(1),
        quarantine.clone(),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    assert_eq!((out.stats.uploaded, out.stats.quarantined), (0, TILES));
    // Every failure was the index's, and with `options(1)` (one attempt) none was retried.
    assert_eq!((out.stats.failures, out.stats.retries), ([0, 0, TILES], 0));
    let stats = sim.stats(job).await;
    // Stored, never indexed, so never deleted: every message is back on the queue.
    assert_eq!(count(&stats, "s3.PutObject"), TILES, "{stats}");
    assert_eq!(count(&stats, "sqs.DeleteMessageBatch"), 0, "{stats}");
    assert_eq!(sim.queued(job).await, TILES);
    let lines = std::fs::read_to_string(quarantine.path()).unwrap();
    let first: FailedTile = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(
        first.error,
        "sending tile-index messages failed: InjectedFault: Fault injected by boss-sim"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_that_cannot_be_stored_is_neither_indexed_nor_deleted() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    sim.faults("s3.put:400:1.0").await;
    let dir = tempfile::tempdir().unwrap();
    let out = upload(
        &sim,
        &join,
        good_tiles(),
        options(1),
        report(&dir),
        pending(),
    )
    .await;
    assert_eq!((out.end, out.stats.uploaded), (End::Drained, 0));
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), TILES, "{stats}");
    assert_eq!(count(&stats, "sqs.SendMessageBatch"), 0, "{stats}");
    assert_eq!(count(&stats, "sqs.DeleteMessageBatch"), 0, "{stats}");
    assert_eq!(sim.queued(job).await, TILES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tile_that_keeps_failing_is_quarantined_and_stays_on_the_queue() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    // Slice 1 cannot be read; slice 0 can.
    let source: Arc<dyn TileSource> = Arc::new(|x: u64, _: u64, z: u64, _: u64| {
        if z == 1 {
            return Err(Failure::new(
                Some(format!("/src/z1x{x}.png")),
                format!("/src/z1x{x}.png: file not found"),
            ));
        }
        Ok(Produced {
            bytes: png(1),
            file: None,
            black: false,
        })
    });
    let dir = tempfile::tempdir().unwrap();
    let quarantine = report(&dir);
    let out = upload(
        &sim,
        &join,
        source,
        options(2),
        quarantine.clone(),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    assert_eq!(
        (
            out.stats.uploaded,
            out.stats.failed_attempts,
            out.stats.quarantined
        ),
        (2, 4, 2)
    );
    // The processor failed each of slice 1's two tiles twice; the first failures were retried.
    assert_eq!((out.stats.failures, out.stats.retries), ([4, 0, 0], 2));
    let mut lines: Vec<FailedTile> = std::fs::read_to_string(quarantine.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|l| l.x);
    let tile_key = |x: u64| boss_protocol::keys::hashed(&[7, 12, 33, 0, x, 0, 1, 0]);
    let expected: Vec<FailedTile> = (0..2)
        .map(|x| FailedTile {
            tile_key: Some(tile_key(x)),
            chunk_key: boss_protocol::keys::hashed(&[2, 7, 12, 33, 0, x, 0, 0, 0]),
            x: Some(x),
            y: Some(0),
            z: Some(1),
            t: Some(0),
            file: Some(format!("/src/z1x{x}.png")),
            error: format!("/src/z1x{x}.png: file not found"),
            attempts: 2,
        })
        .collect();
    assert_eq!(lines, expected);
    // The service still has them: fixing the source and resuming uploads them.
    assert_eq!(sim.queued(job).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_what_is_in_flight_and_leaves_the_rest_queued() {
    // More tiles than the pipeline holds (4 × workers + 20), so some are never received.
    const MANY: u64 = 80;
    let sim = Sim::start().await;
    let join = sim.tile_job_of(MANY / 2).await;
    let job = join.response.ingest_job.id;
    let started = Arc::new(Notify::new());
    let produced = Arc::new(AtomicU32::new(0));
    let source: Arc<dyn TileSource> = {
        let (started, produced) = (started.clone(), produced.clone());
        Arc::new(move |x: u64, _: u64, z: u64, _: u64| {
            produced.fetch_add(1, Ordering::SeqCst);
            started.notify_one();
            // Slow enough that the stop arrives while tiles are in flight.
            std::thread::sleep(Duration::from_millis(50));
            Ok(Produced {
                bytes: png((z * 2 + x) as u8),
                file: None,
                black: false,
            })
        })
    };
    let stop = {
        let started = started.clone();
        async move { started.notified().await }
    };
    let mut one_worker = options(3);
    one_worker.workers = 1;
    let dir = tempfile::tempdir().unwrap();
    let out = upload(&sim, &join, source, one_worker, report(&dir), stop).await;
    assert_eq!(out.end, End::Interrupted { abandoned: 0 });
    // Whatever was made was finished: stored, indexed and deleted, nothing half-done.
    let made = u64::from(produced.load(Ordering::SeqCst));
    assert!((1..MANY).contains(&made), "{made} tiles made");
    assert_eq!(out.stats.uploaded, made);
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), made, "{stats}");
    assert_eq!(sim.queued(job).await, MANY - made);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunk_is_deleted_only_after_every_cuboid_is_stored() {
    let sim = Sim::start().await;
    let processor = json!({"class": "x", "params": {}});
    let join = sim
        .job(
            json!({"ingest_type": "volumetric", "resolution": 0,
                   "extent": {"x": [0, 1024], "y": [0, 512], "z": [0, 16], "t": [0, 1]},
                   "chunk_size": {"x": 1024, "y": 512, "z": 16}}),
            json!({"backend": {"name": "boss", "class": "B", "host": "h", "protocol": "http"},
                   "path_processor": processor, "chunk_processor": processor}),
        )
        .await;
    let job = join.response.ingest_job.id;
    let source: Arc<dyn ChunkSource> = Arc::new(|x: u64, y: u64, z: u64| {
        let chunk_size = boss_protocol::config::ChunkSize {
            x: 1024,
            y: 512,
            z: 16,
        };
        let extent = boss_protocol::config::Extent {
            x: boss_protocol::config::Span {
                start: 0,
                stop: 1024,
            },
            y: boss_protocol::config::Span {
                start: 0,
                stop: 512,
            },
            z: boss_protocol::config::Span { start: 0, stop: 16 },
            t: boss_protocol::config::Span { start: 0, stop: 1 },
        };
        let g = crate::chunk::Geometry::new(chunk_size, &extent, x, y, z);
        let array = plugin_abi::ChunkArray {
            data: vec![3; 1024 * 512 * 16],
            shape: vec![16, 512, 1024],
            order: plugin_abi::AxisOrder::Zyx,
            dtype: Dtype::U8,
            notes: Vec::new(),
        };
        Ok(ProducedChunk {
            chunk: crate::chunk::Chunk::new(array, &g, Some(Dtype::U8)).unwrap(),
            file: None,
            short: false,
        })
    });
    let kind = Arc::new(Chunks::from_join(&join, source).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let stats = Arc::new(Stats::default());
    let out = run(
        kind,
        sim.session(&join),
        options(3),
        stats,
        report(&dir),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    assert_eq!((out.stats.uploaded, out.stats.cuboids), (1, 2));
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), 2, "{stats}");
    assert_eq!(stats["cuboids_stored"], json!(2), "{stats}");
    assert_eq!(sim.queued(job).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_longer_than_its_grace_abandons_the_work_in_flight_to_the_queue() {
    const MANY: u64 = 8;
    let sim = Sim::start().await;
    let join = sim.tile_job_of(MANY / 2).await;
    let job = join.response.ingest_job.id;
    // The first tile's plugin call hangs until the test lets it go, long after the grace.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let started = Arc::new(Notify::new());
    let source: Arc<dyn TileSource> = {
        let started = started.clone();
        Arc::new(move |_: u64, _: u64, _: u64, _: u64| {
            started.notify_one();
            let _ = release_rx.lock().unwrap().recv();
            Ok(Produced {
                bytes: png(1),
                file: None,
                black: false,
            })
        })
    };
    let stop = {
        let started = started.clone();
        async move { started.notified().await }
    };
    let mut opts = options(3);
    opts.workers = 1;
    opts.drain_grace = Duration::from_millis(300);
    let dir = tempfile::tempdir().unwrap();
    let out = upload(&sim, &join, source, opts, report(&dir), stop).await;
    // Every tile was received in the first batch; none was finished.
    assert_eq!(
        (out.end, out.stats.uploaded),
        (
            End::Interrupted {
                abandoned: MANY as usize
            },
            0
        )
    );
    drop(release_tx);
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), 0, "{stats}");
    assert_eq!(count(&stats, "sqs.SendMessageBatch"), 0, "{stats}");
    assert_eq!(count(&stats, "sqs.DeleteMessageBatch"), 0, "{stats}");
    // Left on the queue: all of them are back once the visibility timeout has passed.
    assert_eq!(sim.queued(job).await, MANY);
}

/// Runs a job to its end, then once more on its empty queue; returns the second run's outcome
/// and how many of `ops` the simulator saw during it.
async fn rerun_on_an_empty_queue(sim: &Sim, ops: &[&str]) -> (Outcome, Vec<u64>) {
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    let dir = tempfile::tempdir().unwrap();
    let first = upload(
        sim,
        &join,
        good_tiles(),
        options(3),
        report(&dir),
        pending(),
    )
    .await;
    assert_eq!((first.end, first.stats.uploaded), (End::Drained, TILES));
    let before = sim.stats(job).await;
    let out = upload(
        sim,
        &join,
        good_tiles(),
        options(3),
        report(&dir),
        pending(),
    )
    .await;
    let after = sim.stats(job).await;
    let seen = ops
        .iter()
        .map(|op| count(&after, op) - count(&before, op))
        .collect();
    (out, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_queue_is_proven_drained_by_two_count_reads_and_one_receive() {
    let sim = Sim::start().await;
    let (out, seen) =
        rerun_on_an_empty_queue(&sim, &["sqs.GetQueueAttributes", "sqs.ReceiveMessage"]).await;
    assert_eq!((out.end, out.stats.uploaded), (End::Drained, 0));
    // The visibility timeout, the counts twice; then the one last receive.
    assert_eq!(seen, [3, 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_refused_the_counts_prove_the_queue_drained_by_an_empty_receive() {
    let sim = Sim::start().await;
    sim.faults("sqs.attributes:403:1.0").await;
    let (out, seen) =
        rerun_on_an_empty_queue(&sim, &["sqs.GetQueueAttributes", "sqs.ReceiveMessage"]).await;
    assert_eq!((out.end, out.stats.uploaded), (End::Drained, 0));
    // The visibility timeout was refused, so the counts are never asked; the empty receive (a
    // 20 s long poll in production) is the proof, as before the counts were used.
    assert_eq!(seen, [1, 1]);
}

/// A shutdown that never comes.
fn pending() -> impl Future<Output = ()> + Send + 'static {
    std::future::pending()
}

/// Slice 1 is not there for its first `missing` deliveries per tile (`--follow`), then reads as
/// `then` says: fine, or bad.
fn late_slice(missing: u32, then_bad: bool) -> Arc<dyn TileSource> {
    let calls = Arc::new(std::sync::Mutex::new(
        std::collections::HashMap::<u64, u32>::new(),
    ));
    Arc::new(move |x: u64, _: u64, z: u64, _: u64| {
        let file = format!("/src/z{z}x{x}.png");
        if z == 1 {
            let mut calls = calls.lock().unwrap();
            let n = calls.entry(x).or_default();
            *n += 1;
            if *n <= missing {
                return Err(Failure {
                    error: format!("{file}: not there yet (--follow)"),
                    file: Some(file),
                    not_yet: true,
                });
            }
            if then_bad {
                return Err(Failure::new(Some(file.clone()), format!("{file}: bad")));
            }
        }
        Ok(Produced {
            bytes: png(1),
            file: Some(file),
            black: false,
        })
    })
}

fn following(max_attempts: u32, timeout: Duration) -> Options {
    Options {
        follow: Some(timeout),
        ..options(max_attempts)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_waits_for_a_late_source_without_counting_attempts() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    let dir = tempfile::tempdir().unwrap();
    // Missing for 3 deliveries, with only 2 attempts allowed: waiting is not an attempt.
    let options = following(2, Duration::from_secs(600));
    let out = upload(
        &sim,
        &join,
        late_slice(3, false),
        options,
        report(&dir),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    let s = out.stats;
    assert_eq!(
        (s.uploaded, s.failed_attempts, s.quarantined, s.duplicates),
        (TILES, 0, 0, 0)
    );
    let stats = sim.stats(job).await;
    assert_eq!(count(&stats, "s3.PutObject"), TILES, "{stats}");
    assert_eq!(sim.queued(job).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_source_that_is_bad_gets_every_attempt_then_is_quarantined() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let dir = tempfile::tempdir().unwrap();
    let quarantine = report(&dir);
    let options = following(2, Duration::from_secs(600));
    let out = upload(
        &sim,
        &join,
        late_slice(2, true),
        options,
        quarantine.clone(),
        pending(),
    )
    .await;
    assert_eq!(out.end, End::Drained);
    let s = out.stats;
    // 2 tiles × 2 real attempts; the 2 deliveries each spent waiting are not among them.
    assert_eq!((s.uploaded, s.failed_attempts, s.quarantined), (2, 4, 2));
    let attempts: Vec<u32> = std::fs::read_to_string(quarantine.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<FailedTile>(l).unwrap().attempts)
        .collect();
    assert_eq!(attempts, [2, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_gives_up_after_the_timeout_and_leaves_the_tiles_queued() {
    let sim = Sim::start().await;
    let join = sim.tile_job().await;
    let job = join.response.ingest_job.id;
    let dir = tempfile::tempdir().unwrap();
    let options = following(2, Duration::from_secs(3));
    let out = upload(
        &sim,
        &join,
        late_slice(u32::MAX, false),
        options,
        report(&dir),
        pending(),
    )
    .await;
    let End::GaveUpWaiting(pending) = out.end else {
        panic!("expected to give up waiting, got {:?}", out.end);
    };
    assert_eq!(pending.sources, 2);
    let newest = pending.newest.unwrap();
    assert!(
        ["/src/z1x0.png", "/src/z1x1.png"].contains(&newest.as_str()),
        "{newest}"
    );
    let s = out.stats;
    assert_eq!((s.uploaded, s.failed_attempts, s.quarantined), (2, 0, 0));
    assert_eq!(sim.queued(job).await, 2);
}
