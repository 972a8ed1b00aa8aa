//! The plugin stage: `-p N` blocking threads, each taking the next received message, asking its
//! [`Kind`] for the payload (a tile's bytes; a chunk's compressed cuboids) and for the objects that
//! makes. Plugins do file I/O and codecs, and blosc is CPU work: none of it may run on the async
//! runtime's threads. A panic inside a source is caught here and fails only that tile or chunk.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::kind::{Kind, Upload};
use super::{Ctx, End, FailureClass, Work};

/// A message with what it uploads, on its way to S3.
pub(super) struct Ready<I> {
    pub work: Work<I>,
    pub upload: Upload,
}

/// Starts the workers; each ends when the work channel is closed and empty. `-r` spreads their
/// start over the ramp, easing the load on a shared file system when many clients start at once.
pub(super) fn spawn<K: Kind>(
    ctx: Arc<Ctx>,
    kind: Arc<K>,
    work: mpsc::Receiver<Work<K::Item>>,
    ready: mpsc::Sender<Ready<K::Item>>,
) -> Vec<JoinHandle<()>> {
    // One receiver shared by the workers: whoever is free takes the next message.
    let work = Arc::new(Mutex::new(work));
    let workers = ctx.options.workers.max(1);
    (0..workers)
        .map(|i| {
            let (ctx, kind, work, ready) = (ctx.clone(), kind.clone(), work.clone(), ready.clone());
            let delay = ctx.options.ramp.mul_f64(i as f64 / workers as f64);
            tokio::task::spawn_blocking(move || {
                std::thread::sleep(delay);
                worker(&ctx, &*kind, &work, &ready)
            })
        })
        .collect()
}

fn worker<K: Kind>(
    ctx: &Ctx,
    kind: &K,
    work: &Mutex<mpsc::Receiver<Work<K::Item>>>,
    ready: &mpsc::Sender<Ready<K::Item>>,
) {
    loop {
        // Holding the lock while waiting is fine: the other workers would wait anyway.
        let next = work
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .blocking_recv();
        let Some(w) = next else { return };
        // Past the drain's grace, messages still queued here are left for redelivery.
        if ctx.abandoned.load(Ordering::SeqCst) {
            return;
        }
        let started = Instant::now();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| kind.produce(&w.item)));
        ctx.stats.plugin_time(started.elapsed());
        let key = K::key(&w.item);
        let payload = match result {
            Ok(Ok(payload)) => {
                ctx.stats.waiting().found(key, Instant::now());
                ctx.stats.waiting().progressed(Instant::now());
                payload
            }
            Ok(Err(failure)) if failure.not_yet && ctx.options.follow.is_some() => {
                ctx.not_yet::<K>(&w, failure.file, &failure.error);
                continue;
            }
            Ok(Err(failure)) => {
                // There, but bad: an ordinary failure, waited for or not.
                ctx.stats.waiting().found(key, Instant::now());
                ctx.fail::<K>(&w, FailureClass::Processor, failure.file, failure.error);
                continue;
            }
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                ctx.fail::<K>(
                    &w,
                    FailureClass::Processor,
                    None,
                    format!("{} panicked: {what}", K::PRODUCER),
                );
                continue;
            }
        };
        match kind.upload(&w.item, &w.delivery, payload) {
            Ok(upload) => {
                if ready.blocking_send(Ready { work: w, upload }).is_err() {
                    return;
                }
            }
            // Every tile of the job carries the same parameters: none can be stored.
            Err(too_large) => {
                ctx.halt(End::Fatal(too_large.to_string()));
                return;
            }
        }
    }
}
