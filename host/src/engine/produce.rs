//! The plugin stage: `-p N` blocking threads, each taking the next received tile and asking the
//! tile source for its bytes. Plugins do file I/O and image codecs, which must never run on the
//! async runtime's threads. A panic inside a source is caught here and fails only that tile.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Ctx, Produced, TileSource, Work};

/// A tile with its bytes, on its way to S3.
pub(super) struct Ready {
    pub work: Work,
    pub produced: Produced,
}

/// Starts the workers; each ends when the work channel is closed and empty.
pub(super) fn spawn(
    ctx: Arc<Ctx>,
    source: Arc<dyn TileSource>,
    work: mpsc::Receiver<Work>,
    ready: mpsc::Sender<Ready>,
) -> Vec<JoinHandle<()>> {
    // One receiver shared by the workers: whoever is free takes the next tile.
    let work = Arc::new(Mutex::new(work));
    let workers = ctx.options.workers.max(1);
    (0..workers)
        .map(|i| {
            let (ctx, source, work, ready) =
                (ctx.clone(), source.clone(), work.clone(), ready.clone());
            let delay = ctx.options.ramp.mul_f64(i as f64 / workers as f64);
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(delay);
                worker(&ctx, &*source, &work, &ready)
            })
        })
        .collect()
}

fn worker(
    ctx: &Ctx,
    source: &dyn TileSource,
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
        let t = w.tile;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            source.tile(t.x, t.y, t.z, t.t)
        }));
        match result {
            Ok(Ok(produced)) => {
                if ready.blocking_send(Ready { work: w, produced }).is_err() {
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
                ctx.fail(&w, None, format!("the tile processor panicked: {what}"));
            }
        }
    }
}
