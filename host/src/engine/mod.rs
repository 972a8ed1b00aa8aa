//! The upload engine: drains a job's upload queue into S3, bounded and without loss.
//!
//! ```text
//! upload queue ─ReceiveMessage(≤10, long poll)─▶ work channel (bounded)
//!   ▶ plugin stage (blocking threads): tile indices → encoded tile
//!                                      chunk indices → chunk → blosc cuboids
//!   ▶ S3 PutObject (async, bounded in flight; tiles to the tile bucket with the metadata of
//!     protocol §4.1, cuboids to the ingest bucket with that of §4.3)
//!   ▶ tiles only: tile-index SendMessageBatch ▶ upload-queue DeleteMessageBatch
//! ```
//! Each stage is one code path, generic over the job's [`Kind`]: [`Tiles`] or [`Chunks`] decide
//! how a message reads, what the plugins make of it and which objects it stores; the stages
//! ([`receive`] → [`produce`] → [`store`] → [`finish`], in that order in this folder) only move
//! work along. Every message holds one permit of a semaphore from the moment it is received until
//! it is deleted or abandoned, so memory is bounded by configuration, never by the size of the
//! job: a tile job has `4 × workers + 20` tiles in flight, a volumetric job `chunks_in_flight` chunks
//! (each one a whole chunk array, then its compressed cuboids). The order put → index → delete is
//! the no-loss invariant: a message is deleted only after its tile is stored and indexed, or
//! after every cuboid of its chunk is stored; any failure leaves it to reappear after the
//! visibility timeout. Messages that keep failing are quarantined ([`quarantine`]). Shutdown is an
//! argument: when it resolves, receiving stops and the work in flight finishes, for at most
//! [`Options::drain_grace`]; what is unfinished then is abandoned (see [`End::Interrupted`]). A
//! fatal condition (queue gone, metadata over S3's limit, keys no longer renewable) ends the run
//! the same way, without the bound. The run ends by itself once the queue is provably drained
//! ([`drained`]). `tests` drives whole runs against the simulator's in-process S3 and SQS.

pub mod chunks;
pub mod job;
pub mod kind;
pub mod quarantine;
pub mod source;
pub mod stats;
pub mod tiles;
pub mod waiting;

mod attributes;
mod drained;
mod finish;
mod produce;
mod receive;
mod retry;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use crate::aws::Session;
pub use chunks::Chunks;
pub use job::Job;
pub use kind::{Delivery, Kind, Unit};
use quarantine::{FailedTile, Quarantine};
pub use source::{ChunkSource, Failure, Produced, ProducedChunk, TileFailure, TileSource};
use stats::InFlight;
pub use stats::{FailureClass, Snapshot, Stats, TimingSnapshot};
pub use tiles::Tiles;
pub use waiting::Pending;

/// How an upload run is shaped.
#[derive(Clone, Debug)]
pub struct Options {
    /// Parallel plugin calls (`-p`); uploads in flight scale with it.
    pub workers: usize,
    /// Volumetric jobs: chunks held at once, from receive to delete (each costs its array, then
    /// its compressed cuboids). Ignored by tile jobs.
    pub chunks_in_flight: usize,
    /// Quarantine a tile or chunk when it fails on this receive (ApproximateReceiveCount) or
    /// later.
    pub max_attempts: u32,
    /// Long-poll wait of each ReceiveMessage (20 s in production).
    pub receive_wait: Duration,
    /// Start the plugin workers spread over this long (`-r`), easing the load on a shared
    /// file system when many clients start at once.
    pub ramp: Duration,
    /// How far apart the two reads of the queue's counts are that prove it empty
    /// ([`DRAIN_CONFIRM`] in production; see [`drained`]).
    pub drain_confirm: Duration,
    /// After shutdown, how long the work in flight may take to finish (`--drain-secs`).
    pub drain_grace: Duration,
    /// `--follow`: a source not there yet is waited for (see [`waiting`]), for at most this long
    /// without a new source (`--follow-timeout`). `None`: it is an ordinary failure.
    pub follow: Option<Duration>,
}

/// The production [`Options::drain_confirm`]: "a few seconds", so that approximate counts that
/// lag a delete or a redelivery have caught up, yet a small job does not wait long at its end.
pub const DRAIN_CONFIRM: Duration = Duration::from_secs(2);

impl Options {
    /// PutObject calls in flight.
    fn uploads_in_flight(&self) -> usize {
        self.workers * 2 + 4
    }
}

/// Raw chunk bytes the default number of chunks in flight may hold at once.
pub const CHUNK_MEMORY_BUDGET: u64 = 4 << 30;

/// Chunks in flight when `--chunks-in-flight` is not given: two per worker (one being read and
/// cut while the previous one uploads), but no more than fit their raw arrays in
/// [`CHUNK_MEMORY_BUDGET`], and at least one.
pub fn default_chunks_in_flight(workers: usize, chunk_bytes: u64) -> usize {
    let fit = CHUNK_MEMORY_BUDGET / chunk_bytes.max(1);
    (workers.max(1) * 2)
        .min(usize::try_from(fit).unwrap_or(usize::MAX))
        .max(1)
}

