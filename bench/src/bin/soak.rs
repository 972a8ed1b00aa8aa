//! `scripts/soak`: one job drained by several clients at once while the simulator misbehaves —
//! REST 500s, S3 503s, SQS errors, keys that expire — and a chaos loop kills (SIGKILL) or stops
//! (SIGTERM) a random client every so often and restarts it with `-j`. At the end the job must
//! be COMPLETE and `boss-ingest verify` must find every tile identical to its source; the run
//! prints each client's peak RSS and the duplicates the service indexed, and writes
//! `bench/results/soak-<UTC time>.json`.
//!
//! Bounded: loopback only, one job, and the whole soak is killed after `--limit-secs`.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde::Serialize;
use serde_json::{json, Value};

use boss_ingest_bench::jobs::{self, Case};
use boss_ingest_bench::machine::{epoch_secs, machine, utc_stamp};
use boss_ingest_bench::measure::{self, Usage};
use boss_ingest_bench::sim::{Backend, Sim};

/// One job, several clients, a misbehaving service and a chaos loop.
#[derive(Parser, Debug)]
#[command(name = "boss-ingest-soak")]
struct Args {
    /// Tiles of the job (512² deterministic random tiles, 100 per slice). The default keeps 4
    /// clients uploading for about three minutes on 2 cores, so several chaos events land while
    /// tiles are still moving, not after.
    #[arg(long, default_value_t = 60_000)]
    tiles: u64,
    /// Clients draining the job at once.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// `-p` of each client.
    #[arg(short = 'p', long, default_value_t = 2)]
    processes: usize,
    /// The simulator's fault spec (see `boss-sim --help`).
    #[arg(long, default_value = "api:500:0.1,s3:503:0.1,sqs:500:0.05")]
    faults: String,
    /// Lifetime of the job's AWS keys.
    #[arg(long, default_value_t = 20)]
    credential_ttl_secs: u64,
    /// Visibility timeout of the job's queues (a killed client's messages come back after it).
    #[arg(long, default_value_t = 30)]
    visibility_timeout_secs: u32,
    /// Shortest pause between two chaos events.
    #[arg(long, default_value_t = 30)]
    chaos_min_secs: u64,
    /// Longest pause between two chaos events.
    #[arg(long, default_value_t = 60)]
    chaos_max_secs: u64,
    /// `-p` of the final `boss-ingest verify` (its cutouts in flight; the faults still apply).
    #[arg(long, default_value_t = 8)]
    verify_processes: usize,
    /// Seed of the chaos loop and the simulator's faults (default: from the clock; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// The whole soak is stopped, and fails, after this long.
    #[arg(long, default_value_t = 2400)]
    limit_secs: u64,
    /// Directory with the release binaries boss-ingest and boss-sim.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Scratch space (simulator data, client logs); emptied first.
    #[arg(long, default_value = "/tmp/boss-ingest-soak")]
    work_dir: PathBuf,
    /// Where the JSON result goes.
    #[arg(long, default_value = "bench/results")]
    results_dir: PathBuf,
}

