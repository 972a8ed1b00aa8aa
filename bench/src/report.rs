//! The results table (Markdown, printed and quoted in the README) and the targets it is judged by.

use std::fmt::Write;

use serde::Serialize;

use crate::floor::Floor;
use crate::jobs::Case;
use crate::run::{Client, RunResult};

/// One case's floor.
#[derive(Clone, Debug, Serialize)]
pub struct CaseFloor {
    pub case: Case,
    pub floor: Floor,
}

/// A target of the performance issue and whether this run met it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub target: String,
    pub measured: String,
    pub met: bool,
}

fn find(runs: &[RunResult], case: Case, client: Client) -> Option<&RunResult> {
    runs.iter().find(|r| r.case == case && r.client == client)
}

fn floor_of(floors: &[CaseFloor], case: Case) -> Option<&Floor> {
    floors.iter().find(|f| f.case == case).map(|f| &f.floor)
}

/// Checks the targets that this run's cases can answer.
pub fn verdicts(runs: &[RunResult], floors: &[CaseFloor]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut push = |target: &str, measured: String, met: bool| {
        out.push(Verdict {
            target: target.into(),
            measured,
            met,
        })
    };
    for case in [Case::PassThrough, Case::Reencode] {
        let (Some(ours), Some(py)) = (
            find(runs, case, Client::Ours),
            find(runs, case, Client::Python),
        ) else {
            continue;
        };
        let ratio = ours.cpu_ms_per_tile / py.cpu_ms_per_tile;
        let (limit, label) = match case {
            Case::PassThrough => (0.1, "pass-through: CPU/tile ≤ 1/10 of Python's"),
            _ => (0.25, "re-encode: CPU/tile ≤ 1/4 of Python's"),
        };
        push(label, format!("{ratio:.3}×"), ratio <= limit);
        let speed = ours.tiles_per_sec / py.tiles_per_sec;
        push(
            &format!("{}: tiles/s ≥ 5× Python's", case.name()),
            format!("{speed:.1}× ({})", ours.backend),
            speed >= 5.0,
        );
    }
    for (case, limit) in [(Case::PassThrough, 1.5), (Case::Crop, 1.3)] {
        if let (Some(ours), Some(floor)) = (find(runs, case, Client::Ours), floor_of(floors, case))
        {
            let ratio = ours.cpu_ms_per_tile / floor.ms_per_tile;
            push(
                &format!("{}: CPU/tile ≤ {limit}× floor", case.name()),
                format!("{ratio:.2}×"),
                ratio <= limit,
            );
        }
    }
    if let Some(scale) = find(runs, Case::Scale, Client::Ours) {
        let ratio = scale
            .first_upload_to_complete_secs
            .map(|t| t / scale.upload_window_secs);
        push(
            "scale: first upload → COMPLETE ≤ 1.5× the upload window",
            match ratio {
                Some(r) => format!(
                    "{r:.2}× ({:.0} s / {:.0} s)",
                    scale.first_upload_to_complete_secs.unwrap_or(0.0),
                    scale.upload_window_secs
                ),
                None => "never COMPLETE".into(),
            },
            ratio.is_some_and(|r| r <= 1.5),
        );
    }
    let ours: Vec<&RunResult> = runs.iter().filter(|r| r.client == Client::Ours).collect();
    // A one-tile job's requests are the fixed ones (join, the drained check), not per tile.
    if let Some(worst) = ours
        .iter()
        .filter(|r| r.case != Case::StartUp)
        .max_by(|a, b| a.aws_requests_per_tile.total_cmp(&b.aws_requests_per_tile))
    {
        push(
            "AWS requests per tile ≤ 1.35",
            format!(
                "{:.3} (worst: {})",
                worst.aws_requests_per_tile,
                worst.case.name()
            ),
            worst.aws_requests_per_tile <= 1.35,
        );
    }
    if let Some(worst) = ours
        .iter()
        .max_by(|a, b| a.usage.peak_rss_mib.total_cmp(&b.usage.peak_rss_mib))
    {
        push(
            "peak RSS ≤ 100 MiB",
            format!(
                "{:.1} MiB (worst: {})",
                worst.usage.peak_rss_mib,
                worst.case.name()
            ),
            worst.usage.peak_rss_mib <= 100.0,
        );
    }
    out
}

/// CPU per tile of a run of `tiles` tiles that took `total_ms`, once the fixed cost of its process
/// is taken out: `fixed_ms` is what the start-up case (one tile) took, so it already paid for
/// one tile, and what is left is spread over the others.
fn marginal_ms_per_tile(total_ms: f64, tiles: u64, fixed_ms: f64) -> f64 {
    (total_ms - fixed_ms).max(0.0) / tiles.saturating_sub(1).max(1) as f64
}