/// Why the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// The upload queue looked empty with nothing in flight.
    Drained,
    /// Shutdown was requested; the work in flight was finished, except `abandoned` tiles or
    /// chunks still unfinished when the grace ran out. Those keep their messages, which reappear
    /// after the visibility timeout. The order put → index → delete still holds for each of
    /// them, so one is left not stored, stored but not indexed, or stored and indexed but not
    /// deleted: all three are simply redone when its message comes back (the service takes a
    /// tile indexed twice as one, spec §4.2). One whose delete was already sent when the grace
    /// ran out may be done and still counted here.
    Interrupted { abandoned: usize },
    /// The upload queue no longer exists: the job was completed or cancelled elsewhere.
    JobGone,
    /// Nothing more can be uploaded (the message says why and what to do).
    Fatal(String),
    /// `--follow`: the follow timeout passed without a new source while these were missing.
    GaveUpWaiting(Pending),
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub end: End,
    pub stats: Snapshot,
    pub elapsed: Duration,
}

/// A message taken from the upload queue, holding its pipeline slot until dropped.
struct Work<I> {
    delivery: Delivery,
    item: I,
    /// The message's ApproximateReceiveCount: this is its n-th delivery.
    receives: u32,
    _slot: OwnedSemaphorePermit,
    /// Counts the message in the stats' in-flight gauge for as long as it holds its slot.
    _in_flight: InFlight,
}

/// State every stage shares.
struct Ctx {
    upload_queue: String,
    session: Session,
    options: Options,
    stats: Arc<Stats>,
    quarantine: Arc<Quarantine>,
    stop: watch::Sender<bool>,
    fatal: Mutex<Option<End>>,
    /// Tiles or chunks that failed here and are waiting to be redelivered, with the time after
    /// which we stop waiting for them (another client may have taken and finished them). The
    /// queue is not drained while any is due: they come back only after the visibility timeout.
    retrying: Mutex<HashMap<String, Instant>>,
    /// The upload queue's visibility timeout (read at start; the service's is 120 s).
    visibility: Mutex<Duration>,
    /// The drain's grace ran out: plugin workers take no further message.
    abandoned: AtomicBool,
}

impl Ctx {
    /// Ends the run for everyone (the first reason wins).
    fn halt(&self, end: End) {
        let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
        if fatal.is_none() {
            match &end {
                End::Fatal(why) => log::error!("stopping: {why}"),
                End::JobGone => {
                    log::warn!("the job was completed or cancelled elsewhere; stopping")
                }
                _ => {}
            }
            *fatal = Some(end);
        }
        self.stop.send_replace(true);
    }

    /// A tile or chunk failed this attempt. It is left for redelivery, or quarantined when this
    /// was its last allowed receive.
    fn fail<K: Kind>(
        &self,
        work: &Work<K::Item>,
        class: FailureClass,
        file: Option<String>,
        error: String,
    ) {
        // Receives spent waiting for the source under `--follow` are not attempts.
        let attempt = self
            .stats
            .waiting()
            .attempt(K::key(&work.item), work.receives);
        let retried = attempt < self.options.max_attempts;
        self.stats.failed_attempt(class, retried);
        if retried {
            let visibility = *self.visibility.lock().unwrap_or_else(|p| p.into_inner());
            self.retrying
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(
                    K::key(&work.item).to_string(),
                    Instant::now() + visibility + Duration::from_secs(30),
                );
            log::warn!(
                "{} failed (attempt {attempt} of {}), it will be retried: {error}",
                K::describe(&work.item),
                self.options.max_attempts
            );
            return;
        }
        self.stats.waiting().done(K::key(&work.item));
        self.quarantine(K::failed(&work.item, file, error, attempt));
    }

    /// `--follow`: the item's source is not there yet. Not an attempt: its message is left to
    /// come back after the visibility timeout.
    fn not_yet<K: Kind>(&self, work: &Work<K::Item>, file: Option<String>, error: &str) {
        let visibility = *self.visibility.lock().unwrap_or_else(|p| p.into_inner());
        self.stats.waiting().not_yet(
            K::key(&work.item),
            file,
            Instant::now() + visibility + Duration::from_secs(30),
        );
        log::info!("{} waits for its source: {error}", K::describe(&work.item));
    }

