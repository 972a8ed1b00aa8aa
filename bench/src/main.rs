//! `scripts/bench`: boss-ingest against the Python reference client 0.12 on identical jobs, and
//! against the floor (the least CPU a tile needs), on a local boss-sim. The parts are in the
//! library (`src/lib.rs`), which `scripts/soak` shares.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::json;

use boss_ingest_bench::jobs::{self, Case};
use boss_ingest_bench::machine::{machine, utc_stamp};
use boss_ingest_bench::report::{self, CaseFloor};
use boss_ingest_bench::run::{self, Client, RunResult, Tools};
use boss_ingest_bench::sim::{self, Backend};
use boss_ingest_bench::{data, floor};

/// Benchmarks boss-ingest against the Python reference client and the floor.
#[derive(Parser, Debug)]
#[command(name = "boss-ingest-bench")]
struct Args {
    /// Tiles per case (pass-through and re-encode: one 1024² slice each; crop: four per slice).
    #[arg(long, default_value_t = 512)]
    tiles: u64,
    /// `-p` for both clients.
    #[arg(short = 'p', long, default_value_t = 2)]
    processes: usize,
    /// A small version (48 tiles per case; the Python client on pass-through only) that finishes
    /// in under 3 minutes.
    #[arg(long)]
    quick: bool,
    /// Cases to run, comma-separated: start-up, pass-through, re-encode, crop, scale.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "start-up,pass-through,re-encode,crop"
    )]
    cases: Vec<String>,
    /// Skip the Python client.
    #[arg(long)]
    no_python: bool,
    /// Also run pass-through with 10× the tiles (ours only) and compare peak RSS.
    #[arg(long)]
    memory_check: bool,
    /// Tiles of the scale case (512² random tiles, ours only).
    #[arg(long, default_value_t = 100_000)]
    scale_tiles: u64,
    /// `embedded` or `moto`; default: embedded when this boss-sim has it.
    #[arg(long)]
    backend: Option<String>,
    /// moto_server, for the moto backend.
    #[arg(long, env = "BOSS_SIM_MOTO")]
    moto: Option<PathBuf>,
    /// The Python reference client's executable.
    #[arg(long, env = "BOSS_SIM_PYTHON_CLIENT")]
    python_client: Option<PathBuf>,
    /// Directory with the release binaries boss-ingest and boss-sim.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Cache of generated stacks.
    #[arg(long, default_value = "target/bench-data")]
    data_dir: PathBuf,
    /// Scratch space for runs (simulator data, logs).
    #[arg(long, default_value = "/tmp/boss-ingest-bench")]
    work_dir: PathBuf,
    /// Where the JSON result goes (a file named by the UTC time).
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
}

fn main() {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("boss-ingest-bench: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(bench(args)) {
        eprintln!("boss-ingest-bench: error: {e:#}");
        std::process::exit(1);
    }
}

