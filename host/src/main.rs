//! `boss-ingest`: parse the command line, run one command, turn the outcome into an exit code.
//! Everything else is library code (see `lib.rs`) so that tests can call it.

use std::process::ExitCode;

use boss_ingest::{cli, commands, exit};

fn main() -> ExitCode {
    let args = match cli::Args::parse_from_iter(std::env::args_os()) {
        Ok(args) => args,
        // clap prints help, version and usage errors itself, with exit code 0 or 2.
        Err(e) => e.exit(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let outcome = args
        .into_command(cores)
        .map_err(anyhow::Error::from)
        .and_then(|command| commands::run(&command));
    match outcome {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::code_for(&error).into()
        }
    }
}