    /// A tile or chunk came back (or was taken): no longer waited for.
    fn redelivered(&self, key: &str) {
        self.retrying
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Whether a tile or chunk that failed here may still come back for another attempt.
    fn awaiting_redelivery(&self) -> bool {
        let mut retrying = self.retrying.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        retrying.retain(|_, due| *due > now);
        !retrying.is_empty()
    }

    fn quarantine(&self, entry: FailedTile) {
        match self.quarantine.add(&entry) {
            Ok(true) => {
                self.stats.quarantined();
                log::error!(
                    "{} {} quarantined after {} attempts ({}); see {}",
                    entry.what(),
                    entry.key(),
                    entry.attempts,
                    entry.error,
                    self.quarantine.path().display()
                );
            }
            Ok(false) => {}
            Err(e) => self.halt(End::Fatal(format!(
                "cannot write the failure report {}: {e}",
                self.quarantine.path().display()
            ))),
        }
    }
}

/// Uploads the tiles or chunks of `kind`'s job until the queue is drained, `shutdown` resolves,
/// or the run cannot go on. `stats` and `quarantine` are shared with the caller, which shows
/// progress and reports.
pub async fn run<K: Kind>(
    kind: Arc<K>,
    session: Session,
    options: Options,
    stats: Arc<Stats>,
    quarantine: Arc<Quarantine>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Outcome {
    let started = Instant::now();
    let (stop, _) = watch::channel(false);
    let (capacity, min_batch) = kind.pipeline(&options);
    let ctx = Arc::new(Ctx {
        upload_queue: kind.job().upload_queue.clone(),
        session,
        options,
        stats,
        quarantine,
        stop,
        fatal: Mutex::new(None),
        retrying: Mutex::new(HashMap::new()),
        visibility: Mutex::new(Duration::from_secs(120)),
        abandoned: AtomicBool::new(false),
    });

    let slots = Arc::new(Semaphore::new(capacity));
    let (work_tx, work_rx) = tokio::sync::mpsc::channel::<Work<K::Item>>(capacity);
    let (ready_tx, ready_rx) = tokio::sync::mpsc::channel(capacity);
    let (stored_tx, stored_rx) = tokio::sync::mpsc::channel(capacity);

    let producers = produce::spawn(ctx.clone(), kind.clone(), work_rx, ready_tx);
    let storer = tokio::spawn(store::run::<K>(ctx.clone(), ready_rx, stored_tx));
    let finisher = tokio::spawn(finish::run::<K>(ctx.clone(), stored_rx));
    let stages = [storer.abort_handle(), finisher.abort_handle()];

    // Shutdown stops receiving at once and starts the grace; when the grace is over, `grace`
    // says so and whatever is still in flight is abandoned.
    let interrupted = Arc::new(AtomicBool::new(false));
    let (grace_tx, mut grace) = watch::channel(false);
    let watcher = {
        let ctx = ctx.clone();
        let interrupted = interrupted.clone();
        let mut stopped = ctx.stop.subscribe();
        tokio::spawn(async move {
            let asked = tokio::select! {
                _ = shutdown => true,
                _ = stopped.wait_for(|s| *s) => false,
            };
            if !asked {
                return;
            }
            interrupted.store(true, Ordering::SeqCst);
            log::warn!(
                "stopping: no new work is taken; finishing the work in flight for up to {} s",
                ctx.options.drain_grace.as_secs()
            );
            ctx.stop.send_replace(true);
            tokio::time::sleep(ctx.options.drain_grace).await;
            grace_tx.send_replace(true);
        })
    };

    let pipeline = {
        let (ctx, slots) = (ctx.clone(), slots.clone());
        async move {
            let drained = receive::run(ctx, kind, slots, capacity, min_batch, work_tx).await;
            // The receiver dropped the work sender: each stage ends once its input is empty.
            for p in producers {
                if let Err(e) = p.await {
                    log::error!("a plugin worker ended abnormally: {e}");
                }
            }
            for (name, task) in [("upload", storer), ("index", finisher)] {
                if let Err(e) = task.await {
                    log::error!("the {name} stage ended abnormally: {e}");
                }
            }
            drained
        }
    };
    let (drained, abandoned) = tokio::select! {
        drained = pipeline => (drained, 0),
        _ = grace.wait_for(|over| *over) => {
            // Every message in flight holds a slot until it is deleted or dropped.
            let abandoned = capacity - slots.available_permits();
            ctx.abandoned.store(true, Ordering::SeqCst);
            // Cancelling the stages drops their uploads and batches mid-call; a plugin call
            // under way runs to its end on its blocking thread, and its result is dropped.
            for stage in &stages {
                stage.abort();
            }
            log::warn!(
                "the drain's {} s are over: {abandoned} unfinished tiles or chunks are left on \
                 the queue",
                ctx.options.drain_grace.as_secs()
            );
            (false, abandoned)
        }
    };
    watcher.abort();

    let fatal = ctx.fatal.lock().unwrap_or_else(|p| p.into_inner()).take();
    let end = match fatal {
        Some(end) => end,
        None if drained && !interrupted.load(Ordering::SeqCst) => End::Drained,
        None => End::Interrupted { abandoned },
    };
    Outcome {
        end,
        stats: ctx.stats.snapshot(),
        elapsed: started.elapsed(),
    }
}
