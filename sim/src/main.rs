//! `boss-sim`: parse the command line, run the simulator until SIGINT/SIGTERM, report errors.

use anyhow::Context;
use boss_sim::{cli::Args, server};
use clap::Parser;
use std::io::Write;

fn main() -> std::process::ExitCode {
    // s3s (the embedded S3) logs every request at info, with headers; keep its warnings only.
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,s3s=warn,s3s_fs=warn,tracing=warn"),
    )
    .init();
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("boss-sim: error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let watch_stdin = args.exit_on_stdin_close;
    runtime.block_on(async move {
        let announce = |endpoints: &server::Endpoints| {
            // The one line on stdout; a parent reads it to find the endpoints.
            let line = serde_json::to_string(endpoints).unwrap_or_default();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            log::info!(
                "boss-sim ready: api {} aws {}",
                endpoints.api,
                endpoints.aws
            );
        };
        server::run(settings, announce, shutdown_signal(watch_stdin)).await
    })?;
    Ok(())
}

/// Resolves on SIGINT, SIGTERM, or (if asked) end of stdin.
async fn shutdown_signal(watch_stdin: bool) {
    let stdin_closed = async move {
        if !watch_stdin {
            return std::future::pending::<()>().await;
        }
        // A plain thread: a blocked stdin read must not hold up the runtime's shutdown.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut std::io::stdin(), &mut sink) {
                if n == 0 {
                    break;
                }
            }
            let _ = tx.send(());
        });
        let _ = rx.await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => log::info!("SIGINT: shutting down"),
        _ = terminate => log::info!("SIGTERM: shutting down"),
        _ = stdin_closed => log::info!("stdin closed: shutting down"),
    }
}
