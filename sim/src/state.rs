//! The simulated service's memory: jobs, the keys minted for them, what each job has received,
//! and the counters `GET /sim/jobs/{id}` reports.
//!
//! Everything sits behind one `std::sync::Mutex` that is only held for short, non-async updates
//! (never across an AWS call), so the REST API, the front door and the service workers never
//! wait on each other's I/O.

use crate::aws::Admin;
use crate::faults::Faults;
use crate::plan::JobPlan;
use crate::resources::{Channel, Resources};
use crate::store::Store;
use boss_protocol::status::{IngestType, JobStatus};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Durations the service waits; production values by default, short ones in tests.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub prepare: Duration,
    pub wait_on_queues: Duration,
    pub credential_ttl: Option<Duration>,
    /// Visibility timeout of the upload queue (production: 120 s).
    pub visibility_timeout_secs: u32,
    /// How keys past `credential_ttl` are refused.
    pub expired_keys: ExpiredKeys,
}

/// What AWS answers for a job key that is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExpiredKeys {
    /// As the real service's keys end: the IAM user is deleted, so S3 answers
    /// `InvalidAccessKeyId` and SQS `InvalidClientTokenId` (both 403).
    #[default]
    Deleted,
    /// `ExpiredToken`, as temporary (STS) credentials would expire.
    ExpiredToken,
}

/// One queue as moto names it and as clients reach it through the front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    pub moto_url: String,
    pub public_url: String,
}

#[derive(Debug, Clone)]
pub struct JobQueues {
    pub upload: Queue,
    /// Tile jobs only.
    pub tile_index: Option<Queue>,
    pub ingest: Option<Queue>,
    pub tile_error: Option<Queue>,
}

/// Counters of one job.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStats {
    /// Tiles stored with the `message_id` and `receipt_handle` metadata.
    pub tiles_stored: u64,
    /// Tiles stored without them (their chunk can never be ingested on BossDB).
    pub tiles_missing_metadata: u64,
    /// Tiles stored without a `metadata` JSON giving the job's tile size as `x_size`/`y_size`
    /// (their chunk is not ingested; see `TileObjectMetadata::names_tile_size`).
    pub tiles_bad_metadata: u64,
    pub duplicate_tiles: u64,
    /// Tile-index messages the service cannot index (no or malformed `ingest_job`, `chunk_key`
    /// or `tile_key`, or another job's id): dead-lettered on BossDB, the tile is not indexed.
    pub tile_index_rejected: u64,
    /// Tile-index messages the service took for validly uploaded tiles (duplicates included).
    pub tiles_indexed: u64,
    pub chunks_assembled: u64,
    /// Chunk ingests that failed (parameters missing from the ingest message, invalid
    /// `metadata` JSON, a colour or mixed-size tile): the message comes back and is retried.
    pub chunk_ingest_errors: u64,
    /// Chunk ingests abandoned because a tile object is missing or lacks `message_id` /
    /// `receipt_handle`: nothing is written and the tile index keeps the chunk.
    pub chunks_aborted: u64,
    /// Chunks ingested according to parameters that point elsewhere (another `lookup_key`,
    /// datatype, cuboid bucket or index table): on BossDB the data lands outside this channel.
    pub chunks_misdirected: u64,
    /// Complete chunks the completion scan put back on the ingest queue.
    pub chunks_resent: u64,
    /// Chunks none of whose tiles was ever indexed when the job became COMPLETE: the real
    /// scan cannot see them, so BossDB completes the job without their data.
    pub chunks_lost_on_bossdb: u64,
    pub cuboids_stored: u64,
    /// Volumetric cuboids that do not decompress to a whole cuboid (the simulator's own check;
    /// on BossDB they fail at read time).
    pub cuboid_errors: u64,
    /// Volumetric cuboids without a `metadata` JSON naming `ingest_job`: cuboid_import_lambda
    /// fails on them and BossDB never imports them.
    pub cuboids_not_imported: u64,
    /// The largest user metadata (keys and values, as S3 counts it) of any PutObject of the job;
    /// S3 refuses more than 2048 bytes.
    pub metadata_bytes_max: u64,
    pub tile_errors: u64,
    pub tiles_reenqueued: u64,
    pub first_upload: Option<f64>,
    pub last_upload: Option<f64>,
    /// When the completion scan moved the job to COMPLETE (seconds since the epoch, as the two
    /// above), so a benchmark can set the time to COMPLETE beside the upload window.
    pub completed_at: Option<f64>,
    pub rest_requests: BTreeMap<String, u64>,
    pub aws_requests: BTreeMap<String, u64>,
    pub aws_denied: BTreeMap<String, u64>,
    pub faults_injected: BTreeMap<String, u64>,
}

