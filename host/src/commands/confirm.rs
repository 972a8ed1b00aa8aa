//! Asking before something that cannot be undone (creating a job, cancelling one).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::anyhow;

use crate::exit::{with_code, Code};

/// Asks a yes/no question on the terminal; `-f` answers yes. Without a terminal, fails at once.
pub fn confirm(question: &str, force: bool) -> anyhow::Result<bool> {
    if force {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(with_code(
            Code::Usage,
            anyhow!("cannot ask \"{question}\": standard input is not a terminal; pass -f to proceed without questions"),
        ));
    }
    loop {
        print!("{question} (y/n) ");
        std::io::stdout().flush().ok();
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(false);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => continue,
        }
    }
}
