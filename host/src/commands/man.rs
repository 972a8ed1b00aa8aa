//! `boss-ingest man DIR` (`scripts/man` calls it): writes `boss-ingest.1` and a page per
//! subcommand (`boss-ingest-check.1`, ...) with `clap_mangen`, from the same definitions that
//! parse the command line. A subcommand of the binary rather than a build step, so the pages
//! describe exactly the binary that wrote them, and a packager can make them from any
//! installed `boss-ingest` without the source tree.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Args, ManSettings};
use crate::exit::{Code, ResultExt};

/// Writes the pages and prints their paths, one a line.
pub fn run(settings: &ManSettings) -> anyhow::Result<Code> {
    for page in write_pages(&settings.dir)? {
        println!("{}", page.display());
    }
    Ok(Code::Ok)
}

/// Writes every page into `dir` (created if missing) and returns their paths, sorted.
pub fn write_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let cannot = || format!("cannot write the man pages into {}", dir.display());
    std::fs::create_dir_all(dir)
        .with_context(cannot)
        .exit_code(Code::Usage)?;
    clap_mangen::generate_to(Args::command(), dir)
        .with_context(cannot)
        .exit_code(Code::Usage)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(cannot)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("boss-ingest") && n.ends_with(".1"))
        })
        .collect();
    pages.sort();
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_page_for_the_program_and_each_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("man1");
        let pages = write_pages(&out).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "boss-ingest-check.1",
                "boss-ingest-completions.1",
                "boss-ingest-man.1",
                "boss-ingest-plugins.1",
                "boss-ingest-verify.1",
                "boss-ingest.1",
            ]
        );
        let main = std::fs::read_to_string(out.join("boss-ingest.1")).unwrap();
        assert!(main.starts_with(".ie \\n(.g .ds Aq \\(aq"), "{main}");
        assert!(main.contains("BOSS_INGEST_PLUGIN_PATH"), "{main}");
    }
}