async fn bench(args: Args) -> Result<()> {
    let tiles = if args.quick { 48 } else { args.tiles };
    // Clients run in their own scratch directories: every path they are given is absolute.
    let data_dir = std::path::absolute(&args.data_dir)?;
    let bin_dir = std::path::absolute(&args.bin_dir)?;
    let cases: Vec<Case> = args
        .cases
        .iter()
        .map(|c| Case::parse(c).with_context(|| format!("unknown case {c:?}")))
        .collect::<Result<_>>()?;
    let sim_bin = bin_dir.join("boss-sim");
    let backend = match args.backend.as_deref() {
        Some("embedded") => Backend::Embedded,
        Some("moto") => Backend::Moto(args.moto.clone().context("--moto or BOSS_SIM_MOTO")?),
        Some(other) => bail!("unknown backend {other:?} (embedded or moto)"),
        None if sim::has_embedded(&sim_bin) => Backend::Embedded,
        None => Backend::Moto(
            args.moto
                .clone()
                .context("this boss-sim has no embedded backend: give --moto or BOSS_SIM_MOTO")?,
        ),
    };
    let tools = Tools {
        ours: bin_dir.join("boss-ingest"),
        sim: sim_bin,
        python: if args.no_python {
            None
        } else {
            args.python_client.clone()
        },
        backend,
    };
    let limit = Duration::from_secs(if args.quick { 120 } else { 1800 });
    let machine = machine();
    eprintln!(
        "bench: {} tiles per case, -p {}, {} backend, {}",
        tiles,
        args.processes,
        tools.backend.name(),
        machine["cpu"].as_str().unwrap_or("?")
    );

    let mut runs: Vec<RunResult> = Vec::new();
    let mut floors = Vec::new();
    let mut extra = serde_json::Map::new();
    let rounds = if args.quick { 2 } else { 5 };
    for &case in &cases {
        let stack = match case {
            Case::StartUp => data::png_stack(&data_dir, 1)?,
            Case::PassThrough | Case::Reencode => {
                let slices = if args.memory_check && case == Case::PassThrough {
                    tiles * 10
                } else {
                    tiles
                };
                data::png_stack(&data_dir, slices)?
            }
            Case::Crop => data::tiff_stack(&data_dir, jobs::extent(case, tiles).2)?,
            Case::Scale => data_dir.clone(),
        };
        // The floor over the distinct files (the rest are links to them).
        let slices = match case {
            Case::Crop => jobs::extent(case, tiles).2,
            _ => case.tiles(tiles),
        };
        let sample: Vec<PathBuf> = (0..data::DISTINCT.min(slices))
            .map(|z| {
                let ext = if case == Case::Crop { "tif" } else { "png" };
                stack.join(data::slice_name(z, ext))
            })
            .collect();
        let floor = match case {
            Case::PassThrough => Some(floor::pass_through(&sample, rounds)?),
            Case::Reencode => Some(floor::reencode(&sample, rounds)?),
            Case::Crop => Some(floor::crop(&sample, rounds)?),
            Case::Scale | Case::StartUp => None,
        };
        if let Some(floor) = floor {
            eprintln!(
                "bench: {} floor {:.3} ms/tile",
                case.name(),
                floor.ms_per_tile
            );
            floors.push(CaseFloor { case, floor });
        }
        let case_tiles = if case == Case::Scale {
            args.scale_tiles
        } else {
            case.tiles(tiles)
        };
        let mut clients = vec![Client::Ours];
        // The Python client does the same codec work in both stack cases (it always decodes
        // and re-encodes), and a one-tile job keeps it waiting about a minute; a quick run measures
        // it on pass-through only, to stay within its time.
        let python_here = !(args.quick && matches!(case, Case::Reencode | Case::StartUp));
        if case.python_can() && tools.python.is_some() && python_here {
            clients.push(Client::Python);
        }
        for client in clients {
            let work = args.work_dir.join(format!(
                "{}-{}",
                case.name(),
                if client == Client::Ours {
                    "ours"
                } else {
                    "python"
                }
            ));
            eprintln!(
                "bench: {} on {} ({} tiles)",
                client.name(),
                case.name(),
                case_tiles
            );
            let limit = if case == Case::Scale {
                Duration::from_secs(3600)
            } else {
                limit
            };
            let spec = run::Spec {
                client,
                case,
                tiles: case_tiles,
                processes: args.processes,
                stack: &stack,
                work: &work,
                limit,
            };
            let r = run::run(&tools, spec).await?;
            eprintln!(
                "bench:   {:.1} tiles/s, {:.2} CPU ms/tile, {:.1} MiB peak, {:.3} AWS req/tile",
                r.tiles_per_sec, r.cpu_ms_per_tile, r.usage.peak_rss_mib, r.aws_requests_per_tile
            );
            // Simulator data of a finished run is not needed again.
            let _ = std::fs::remove_dir_all(work.join("sim-data"));
            runs.push(r);
        }
        if args.memory_check && case == Case::PassThrough {
            let big = tiles * 10;
            eprintln!("bench: boss-ingest on pass-through, 10× ({big} tiles)");
            let work = args.work_dir.join("pass-through-10x");
            let spec = run::Spec {
                client: Client::Ours,
                case,
                tiles: big,
                processes: args.processes,
                stack: &stack,
                work: &work,
                limit: Duration::from_secs(3600),
            };
            let r = run::run(&tools, spec).await?;
            let _ = std::fs::remove_dir_all(work.join("sim-data"));
            let small = runs
                .iter()
                .find(|r| r.case == case && r.client == Client::Ours)
                .map(|r| r.usage.peak_rss_mib)
                .unwrap_or(0.0);
            eprintln!(
                "bench:   peak RSS {:.1} MiB at {} tiles, {:.1} MiB at {big} tiles",
                small, tiles, r.usage.peak_rss_mib
            );
            extra.insert(
                "memory_check".into(),
                json!({"tiles": [tiles, big], "peak_rss_mib": [small, r.usage.peak_rss_mib],
                       "growth": r.usage.peak_rss_mib / small - 1.0, "run": r}),
            );
        }
    }

    let verdicts = report::verdicts(&runs, &floors);
    let table = report::table(&runs, &floors, &verdicts);
    println!("{table}");
    if let Some(m) = extra.get("memory_check") {
        println!(
            "Peak RSS, pass-through: {:.1} MiB at {} tiles, {:.1} MiB at {} tiles ({:+.1} %).",
            m["peak_rss_mib"][0].as_f64().unwrap_or(0.0),
            m["tiles"][0],
            m["peak_rss_mib"][1].as_f64().unwrap_or(0.0),
            m["tiles"][1],
            m["growth"].as_f64().unwrap_or(0.0) * 100.0
        );
    }

    let stamp = utc_stamp(SystemTime::now());
    std::fs::create_dir_all(&args.results_dir)?;
    let path = args.results_dir.join(format!("{stamp}.json"));
    let result = json!({
        "time_utc": stamp,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine,
        "backend": tools.backend.name(),
        "processes": args.processes,
        "tiles_per_case": tiles,
        "quick": args.quick,
        "runs": runs,
        "floors": floors,
        "targets": verdicts,
        "extra": extra,
        "table_markdown": table,
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&result)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("bench: results in {}", path.display());
    Ok(())
}