impl JobStats {
    pub fn upload_seen(&mut self) {
        let now = epoch_secs();
        self.first_upload.get_or_insert(now);
        self.last_upload = Some(now);
    }

    pub fn completed(&mut self) {
        self.completed_at = Some(epoch_secs());
    }
}

fn epoch_secs() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A chunk's row in the tile index: the tiles indexed for it (by z slice), until it is
/// ingested. The completion scan only sees chunks that have a row.
#[derive(Debug, Default)]
pub struct PendingChunk {
    pub slices: BTreeSet<u64>,
    /// Sent to the ingest queue and not yet assembled.
    pub queued: bool,
    /// An assembler is working on it (a re-sent copy of its message is then a no-op).
    pub assembling: bool,
}

/// What the service's tile reader will find in a stored tile's S3 user metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileObject {
    /// Both `message_id` and `receipt_handle` are present.
    pub has_receipt: bool,
    pub metadata: TileObjectMetadata,
}

/// The `metadata` entry of a tile object, as far as the tile-ingest lambda reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileObjectMetadata {
    Absent,
    /// Not JSON: the lambda fails on it.
    Invalid,
    /// JSON with these `x_size` / `y_size` (the shape of a black replacement tile).
    Sizes(Option<u64>, Option<u64>),
}

impl TileObjectMetadata {
    /// Whether the tile-ingest lambda finds the job's tile size here. It only reads
    /// `x_size`/`y_size` to shape a black tile for one it cannot decode (1024 when absent), and
    /// a shape that differs from the other tiles fails the whole chunk. A client cannot know
    /// beforehand which tiles BossDB will fail to decode, so the simulator requires the sizes
    /// on every tile: a client that drops them fails here even when all its tiles decode.
    pub fn names_tile_size(self, (width, height): (u64, u64)) -> bool {
        self == TileObjectMetadata::Sizes(Some(width), Some(height))
    }
}

pub struct Job {
    pub id: u64,
    pub owner: String,
    pub channel: Channel,
    pub plan: JobPlan,
    pub status: JobStatus,
    pub created: Instant,
    pub filled: bool,
    pub queues: JobQueues,
    /// When the job last went from UPLOADING to WAIT_ON_QUEUES (never cleared, as the
    /// service's `wait_on_queues_ts`).
    pub wait_started: Option<Instant>,
    /// The upload queue holds fewer messages than the job counts (the service's VerifyCount
    /// step failed): the job never leaves PREPARING.
    pub prepare_failed: bool,
    /// What the last PutObject of each tile key stored, until its chunk is ingested.
    pub tile_objects: HashMap<String, TileObject>,
    /// The tile index: chunk key → its row.
    pub pending: HashMap<String, PendingChunk>,
    pub assembled: HashSet<String>,
    /// PutObject count per tile key (`GET /sim/jobs/{id}/tiles`): one entry per tile of the job.
    pub tile_puts: BTreeMap<String, u64>,
    pub stats: JobStats,
    /// Set through `/sim/jobs/{id}/pause`: the service side (indexing, assembly, the completion
    /// scan) holds still so a test can observe states that are otherwise too brief.
    pub paused: bool,
}

