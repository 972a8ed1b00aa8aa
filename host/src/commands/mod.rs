//! What each verb does, composed from the library modules. Every command has the shape
//! `fn run(&Settings) -> anyhow::Result<exit::Code>`: `Ok` when it ran to its end (the code says
//! how it ended), `Err` when it could not, with context naming the file, tile or job involved;
//! `exit::code_for` maps that error to an exit code.

use crate::cli::Command;
use crate::exit::Code;

pub mod cancel;
pub mod check;
pub mod completions;
pub mod confirm;
pub mod ingest;
pub mod man;
pub mod plugins;
pub mod verify;

/// Runs one parsed command.
pub fn run(command: &Command) -> anyhow::Result<Code> {
    match command {
        Command::Check(s) => check::run(s),
        Command::Ingest(s) => ingest::run(s),
        Command::Cancel(s) => cancel::run(s),
        Command::Verify(s) => verify::run(s),
        Command::Plugins(s) => plugins::run(s),
        Command::Completions(s) => completions::run(s),
        Command::Man(s) => man::run(s),
    }
}