/// The Markdown tables.
pub fn table(runs: &[RunResult], floors: &[CaseFloor], verdicts: &[Verdict]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| case | client | tiles | tiles/s | CPU ms/tile | vs Python | vs floor | peak RSS MiB | AWS req/tile | REST req/tile | wall s | outside upload window s | upload window s | first upload → COMPLETE s |"
    );
    let _ = writeln!(
        s,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    for r in runs {
        let vs_python = match (r.client, find(runs, r.case, Client::Python)) {
            (Client::Ours, Some(py)) => format!("{:.3}×", r.cpu_ms_per_tile / py.cpu_ms_per_tile),
            _ => "".into(),
        };
        let vs_floor = floor_of(floors, r.case)
            .map(|f| format!("{:.2}×", r.cpu_ms_per_tile / f.ms_per_tile))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.1} | {:.2} | {} | {} | {:.1} | {:.3} | {:.3} | {:.1} | {:.1} | {:.1} | {} |",
            r.case.name(),
            r.client.name(),
            r.tiles_stored,
            r.tiles_per_sec,
            r.cpu_ms_per_tile,
            vs_python,
            vs_floor,
            r.usage.peak_rss_mib,
            r.aws_requests_per_tile,
            r.rest_requests_per_tile,
            r.usage.wall_secs,
            r.outside_window_secs,
            r.upload_window_secs,
            r.first_upload_to_complete_secs
                .map(|t| format!("{t:.1}"))
                .unwrap_or_else(|| "never".into()),
        );
    }
    if !floors.is_empty() {
        let _ = writeln!(
            s,
            "\n| case | floor CPU ms/tile | upload bytes/tile | what the floor does |"
        );
        let _ = writeln!(s, "|---|--:|--:|---|");
        for f in floors {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.0} | {} |",
                f.case.name(),
                f.floor.ms_per_tile,
                f.floor.upload_bytes_per_tile,
                f.floor.work
            );
        }
    }
    let startups: Vec<&RunResult> = runs.iter().filter(|r| r.case == Case::StartUp).collect();
    if !startups.is_empty() {
        let _ = writeln!(
            s,
            "\n| client | fixed CPU per process ms (start-up) | pass-through CPU ms/tile beyond it | vs floor |"
        );
        let _ = writeln!(s, "|---|--:|--:|--:|");
        for start in startups {
            let fixed = start.cpu_ms();
            let (beyond, vs_floor) = match find(runs, Case::PassThrough, start.client) {
                Some(p) => {
                    let ms = marginal_ms_per_tile(p.cpu_ms(), p.tiles_stored, fixed);
                    let vs = floor_of(floors, Case::PassThrough)
                        .map(|f| format!("{:.2}×", ms / f.ms_per_tile))
                        .unwrap_or_default();
                    (format!("{ms:.2}"), vs)
                }
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                s,
                "| {} | {fixed:.0} | {beyond} | {vs_floor} |",
                start.client.name()
            );
        }
    }
    let _ = writeln!(s, "\nAWS requests per tile by operation:\n");
    for r in runs {
        let ops: Vec<String> = r
            .aws_per_tile_by_operation
            .iter()
            .map(|(k, v)| format!("{k} {v:.3}"))
            .collect();
        let _ = writeln!(
            s,
            "- {} / {}: {}",
            r.case.name(),
            r.client.name(),
            ops.join(", ")
        );
    }
    if !verdicts.is_empty() {
        let _ = writeln!(s, "\n| target | measured | met |\n|---|---|---|");
        for v in verdicts {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                v.target,
                v.measured,
                if v.met { "yes" } else { "**no**" }
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::marginal_ms_per_tile;

    #[test]
    fn the_start_up_cost_is_taken_out_once_and_its_tile_with_it() {
        // 512 tiles in 630 ms, of which a one-tile job took 30: 600 ms over the other 511.
        let ms = marginal_ms_per_tile(630.0, 512, 30.0);
        assert!((ms - 600.0 / 511.0).abs() < 1e-12, "{ms}");
        // A run cheaper than the start-up (noise) does not go negative.
        assert_eq!(marginal_ms_per_tile(20.0, 512, 30.0), 0.0);
        // One tile: nothing beyond the start-up, and no division by zero.
        assert_eq!(marginal_ms_per_tile(30.0, 1, 30.0), 0.0);
    }
}
