//! The plugin stage: `-p N` blocking threads, each taking the next received message and asking
//! the source for what to upload: a tile's bytes, or a chunk, which is cut here into the cuboids
//! the message lists and compressed as the service expects (spec §4.3). Plugins do file I/O and
//! codecs, and blosc is CPU work: none of it may run on the async runtime's threads. A panic
//! inside a source is caught here and fails only that tile or chunk.
//!
//! A chunk's array is dropped as soon as its cuboids are compressed, so what waits for upload is
//! the compressed cuboids only.

use std::sync::{Arc, Mutex};

use boss_protocol::cuboid;
use boss_protocol::messages::VolumetricUploadMessage;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{ChunkSource, Ctx, Failure, Item, Produced, Source, Work};

/// A message with what it uploads, on its way to S3.
pub(super) struct Ready {
    pub work: Work,
    pub payload: Payload,
}

/// What one message uploads.
pub(super) enum Payload {
    Tile(Produced),
    /// Every cuboid of a chunk, compressed, in the message's order.
    Cuboids {
        cuboids: Vec<Cuboid>,
        file: Option<String>,
        /// The chunk was smaller than the extent covers (zero-filled).
        short: bool,
    },
}

/// One compressed cuboid and its object key.
pub(super) struct Cuboid {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// Starts the workers; each ends when the work channel is closed and empty.
pub(super) fn spawn(
    ctx: Arc<Ctx>,
    source: Source,
    work: mpsc::Receiver<Work>,
    ready: mpsc::Sender<Ready>,
) -> Vec<JoinHandle<()>> {
    // One receiver shared by the workers: whoever is free takes the next message.
    let work = Arc::new(Mutex::new(work));
    let workers = ctx.options.workers.max(1);
    (0..workers)
        .map(|i| {
            let (ctx, source, work, ready) =
                (ctx.clone(), source.clone(), work.clone(), ready.clone());
            let delay = ctx.options.ramp.mul_f64(i as f64 / workers as f64);
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(delay);
                worker(&ctx, &source, &work, &ready)
            })
        })
        .collect()
}

fn worker(
    ctx: &Ctx,
    source: &Source,
    work: &Mutex<mpsc::Receiver<Work>>,
    ready: &mpsc::Sender<Ready>,
) {
    loop {
        // Holding the lock while waiting is fine: the other workers would wait anyway.
        let next = work
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .blocking_recv();
        let Some(w) = next else { return };
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| produce(source, &w.item)));
        match result {
            Ok(Ok(payload)) => {
                if ready.blocking_send(Ready { work: w, payload }).is_err() {
                    return;
                }
            }
            Ok(Err(failure)) => ctx.fail(&w, failure.file, failure.error),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let stage = match w.item {
                    Item::Tile { .. } => "the tile processor",
                    Item::Chunk { .. } => "the chunk processor",
                };
                ctx.fail(&w, None, format!("{stage} panicked: {what}"));
            }
        }
    }
}

fn produce(source: &Source, item: &Item) -> Result<Payload, Failure> {
    match (source, item) {
        (Source::Tiles(tiles), Item::Tile { tile: t, .. }) => {
            tiles.tile(t.x, t.y, t.z, t.t).map(Payload::Tile)
        }
        (Source::Chunks(chunks), Item::Chunk { message, chunk }) => {
            cuboids(&**chunks, message, chunk.x, chunk.y, chunk.z)
        }
        // The receiver parses messages by the job's kind, and the caller pairs the source with
        // the same kind; a mismatch is a bug, reported rather than trusted.
        _ => Err(Failure {
            file: None,
            error: "internal error: the upload message does not match the job's kind".into(),
        }),
    }
}

/// Reads the chunk and cuts every cuboid the message lists.
fn cuboids(
    source: &dyn ChunkSource,
    message: &VolumetricUploadMessage,
    x: u64,
    y: u64,
    z: u64,
) -> Result<Payload, Failure> {
    let produced = source.chunk(x, y, z)?;
    let chunk = produced.chunk;
    // The Boss's quirk: blosc's type size is given in bits (spec §4.3).
    let typesize = chunk.dtype().size() * 8;
    let cuboids = message
        .cuboids
        .iter()
        .map(|c| Cuboid {
            key: c.key.clone(),
            bytes: cuboid::compress_with_typesize(&chunk.cuboid(c.x, c.y, c.z), typesize),
        })
        .collect();
    Ok(Payload::Cuboids {
        cuboids,
        file: produced.file,
        short: produced.short,
    })
}