impl Job {
    pub fn tile_count(&self) -> u64 {
        self.plan.message_count()
    }

    pub fn ingest_type(&self) -> IngestType {
        self.plan.ingest_type
    }
}

/// A key pair minted by a join.
#[derive(Debug, Clone)]
pub struct Grant {
    pub job_id: u64,
    pub secret: String,
    pub expires: Option<Instant>,
    pub revoked: bool,
}

/// Request counters that belong to no job (unknown keys, unknown ids).
#[derive(Debug, Default, Serialize)]
pub struct GlobalStats {
    pub rest_requests: BTreeMap<String, u64>,
    pub aws_requests: BTreeMap<String, u64>,
    pub faults_injected: BTreeMap<String, u64>,
}

pub struct Inner {
    pub next_id: u64,
    pub jobs: BTreeMap<u64, Job>,
    pub grants: HashMap<String, Grant>,
    pub global: GlobalStats,
}

/// Everything the simulator's tasks share.
pub struct Sim {
    pub resources: Resources,
    pub timing: Timing,
    pub admin: Admin,
    /// The S3/SQS backend's own URL (moto's, or the embedded backend's).
    pub moto_url: String,
    /// "embedded" or "moto" (`GET /sim/info`).
    pub backend: &'static str,
    /// The front door's base URL; queue URLs handed to clients start with it.
    pub public_aws_url: String,
    pub tile_bucket: String,
    pub ingest_bucket: String,
    /// Distinguishes this run's queue names on a shared moto.
    pub tag: String,
    pub store: Arc<Store>,
    pub faults: Faults,
    inner: Mutex<Inner>,
}

impl Sim {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        resources: Resources,
        timing: Timing,
        admin: Admin,
        (moto_url, backend): (String, &'static str),
        public_aws_url: String,
        store: Arc<Store>,
        faults: Faults,
    ) -> Arc<Sim> {
        let tag = Alphanumeric
            .sample_string(&mut rand::rng(), 6)
            .to_lowercase();
        Arc::new(Sim {
            resources,
            timing,
            admin,
            moto_url,
            backend,
            public_aws_url,
            tile_bucket: "tiles.boss-sim.local".into(),
            ingest_bucket: "ingest.boss-sim.local".into(),
            tag,
            store,
            faults,
            inner: Mutex::new(Inner {
                next_id: 1,
                jobs: BTreeMap::new(),
                grants: HashMap::new(),
                global: GlobalStats::default(),
            }),
        })
    }

    /// The shared state. Never hold the guard across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves counters at worst half-updated; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mints a key pair for a job (every join does).
    pub fn mint(&self, job_id: u64) -> (String, String) {
        let mut rng = rand::rng();
        let access = format!(
            "AKIA{}",
            Alphanumeric.sample_string(&mut rng, 16).to_uppercase()
        );
        let secret = Alphanumeric.sample_string(&mut rng, 40);
        let expires = self.timing.credential_ttl.map(|ttl| Instant::now() + ttl);
        self.lock().grants.insert(
            access.clone(),
            Grant {
                job_id,
                secret: secret.clone(),
                expires,
                revoked: false,
            },
        );
        (access, secret)
    }

    /// Revokes every key of a job (complete and cancel do).
    pub fn revoke(inner: &mut Inner, job_id: u64) {
        for grant in inner.grants.values_mut().filter(|g| g.job_id == job_id) {
            grant.revoked = true;
        }
    }

    /// The client-facing URL of a queue moto created.
    pub fn public_queue_url(&self, moto_url: &str) -> String {
        match moto_url.strip_prefix(&self.moto_url) {
            Some(rest) => format!("{}{rest}", self.public_aws_url),
            None => moto_url.to_string(),
        }
    }
}

pub fn bump(map: &mut BTreeMap<String, u64>, key: &str) {
    *map.entry(key.to_string()).or_default() += 1;
}
