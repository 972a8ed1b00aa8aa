//! Stopping on a signal. SIGINT (Ctrl-C) and SIGTERM (what Kubernetes, Slurm and systemd send)
//! both start the same graceful drain: stop receiving, finish and index what is in flight, delete
//! those messages, print how to resume. A second signal exits at once. The exit code says which
//! signal ended the run (130 for SIGINT, 143 for SIGTERM), as shells and schedulers expect.
//!
//! The drain itself is the engine's, bounded by `--drain-secs`; here only the signals are watched
//! and turned into a future ([`Signals::first`]) that callers hand on as their shutdown argument.
//! The ingest command watches from its start, so that a signal while the job is being created
//! lets the create request finish and its id be printed rather than killing the process between
//! the two.

use std::time::Duration;

use tokio::sync::watch;

use crate::exit::Code;

/// A signal that asks the run to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The exit code of a run this signal ended.
    pub fn code(self) -> Code {
        match self {
            Signal::Interrupt => Code::Interrupted,
            Signal::Terminate => Code::Terminated,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C (SIGINT)",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Watches SIGINT and SIGTERM from the moment it starts (inside a Tokio runtime).
#[derive(Clone)]
pub struct Signals {
    first: watch::Receiver<Option<Signal>>,
}

impl Signals {
    /// Starts watching. `unit` ("tiles", "chunks") and `grace` (the drain's bound) word the
    /// message of the first signal.
    pub fn start(unit: &'static str, grace: Duration) -> Signals {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let Some(first) = next_signal().await else {
                return;
            };
            eprintln!(
                "Stopping ({}): finishing the {unit} in flight for up to {} s; send it again to \
                 quit at once",
                first.name(),
                grace.as_secs()
            );
            tx.send_replace(Some(first));
            if let Some(second) = next_signal().await {
                eprintln!(
                    "Quitting at once ({}); {unit} in flight will be redone when the job is resumed",
                    second.name()
                );
                std::process::exit(first.code().as_i32());
            }
        });
        Signals { first: rx }
    }

    /// The exit code of the first signal, once one came.
    pub fn code(&self) -> Option<Code> {
        self.received().map(Signal::code)
    }

    /// The first signal, once one came.
    pub fn received(&self) -> Option<Signal> {
        *self.first.borrow()
    }

    /// Resolves on the first signal.
    pub fn first(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.first.clone();
        async move {
            let _ = rx.wait_for(|s| s.is_some()).await;
        }
    }

    /// Sleeps; returns the signal instead if one comes first (or came before).
    pub async fn sleep(&self, d: Duration) -> Option<Signal> {
        if let Some(s) = self.received() {
            return Some(s);
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => None,
            _ = self.first() => self.received(),
        }
    }
}

/// The next SIGINT or SIGTERM; `None` when they cannot be watched.
async fn next_signal() -> Option<Signal> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        // Registering is per call; both stay registered for the life of the process once made,
        // so a signal between two calls is not lost to the default handler.
        let mut term = signal(SignalKind::terminate()).ok()?;
        let mut int = signal(SignalKind::interrupt()).ok()?;
        tokio::select! {
            _ = int.recv() => Some(Signal::Interrupt),
            _ = term.recv() => Some(Signal::Terminate),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok()?;
        Some(Signal::Interrupt)
    }
}