fn main() {
    let args = Args::parse();
    match soak(&args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("boss-ingest-soak: error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// xorshift64*: the chaos loop's choices, reproducible from the printed seed.
struct Chaos(u64);

impl Chaos {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One life of one client: from its start to its exit.
#[derive(Debug, Serialize)]
struct Life {
    client: usize,
    joined: bool,
    /// What the chaos loop sent it, if anything.
    sent: Option<&'static str>,
    exit_code: Option<i32>,
    signal: Option<i32>,
    wall_secs: f64,
    peak_rss_mib: f64,
    /// The end of its stderr when it ended in a way nobody asked for.
    unexpected: Option<String>,
}

/// A chaos event.
#[derive(Debug, Serialize)]
struct Event {
    at_secs: f64,
    client: usize,
    signal: &'static str,
    /// Whether the service stored a tile after it: the client was cut off mid-upload, not
    /// while it waited for the job to end.
    while_uploading: bool,
}

struct Slot {
    pid: Option<libc::pid_t>,
    lives: usize,
    sent: Option<&'static str>,
    finished: bool,
}

struct Soak<'a> {
    args: &'a Args,
    ours: PathBuf,
    work: PathBuf,
    config: PathBuf,
    sim_token: String,
    sim_aws: String,
    exits: mpsc::Sender<(usize, Result<Usage>)>,
}

impl Soak<'_> {
    /// Starts one life of client `slot`; its exit arrives on the channel.
    fn start(&self, slot: usize, life: usize, join: bool) -> Result<libc::pid_t> {
        let dir = self.work.join(format!("client-{slot}"));
        std::fs::create_dir_all(dir.join("home"))?;
        let name = |ext: &str| dir.join(format!("life-{life}.{ext}"));
        let mut cmd = Command::new(&self.ours);
        cmd.arg(&self.config)
            .args(["-f", "-p", &self.args.processes.to_string()])
            .args(["--progress", "log", "-l"])
            .arg(name("log"));
        if join {
            cmd.args(["-j", "1"]);
        }
        cmd.env("INTERN_TOKEN", &self.sim_token)
            .env("AWS_ENDPOINT_URL", &self.sim_aws)
            .env("HOME", dir.join("home"))
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(name("out"))?)
            .stderr(std::fs::File::create(name("err"))?)
            .process_group(0);
        let running = measure::start(cmd)?;
        let pid = running.pid();
        let exits = self.exits.clone();
        let limit = Duration::from_secs(self.args.limit_secs);
        std::thread::spawn(move || {
            let _ = exits.send((slot, running.wait(limit)));
        });
        Ok(pid)
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(1500);
    text[text.floor_char_boundary(start)..].to_string()
}

fn soak(args: &Args) -> Result<bool> {
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = std::path::absolute(&args.work_dir)?;
    let bin_dir = std::path::absolute(&args.bin_dir)?;
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    std::fs::create_dir_all(&work)?;
    eprintln!(
        "soak: {} tiles, {} clients × -p {}, faults {}, keys expire every {} s, chaos every {}–{} s, seed {seed}",
        args.tiles,
        args.clients,
        args.processes,
        args.faults,
        args.credential_ttl_secs,
        args.chaos_min_secs,
        args.chaos_max_secs
    );
    let sim = Sim::start(
        &bin_dir.join("boss-sim"),
        &Backend::Embedded,
        &work,
        &[
            "--faults".into(),
            args.faults.clone(),
            "--seed".into(),
            seed.to_string(),
            "--credential-ttl-secs".into(),
            args.credential_ttl_secs.to_string(),
            "--visibility-timeout-secs".into(),
            args.visibility_timeout_secs.to_string(),
        ],
    )?;
    let config = work.join("job.json");
    let job_config = jobs::config(Case::Scale, args.tiles, sim.host(), &work);
    std::fs::write(&config, serde_json::to_vec_pretty(&job_config)?)?;
    let expected = jobs::tile_count(Case::Scale, args.tiles);

    let (exits, exited) = mpsc::channel();
    let soak = Soak {
        args,
        ours: bin_dir.join("boss-ingest"),
        work: work.clone(),
        config: config.clone(),
        sim_token: sim.token.clone(),
        sim_aws: sim.aws.clone(),
        exits,
    };
    let started = Instant::now();
    let started_epoch = epoch_secs(SystemTime::now());
    let limit = Duration::from_secs(args.limit_secs);
    let mut chaos = Chaos(seed);
    let pause = |chaos: &mut Chaos| {
        let span = args.chaos_max_secs.saturating_sub(args.chaos_min_secs) + 1;
        Duration::from_secs(args.chaos_min_secs + chaos.below(span))
    };
    let state = |sim: &Sim| -> String {
        runtime
            .block_on(sim.job(1))
            .ok()
            .and_then(|j| j["state"].as_str().map(str::to_string))
            .unwrap_or_default()
    };

    // The first client creates the job; the others join it once it exists.
    let mut slots: Vec<Slot> = (0..args.clients)
        .map(|_| Slot {
            pid: None,
            lives: 0,
            sent: None,
            finished: false,
        })
        .collect();
    slots[0].pid = Some(soak.start(0, 0, false)?);
    slots[0].lives = 1;
    while state(&sim).is_empty() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!(
                "the first client did not create a job within 60 s: {}",
                tail(&work.join("client-0/life-0.err"))
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    for (i, slot) in slots.iter_mut().enumerate().skip(1) {
        slot.pid = Some(soak.start(i, 0, true)?);
        slot.lives = 1;
    }

    let mut lives: Vec<Life> = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut next_chaos = started + pause(&mut chaos);
    let mut complete_at: Option<f64> = None;
    while !slots.iter().all(|s| s.finished) {
        if started.elapsed() > limit {
            for s in &slots {
                if let Some(pid) = s.pid {
                    // SAFETY: the pid of our own unreaped child (its waiting thread reaps it).
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
            }
            bail!(
                "the soak did not finish within {} s (job {})",
                args.limit_secs,
                state(&sim)
            );
        }
        let job_state = state(&sim);
        if job_state == "COMPLETE" && complete_at.is_none() {
            complete_at = Some(started.elapsed().as_secs_f64());
            eprintln!(
                "soak: job COMPLETE after {:.0} s",
                complete_at.unwrap_or(0.0)
            );
        }
        while let Ok((i, usage)) = exited.try_recv() {
            let usage = usage.with_context(|| format!("client {i}"))?;
            let slot = &mut slots[i];
            let life = slot.lives - 1;
            let sent = slot.sent.take();
            slot.pid = None;
            let asked = match sent {
                Some("SIGKILL") => usage.signal == Some(libc::SIGKILL),
                Some(_) => usage.exit_code == Some(143),
                None => usage.exit_code == Some(0),
            };
            let unexpected =
                (!asked).then(|| tail(&work.join(format!("client-{i}/life-{life}.err"))));
            eprintln!(
                "soak: client {i} life {life} ended ({}) after {:.0} s, peak RSS {:.1} MiB{}",
                match (usage.exit_code, usage.signal) {
                    (Some(c), _) => format!("exit {c}"),
                    (_, Some(s)) => format!("signal {s}"),
                    _ => "?".into(),
                },
                usage.wall_secs,
                usage.peak_rss_mib,
                if asked { "" } else { " — UNEXPECTED" }
            );
            lives.push(Life {
                client: i,
                joined: i != 0 || life > 0,
                sent,
                exit_code: usage.exit_code,
                signal: usage.signal,
                wall_secs: usage.wall_secs,
                peak_rss_mib: usage.peak_rss_mib,
                unexpected,
            });
            if usage.exit_code == Some(0) && state(&sim) == "COMPLETE" {
                slot.finished = true;
            } else {
                slot.pid = Some(soak.start(i, slot.lives, true)?);
                slot.lives += 1;
            }
        }
        if Instant::now() >= next_chaos && job_state != "COMPLETE" {
            let running: Vec<usize> = (0..slots.len())
                .filter(|&i| slots[i].pid.is_some() && slots[i].sent.is_none())
                .collect();
            if !running.is_empty() {
                let i = running[chaos.below(running.len() as u64) as usize];
                let (signal, name) = if chaos.below(2) == 0 {
                    (libc::SIGKILL, "SIGKILL")
                } else {
                    (libc::SIGTERM, "SIGTERM")
                };
                if let Some(pid) = slots[i].pid {
                    // SAFETY: the pid of our own unreaped child (its waiting thread reaps it
                    // only after it exits, and its exit has not been received yet).
                    unsafe { libc::kill(pid, signal) };
                    slots[i].sent = Some(name);
                    let at = started.elapsed().as_secs_f64();
                    eprintln!("soak: {at:.0} s: {name} to client {i}");
                    events.push(Event {
                        at_secs: at,
                        client: i,
                        signal: name,
                        while_uploading: false,
                    });
                }
            }
            next_chaos = Instant::now() + pause(&mut chaos);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let drained_secs = started.elapsed().as_secs_f64();

    let job = runtime.block_on(sim.job(1))?;
    let last_upload = job["last_upload"].as_f64().unwrap_or(0.0) - started_epoch;
    for event in &mut events {
        event.while_uploading = event.at_secs < last_upload;
    }
    let mid_upload = events.iter().filter(|e| e.while_uploading).count();
    eprintln!("soak: verifying every tile through the cutout API");
    let verify_started = Instant::now();
    let verify = Command::new(bin_dir.join("boss-ingest"))
        .arg("verify")
        .arg(&config)
        .args(["-j", "1", "-p", &args.verify_processes.to_string()])
        .env("INTERN_TOKEN", &sim.token)
        .env("AWS_ENDPOINT_URL", &sim.aws)
        .env("HOME", work.join("client-0/home"))
        .current_dir(&work)
        .stdin(Stdio::null())
        .output()
        .context("running boss-ingest verify")?;
    let verify_secs = verify_started.elapsed().as_secs_f64();
    let verify_out = String::from_utf8_lossy(&verify.stdout).trim().to_string();
    let verify_line = verify_out.lines().last().unwrap_or_default().to_string();
    let identical = format!("All {expected} tiles are identical to the source.");

    let mut peak_by_client: BTreeMap<usize, f64> = BTreeMap::new();
    for life in &lives {
        let peak = peak_by_client.entry(life.client).or_default();
        *peak = peak.max(life.peak_rss_mib);
    }
    let count = |k: &str| job[k].as_u64().unwrap_or(0);
    let unexpected = lives.iter().filter(|l| l.unexpected.is_some()).count();
    let checks = [
        ("job COMPLETE", job["state"] == "COMPLETE"),
        (
            "every tile stored",
            count("tiles_stored") >= expected && count("tiles_indexed") >= expected,
        ),
        (
            "no chunk lost on BossDB",
            count("chunks_lost_on_bossdb") == 0,
        ),
        (
            "verify: every tile identical",
            verify.status.success() && verify_line == identical,
        ),
        ("no client ended unasked", unexpected == 0),
        ("a chaos event while tiles were uploading", mid_upload > 0),
    ];

    println!(
        "soak: {expected} tiles, {} clients × -p {}, seed {seed}",
        args.clients, args.processes
    );
    println!(
        "  drained in {drained_secs:.0} s (last upload at {last_upload:.0} s, COMPLETE at {:.0} s); {} chaos events, {mid_upload} of them mid-upload ({} SIGKILL, {} SIGTERM); {} client lives",
        complete_at.unwrap_or(drained_secs),
        events.len(),
        events.iter().filter(|e| e.signal == "SIGKILL").count(),
        events.iter().filter(|e| e.signal == "SIGTERM").count(),
        lives.len()
    );
    println!(
        "  service: {} tiles stored, {} duplicate tiles indexed, {} chunks assembled, {} lost on BossDB",
        count("tiles_stored"),
        count("duplicate_tiles"),
        count("chunks_assembled"),
        count("chunks_lost_on_bossdb")
    );
    println!("  faults injected: {}", job["faults_injected"]);
    println!("  refused for expired keys: {}", job["aws_denied"]);
    for (client, peak) in &peak_by_client {
        println!("  client {client}: peak RSS {peak:.1} MiB");
    }
    println!("  verify ({verify_secs:.0} s): {verify_line}");
    for (name, ok) in &checks {
        println!("  {} {name}", if *ok { "ok  " } else { "FAIL" });
    }
    let passed = checks.iter().all(|(_, ok)| *ok);

    let stamp = utc_stamp(SystemTime::now());
    std::fs::create_dir_all(&args.results_dir)?;
    let path = args.results_dir.join(format!("soak-{stamp}.json"));
    let result = json!({
        "time_utc": stamp,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "machine": machine(),
        "seed": seed,
        "tiles": expected,
        "clients": args.clients,
        "processes": args.processes,
        "faults": args.faults,
        "credential_ttl_secs": args.credential_ttl_secs,
        "visibility_timeout_secs": args.visibility_timeout_secs,
        "drained_secs": drained_secs,
        "complete_at_secs": complete_at,
        "chaos": events,
        "lives": lives,
        "peak_rss_mib_by_client": peak_by_client,
        "service": job,
        "verify": {"secs": verify_secs, "exit_code": verify.status.code(), "stdout": verify_out},
        "checks": checks.iter().map(|(n, ok)| (n.to_string(), Value::Bool(*ok))).collect::<serde_json::Map<_, _>>(),
        "passed": passed,
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&result)?)
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("soak: results in {}", path.display());
    Ok(passed)
}
