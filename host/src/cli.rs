//! The command line, in two stages: clap parses the arguments into the plain [`Args`] struct,
//! then [`Args::into_command`] checks combinations and defaults and builds the ready-to-use
//! settings of one [`Command`]. Neither stage does I/O (no file is opened, nothing is printed),
//! so every flag is tested here, next to its definition.
//!
//! The ingest form is the Python client's, unchanged, so existing scripts keep working:
//! `boss-ingest <config.json> [-a TOKEN] [-j ID] [-c] [-f] [-m] [-p N] [-r SECS] [-l FILE]
//! [-v LEVEL]`, and `boss-ingest -c -j ID` (no config) cancels a job on the production Boss.
//! New verbs are subcommands: `check`, `verify`, `plugins`, `completions`, and `man` (which
//! `scripts/man` calls).
//!
//! A word in the first position is a subcommand if it is one of those names, otherwise it is the
//! config path. So a config file literally named like one (`check`, `man`, ...) is reached with a
//! path that is not the bare name: `boss-ingest ./check`.
//!
//! Every environment variable the client reads is listed in the top-level help ([`AFTER_HELP`]),
//! and each flag with an environment fallback names it in its own help.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use plugin_abi::Dtype;

use crate::metrics::MetricsAddr;

/// Where the Python client (and so a config-less cancel) talks to: the production Boss.
pub const PRODUCTION_PROTOCOL: &str = "https";
pub const PRODUCTION_HOST: &str = "api.bossdb.io";

/// The end of the top-level help (and of the man page): the forms, the environment, exit codes.
pub const AFTER_HELP: &str = "\
The first form is the Python client's command line: create a job from <CONFIG> (or join job -j ID)
and upload it. `boss-ingest -c -j ID` without a config cancels a job on the production Boss.

A config file named like a subcommand (check, verify, plugins, completions, man) needs a path:
`boss-ingest ./check`.

Environment:
  INTERN_TOKEN                     the Boss API token when -a is not given (also the intern
                                   plugin's source token when its params name none)
  BOSS_INGEST_LOG                  log filter over -v, in env_logger syntax: boss_ingest=debug
  BOSS_INGEST_PROGRESS_SECS        seconds between progress updates (default: bar 2, log/json 30)
  BOSS_INGEST_PLUGIN_PATH          directories searched first for plugin libraries, split like PATH
  AWS_ENDPOINT_URL                 S3 and SQS endpoint instead of AWS (how a local Boss is reached)
  AWS_ENDPOINT_URL_S3              S3 endpoint, over AWS_ENDPOINT_URL
  AWS_ENDPOINT_URL_SQS             SQS endpoint, over AWS_ENDPOINT_URL
  BOSS_INGEST_SOURCE_ENDPOINT_URL  endpoint for s3:// sources only, over the AWS_ENDPOINT_URL* ones
  AWS_PROFILE, AWS_ACCESS_KEY_ID,  credentials for reading s3:// sources (the standard AWS chain;
  AWS_SECRET_ACCESS_KEY, ...       the job's own keys come from the Boss)
  HOME                             holds ~/.intern/intern.cfg and ~/.boss-ingest (logs, failure
                                   reports, plugins)

Exit codes: 0 ok, 1 finished with quarantined or bad tiles (or --follow gave up waiting; the job
stays open), 2 usage or config error, 3 service or job error, 130 interrupted (SIGINT, Ctrl-C),
143 terminated (SIGTERM); after 1 from --follow, 130 or 143 the job is resumed with -j ID.";

/// First stage: what clap parsed, without judgement.
#[derive(Debug, Parser)]
#[command(
    name = "boss-ingest",
    version,
    about = "Fast, loss-free upload of image volumes into the Boss (BossDB)",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Args {
    #[command(subcommand)]
    pub subcommand: Option<Sub>,

    #[command(flatten)]
    pub ingest: IngestArgs,
}

/// The Python client's flags, same short and long names.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Path to the ingest job configuration file.
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub auth: AuthArgs,

    /// ID of an existing ingest job to join (resume) or cancel.
    #[arg(short = 'j', long = "job-id", value_name = "ID")]
    pub job_id: Option<u64>,

    /// Cancel (and remove) the ingest job given with -j. Data already ingested stays.
    #[arg(short = 'c', long = "cancel")]
    pub cancel: bool,

    /// Answer yes to every confirmation prompt (needed when stdin is not a terminal).
    #[arg(short = 'f', long = "force")]
    pub force: bool,

    /// Leave the job in the uploading state when done instead of completing it.
    #[arg(short = 'm', long = "manual-complete")]
    pub manual_complete: bool,

    /// Number of parallel plugin workers (default: the number of cores).
    #[arg(short = 'p', long = "processes_nb", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub processes: Option<u32>,

    /// Volumetric jobs: chunks held in memory at once, from receive to upload (default: 2 per
    /// worker, as long as their voxels fit in 4 GiB). Each costs about its voxel bytes, e.g.
    /// 128 MiB for a 1024×1024×64 uint16 chunk.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub chunks_in_flight: Option<u32>,

    /// Start the plugin workers spread over SECS seconds instead of all at once, easing the load
    /// on a shared file system when many clients start together.
    #[arg(short = 'r', long = "ramp_seconds", value_name = "SECS")]
    pub ramp_seconds: Option<u64>,

    #[command(flatten)]
    pub log: LogArgs,

    /// How to show progress: a bar on a terminal, a log line every 30 s, or JSON lines (interval:
    /// $BOSS_INGEST_PROGRESS_SECS).
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Quarantine a tile after this many deliveries of its message (ApproximateReceiveCount).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,

    /// After SIGTERM or SIGINT (Ctrl-C), finish the tiles or chunks in flight for at most SECS
    /// seconds, then leave what is unfinished on the queue for a later `-j` run. The default fits
    /// inside the 30 s Kubernetes waits before it kills a pod.
    #[arg(long, value_name = "SECS", default_value_t = 25)]
    pub drain_secs: u64,

    /// Long-poll wait of each ReceiveMessage in seconds (tests use short waits).
    #[arg(long, value_name = "SECS", default_value_t = 20, hide = true, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub receive_wait_secs: u32,

    /// Serve Prometheus metrics at http://HOST:PORT/metrics while the job runs. A bare PORT or
    /// :PORT means 127.0.0.1:PORT (this machine only); 0.0.0.0:PORT serves every interface;
    /// port 0 picks a free port. Bound before any job is created: an address in use is an error.
    #[arg(long, value_name = "HOST:PORT", value_parser = MetricsAddr::parse, conflicts_with = "cancel")]
    pub metrics_addr: Option<MetricsAddr>,

    #[command(flatten)]
    pub follow: FollowArgs,

    /// With --follow: give up after this long without a new source (e.g. 90s, 30m, 24h, 2d),
    /// leaving the job open to resume.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration,
          requires = "follow")]
    pub follow_timeout: Duration,
}

/// `--follow` and `--settle-secs`, shared by ingest and `check`.
#[derive(Debug, clap::Args)]
pub struct FollowArgs {
    /// The sources are still being written: a source that does not exist yet is waited for (its
    /// tile is left in the queue, not counted as a failure), and a file is read only once it has
    /// stopped changing.
    #[arg(long)]
    pub follow: bool,

    /// With --follow: read a file only once its size and mtime have not changed for N seconds.
    /// 0 reads any file that exists, which is unsafe for files still being written.
    #[arg(long, value_name = "N", default_value_t = 10, requires = "follow")]
    pub settle_secs: u64,
}

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// Boss API token (default: $INTERN_TOKEN, then ~/.intern/intern.cfg, then ./token.json).
    #[arg(short = 'a', long = "api-token", value_name = "TOKEN")]
    pub api_token: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Log file (default: ~/.boss-ingest/ingest_log<date>_pid<pid>.log).
    #[arg(short = 'l', long = "log-file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,

    /// Log level: critical, error, warning, info, debug (or trace); $BOSS_INGEST_LOG refines it.
    #[arg(short = 'v', long = "log-level", value_name = "LEVEL", default_value = "warning",
          value_parser = parse_log_level)]
    pub log_level: log::LevelFilter,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Check a config and its source data without network or token: validate, load the
    /// plugins, and run them over every tile (or a sample).
    Check(CheckArgs),
    /// Read a job's data back from the Boss and compare it with the source, tile by tile.
    Verify(VerifyArgs),
    /// List the plugins and processor classes boss-ingest can find (in $BOSS_INGEST_PLUGIN_PATH,
    /// ~/.boss-ingest/plugins, next to the executable).
    Plugins(PluginsArgs),
    /// Print a shell completion script to stdout: `boss-ingest completions bash`.
    Completions(CompletionsArgs),
    /// Write the man pages into DIR (boss-ingest.1 and one per subcommand).
    Man(ManArgs),
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Path to the ingest job configuration file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// Check N tiles picked at random instead of every tile.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,

    /// Seed for --sample, to check the same tiles again.
    #[arg(long, value_name = "N", requires = "sample")]
    pub seed: Option<u64>,

    /// Write the report as JSON to FILE ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// The dtype every tile must have: uint8, uint16, uint32 or uint64 (default: the dtype most
    /// tiles have).
    #[arg(long, value_name = "DTYPE", value_parser = parse_dtype)]
    pub dtype: Option<Dtype>,

    /// Number of parallel plugin workers (default: the number of cores).
    #[arg(short = 'p', long = "processes_nb", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub processes: Option<u32>,

    /// Most problems listed one by one (all are counted).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_listed: usize,

    /// Also report which sources are present, missing and still settling; missing and settling
    /// sources are not problems.
    #[command(flatten)]
    pub follow: FollowArgs,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Path to the ingest job configuration file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,

    /// The job whose data is read back: each tile must then have its channel's dtype. A
    /// finished or cancelled job is fine.
    #[arg(short = 'j', long = "job-id", value_name = "ID")]
    pub job_id: Option<u64>,

    #[command(flatten)]
    pub auth: AuthArgs,

    /// Number of parallel workers (default: the number of cores).
    #[arg(short = 'p', long = "processes_nb", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub processes: Option<u32>,

    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, clap::Args)]
pub struct PluginsArgs {
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// How progress is shown during an ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, log lines otherwise.
    Auto,
    Bar,
    Log,
    Json,
}

/// A duration as `90s`, `30m`, `24h`, `2d`, or parts of those run together (`1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: write a number and a unit, e.g. 90s, 30m, 24h");
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// A voxel type as the Boss names it (`uint16`).
fn parse_dtype(s: &str) -> Result<Dtype, String> {
    Dtype::from_name(s).ok_or_else(|| format!("{s:?} is not uint8, uint16, uint32 or uint64"))
}

/// The Python client's level names (case-insensitive), plus the Rust ones.
fn parse_log_level(s: &str) -> Result<log::LevelFilter, String> {
    match s.to_ascii_lowercase().as_str() {
        "critical" | "error" => Ok(log::LevelFilter::Error),
        "warning" | "warn" => Ok(log::LevelFilter::Warn),
        "info" => Ok(log::LevelFilter::Info),
        "debug" => Ok(log::LevelFilter::Debug),
        "trace" => Ok(log::LevelFilter::Trace),
        "off" => Ok(log::LevelFilter::Off),
        _ => Err("expected one of critical, error, warning, info, debug, trace, off".into()),
    }
}

/// A combination of flags that clap alone cannot rule out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error(
        "an ingest job configuration file is required: boss-ingest <config.json> \
         (or -c -j ID to cancel a job, or a subcommand: check, verify, plugins, completions, man; see \
         --help)"
    )]
    NoConfig,
    #[error("you must provide an ingest job ID to cancel: boss-ingest [config.json] -c -j ID")]
    CancelWithoutJob,
}

/// Second stage: one verb with checked, ready-to-use settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Ingest(IngestSettings),
    Cancel(CancelSettings),
    Check(CheckSettings),
    Verify(VerifySettings),
    Plugins(PluginsSettings),
    Completions(CompletionsSettings),
    Man(ManSettings),
}

/// Create (or join with `-j`) a job and upload it.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestSettings {
    pub config: PathBuf,
    pub api_token: Option<String>,
    pub job_id: Option<u64>,
    pub force: bool,
    pub manual_complete: bool,
    /// Parallel plugin workers, at least 1.
    pub processes: usize,
    /// Volumetric jobs: chunks in flight; `None` = decided from the workers and chunk size once
    /// the job's dtype is known.
    pub chunks_in_flight: Option<usize>,
    pub ramp_seconds: Option<u64>,
    pub log_file: Option<PathBuf>,
    pub log_level: log::LevelFilter,
    pub progress: ProgressMode,
    /// Quarantine after this many receives, at least 1.
    pub max_attempts: u32,
    /// Long-poll wait per ReceiveMessage, 0..=20 s.
    pub receive_wait_secs: u32,
    /// The bound of the drain after a signal.
    pub drain_secs: u64,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics_addr: Option<MetricsAddr>,
    /// `--follow`: wait for sources still being written.
    pub follow: Option<Follow>,
}

/// `--follow`'s settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Follow {
    /// Read a local file only once unchanged for this long (`--settle-secs`).
    pub settle: Duration,
    /// Give up after this long without a new source (`--follow-timeout`; ingest only).
    pub timeout: Duration,
}

impl FollowArgs {
    fn settings(&self, timeout: Duration) -> Option<Follow> {
        self.follow.then_some(Follow {
            settle: Duration::from_secs(self.settle_secs),
            timeout,
        })
    }
}

/// Cancel job `job_id`; without a config, on the production Boss.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelSettings {
    pub config: Option<PathBuf>,
    pub api_token: Option<String>,
    pub job_id: u64,
    pub force: bool,
    pub log_file: Option<PathBuf>,
    pub log_level: log::LevelFilter,
}

/// Where `check --json` writes its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonOut {
    Stdout,
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckSettings {
    pub config: PathBuf,
    pub sample: Option<u64>,
    pub seed: Option<u64>,
    pub json: Option<JsonOut>,
    pub dtype: Option<Dtype>,
    /// Parallel plugin workers, at least 1.
    pub processes: usize,
    pub max_listed: usize,
    /// `--follow`: report present, missing and settling sources (the timeout is unused).
    pub follow: Option<Follow>,
    /// Also log to this file (`-l`); `check` logs to stderr only otherwise.
    pub log_file: Option<PathBuf>,
    pub log_level: log::LevelFilter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VerifySettings {
    pub config: PathBuf,
    pub api_token: Option<String>,
    pub job_id: Option<u64>,
    pub processes: usize,
    pub log_file: Option<PathBuf>,
    pub log_level: log::LevelFilter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PluginsSettings {
    /// Also log to this file (`-l`); stderr only otherwise.
    pub log_file: Option<PathBuf>,
    pub log_level: log::LevelFilter,
}

/// Print the completion script for `shell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionsSettings {
    pub shell: Shell,
}

/// Write the man pages into `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManSettings {
    pub dir: PathBuf,
}

impl Args {
    /// Parses `args` (the first item is the program name). `Err` is clap's own error, which
    /// prints itself (help and version included) with the right exit code.
    pub fn parse_from_iter<I, T>(args: I) -> Result<Args, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Args::try_parse_from(args)
    }

    /// Checks flag combinations and fills defaults. `cores` is the default worker count.
    pub fn into_command(self, cores: usize) -> Result<Command, UsageError> {
        let workers = |p: Option<u32>| p.map_or(cores.max(1), |p| p as usize);
        let cmd = match self.subcommand {
            Some(Sub::Check(a)) => Command::Check(CheckSettings {
                config: a.config,
                sample: a.sample,
                seed: a.seed,
                json: a.json.map(|p| {
                    if p.as_os_str() == "-" {
                        JsonOut::Stdout
                    } else {
                        JsonOut::File(p)
                    }
                }),
                dtype: a.dtype,
                processes: workers(a.processes),
                max_listed: a.max_listed,
                follow: a.follow.settings(Duration::ZERO),
                log_file: a.log.log_file,
                log_level: a.log.log_level,
            }),
            Some(Sub::Verify(a)) => Command::Verify(VerifySettings {
                config: a.config,
                api_token: a.auth.api_token,
                job_id: a.job_id,
                processes: workers(a.processes),
                log_file: a.log.log_file,
                log_level: a.log.log_level,
            }),
            Some(Sub::Plugins(a)) => Command::Plugins(PluginsSettings {
                log_file: a.log.log_file,
                log_level: a.log.log_level,
            }),
            Some(Sub::Completions(a)) => {
                Command::Completions(CompletionsSettings { shell: a.shell })
            }
            Some(Sub::Man(a)) => Command::Man(ManSettings { dir: a.dir }),
            None => {
                let i = self.ingest;
                if i.cancel {
                    Command::Cancel(CancelSettings {
                        config: i.config,
                        api_token: i.auth.api_token,
                        job_id: i.job_id.ok_or(UsageError::CancelWithoutJob)?,
                        force: i.force,
                        log_file: i.log.log_file,
                        log_level: i.log.log_level,
                    })
                } else {
                    Command::Ingest(IngestSettings {
                        config: i.config.ok_or(UsageError::NoConfig)?,
                        api_token: i.auth.api_token,
                        job_id: i.job_id,
                        force: i.force,
                        manual_complete: i.manual_complete,
                        processes: workers(i.processes),
                        chunks_in_flight: i.chunks_in_flight.map(|n| n as usize),
                        ramp_seconds: i.ramp_seconds,
                        log_file: i.log.log_file,
                        log_level: i.log.log_level,
                        progress: i.progress,
                        max_attempts: i.max_attempts,
                        receive_wait_secs: i.receive_wait_secs,
                        drain_secs: i.drain_secs,
                        metrics_addr: i.metrics_addr,
                        follow: i.follow.settings(i.follow_timeout),
                    })
                }
            }
        };
        Ok(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let mut argv = vec!["boss-ingest"];
        argv.extend_from_slice(args);
        let parsed = Args::parse_from_iter(argv).map_err(|e| e.to_string())?;
        parsed.into_command(4).map_err(|e| e.to_string())
    }

    fn ingest(args: &[&str]) -> IngestSettings {
        match parse(args) {
            Ok(Command::Ingest(s)) => s,
            other => panic!("expected ingest settings, got {other:?}"),
        }
    }

    #[test]
    fn definitions_are_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn bare_config_creates_a_job_with_python_defaults() {
        let s = ingest(&["job.json"]);
        assert_eq!(
            s,
            IngestSettings {
                config: "job.json".into(),
                api_token: None,
                job_id: None,
                force: false,
                manual_complete: false,
                processes: 4,
                chunks_in_flight: None,
                ramp_seconds: None,
                log_file: None,
                log_level: log::LevelFilter::Warn,
                progress: ProgressMode::Auto,
                max_attempts: 5,
                receive_wait_secs: 20,
                drain_secs: 25,
                metrics_addr: None,
                follow: None,
            }
        );
    }

    #[test]
    fn follow_flags_and_their_defaults() {
        let s = ingest(&["job.json", "--follow"]);
        assert_eq!(
            s.follow,
            Some(Follow {
                settle: Duration::from_secs(10),
                timeout: Duration::from_secs(24 * 3600),
            })
        );
        let s = ingest(&[
            "job.json",
            "--follow",
            "--follow-timeout",
            "90s",
            "--settle-secs",
            "0",
        ]);
        assert_eq!(
            s.follow,
            Some(Follow {
                settle: Duration::ZERO,
                timeout: Duration::from_secs(90),
            })
        );
        let e = parse(&["job.json", "--follow-timeout", "30m"]).unwrap_err();
        assert!(e.contains("required arguments were not provided"), "{e}");
        assert!(e.contains("--follow"), "{e}");
        let e = parse(&["job.json", "--follow", "--follow-timeout", "30"]).unwrap_err();
        assert!(
            e.contains(
                "invalid value '30' for '--follow-timeout <DURATION>': \"30\" is not a \
                 duration: write a number and a unit, e.g. 90s, 30m, 24h"
            ),
            "{e}"
        );
        match parse(&["check", "job.json", "--follow", "--settle-secs", "2"]).unwrap() {
            Command::Check(c) => assert_eq!(
                c.follow,
                Some(Follow {
                    settle: Duration::from_secs(2),
                    timeout: Duration::ZERO,
                })
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations() {
        let secs = |s: &str| parse_duration(s).map(|d| d.as_secs());
        assert_eq!(secs("90s"), Ok(90));
        assert_eq!(secs("30m"), Ok(1800));
        assert_eq!(secs("24h"), Ok(86_400));
        assert_eq!(secs("2d"), Ok(172_800));
        assert_eq!(secs("1h30m"), Ok(5400));
        assert_eq!(secs(" 5s "), Ok(5));
        let bad = |s: &str| {
            format!("{s:?} is not a duration: write a number and a unit, e.g. 90s, 30m, 24h")
        };
        for s in [
            "",
            "30",
            "m",
            "1.5h",
            "10x",
            "-5s",
            "0s",
            "99999999999999999999d",
        ] {
            assert_eq!(secs(s), Err(bad(s)), "{s}");
        }
    }

    #[test]
    fn python_short_flags() {
        let s = ingest(&[
            "job.json", "-a", "tok", "-j", "42", "-f", "-m", "-p", "8", "-r", "30", "-l", "x.log",
            "-v", "DEBUG",
        ]);
        assert_eq!(s.api_token.as_deref(), Some("tok"));
        assert_eq!(s.job_id, Some(42));
        assert!(s.force && s.manual_complete);
        assert_eq!(s.processes, 8);
        assert_eq!(s.ramp_seconds, Some(30));
        assert_eq!(s.log_file, Some(PathBuf::from("x.log")));
        assert_eq!(s.log_level, log::LevelFilter::Debug);
    }

    #[test]
    fn python_long_flags_and_flags_before_the_config() {
        let s = ingest(&[
            "--api-token=tok",
            "--job-id",
            "7",
            "--force",
            "--manual-complete",
            "--processes_nb",
            "2",
            "--ramp_seconds",
            "5",
            "--log-file",
            "l.log",
            "--log-level",
            "critical",
            "job.json",
        ]);
        assert_eq!(s.config, PathBuf::from("job.json"));
        assert_eq!(s.api_token.as_deref(), Some("tok"));
        assert_eq!(s.job_id, Some(7));
        assert_eq!(s.processes, 2);
        assert_eq!(s.ramp_seconds, Some(5));
        assert_eq!(s.log_level, log::LevelFilter::Error);
    }

    #[test]
    fn new_ingest_flags() {
        let s = ingest(&["job.json", "--progress", "json", "--max-attempts", "3"]);
        assert_eq!(s.progress, ProgressMode::Json);
        assert_eq!(s.max_attempts, 3);
        let s = ingest(&["job.json", "--receive-wait-secs", "1"]);
        assert_eq!(s.receive_wait_secs, 1);
        let s = ingest(&["job.json", "--drain-secs", "0"]);
        assert_eq!(s.drain_secs, 0);
        let e = parse(&["job.json", "--drain-secs", "soon"]).unwrap_err();
        assert!(
            e.contains("invalid value 'soon' for '--drain-secs <SECS>'"),
            "{e}"
        );
        let s = ingest(&["job.json", "--chunks-in-flight", "3"]);
        assert_eq!(s.chunks_in_flight, Some(3));
        let e = parse(&["job.json", "--chunks-in-flight", "0"]).unwrap_err();
        assert!(
            e.contains("invalid value '0' for '--chunks-in-flight <N>'"),
            "{e}"
        );
    }

    #[test]
    fn metrics_addr_defaults_to_loopback_and_needs_a_port() {
        let addr = |a: &str| {
            ingest(&["job.json", "--metrics-addr", a])
                .metrics_addr
                .map(|m| m.to_string())
        };
        assert_eq!(addr("9100").as_deref(), Some("127.0.0.1:9100"));
        assert_eq!(addr(":9100").as_deref(), Some("127.0.0.1:9100"));
        assert_eq!(addr("0.0.0.0:9100").as_deref(), Some("0.0.0.0:9100"));
        assert_eq!(addr("node7:0").as_deref(), Some("node7:0"));
        assert_eq!(addr("[::1]:9100").as_deref(), Some("[::1]:9100"));
        let e = parse(&["job.json", "--metrics-addr", "node7"]).unwrap_err();
        assert!(
            e.contains(
                "invalid value 'node7' for '--metrics-addr <HOST:PORT>': \"node7\" has no port: \
                 write HOST:PORT (e.g. 127.0.0.1:9100), or :PORT for 127.0.0.1:PORT"
            ),
            "{e}"
        );
        let e = parse(&["job.json", "--metrics-addr", "::1:9100"]).unwrap_err();
        assert!(
            e.contains("\"::1:9100\": write an IPv6 address in brackets, e.g. [::1]:9100"),
            "{e}"
        );
        let e = parse(&["job.json", "--metrics-addr", "localhost:99999"]).unwrap_err();
        assert!(
            e.contains("port \"99999\" is not a number from 0 to 65535"),
            "{e}"
        );
        let e = parse(&["-c", "-j", "3", "--metrics-addr", "9100"]).unwrap_err();
        assert!(
            e.contains("the argument '--cancel' cannot be used with '--metrics-addr <HOST:PORT>'"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let e = parse(&["job.json", "-j", "abc"]).unwrap_err();
        assert!(e.contains("invalid value 'abc' for '--job-id <ID>'"), "{e}");
        let e = parse(&["job.json", "-v", "loud"]).unwrap_err();
        assert!(
            e.contains("expected one of critical, error, warning, info, debug, trace, off"),
            "{e}"
        );
        let e = parse(&["job.json", "-p", "0"]).unwrap_err();
        assert!(
            e.contains("invalid value '0' for '--processes_nb <N>'"),
            "{e}"
        );
        let e = parse(&["job.json", "--max-attempts", "0"]).unwrap_err();
        assert!(
            e.contains("invalid value '0' for '--max-attempts <N>'"),
            "{e}"
        );
    }

    #[test]
    fn config_is_required_for_ingest() {
        assert_eq!(parse(&[]).unwrap_err(), UsageError::NoConfig.to_string());
        assert_eq!(
            parse(&["-j", "5"]).unwrap_err(),
            UsageError::NoConfig.to_string()
        );
    }

    #[test]
    fn cancel_without_config_targets_production() {
        match parse(&["-c", "-j", "12", "-f"]).unwrap() {
            Command::Cancel(c) => {
                assert_eq!(c.config, None);
                assert_eq!(c.job_id, 12);
                assert!(c.force);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["job.json", "--cancel", "--job-id", "3"]).unwrap() {
            Command::Cancel(c) => assert_eq!(c.config, Some("job.json".into())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cancel_needs_a_job_id() {
        assert_eq!(
            parse(&["-c"]).unwrap_err(),
            "you must provide an ingest job ID to cancel: boss-ingest [config.json] -c -j ID"
        );
    }

    #[test]
    fn check_subcommand() {
        match parse(&["check", "job.json"]).unwrap() {
            Command::Check(c) => assert_eq!(
                c,
                CheckSettings {
                    config: "job.json".into(),
                    sample: None,
                    seed: None,
                    json: None,
                    dtype: None,
                    processes: 4,
                    max_listed: 100,
                    follow: None,
                    log_file: None,
                    log_level: log::LevelFilter::Warn,
                }
            ),
            other => panic!("{other:?}"),
        }
        match parse(&[
            "check", "job.json", "--sample", "10", "--seed", "3", "--json", "-", "--dtype",
            "uint16", "-p", "2",
        ])
        .unwrap()
        {
            Command::Check(c) => {
                assert_eq!(c.sample, Some(10));
                assert_eq!(c.seed, Some(3));
                assert_eq!(c.json, Some(JsonOut::Stdout));
                assert_eq!(c.dtype, Some(Dtype::U16));
                assert_eq!(c.processes, 2);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["check", "job.json", "--json", "r.json"]).unwrap() {
            Command::Check(c) => assert_eq!(c.json, Some(JsonOut::File("r.json".into()))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn check_flag_errors() {
        let e = parse(&["check"]).unwrap_err();
        assert!(
            e.contains("the following required arguments were not provided"),
            "{e}"
        );
        assert!(e.contains("<CONFIG>"), "{e}");
        let e = parse(&["check", "job.json", "--sample", "0"]).unwrap_err();
        assert!(e.contains("invalid value '0' for '--sample <N>'"), "{e}");
        let e = parse(&["check", "job.json", "--seed", "1"]).unwrap_err();
        assert!(e.contains("--sample <N>"), "{e}");
        let e = parse(&["check", "job.json", "--dtype", "float32"]).unwrap_err();
        assert!(
            e.contains("invalid value 'float32' for '--dtype <DTYPE>'"),
            "{e}"
        );
    }

    #[test]
    fn a_config_named_like_a_subcommand_is_reached_by_path() {
        match parse(&["./check"]).unwrap() {
            Command::Ingest(s) => assert_eq!(s.config, PathBuf::from("./check")),
            other => panic!("{other:?}"),
        }
        match parse(&["check", "check"]).unwrap() {
            Command::Check(c) => assert_eq!(c.config, PathBuf::from("check")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ingest_flags_do_not_mix_with_subcommands() {
        let e = parse(&["-f", "check", "job.json"]).unwrap_err();
        assert!(e.contains("cannot be used with"), "{e}");
    }

    #[test]
    fn verify_and_plugins() {
        match parse(&["verify", "job.json", "-j", "9", "-a", "t"]).unwrap() {
            Command::Verify(v) => {
                assert_eq!(v.config, PathBuf::from("job.json"));
                assert_eq!(v.job_id, Some(9));
                assert_eq!(v.api_token.as_deref(), Some("t"));
                assert_eq!(v.processes, 4);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(&["plugins"]).unwrap(),
            Command::Plugins(PluginsSettings {
                log_file: None,
                log_level: log::LevelFilter::Warn
            })
        );
        // -l is honoured, not dropped.
        assert_eq!(
            parse(&["plugins", "-l", "p.log"]).unwrap(),
            Command::Plugins(PluginsSettings {
                log_file: Some("p.log".into()),
                log_level: log::LevelFilter::Warn
            })
        );
        match parse(&["check", "job.json", "-l", "c.log"]).unwrap() {
            Command::Check(c) => assert_eq!(c.log_file, Some(PathBuf::from("c.log"))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn version_and_help_are_clap_displays() {
        let argv = ["boss-ingest", "--version"];
        let e = Args::parse_from_iter(argv).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
        assert_eq!(e.exit_code(), 0);
        let e = Args::parse_from_iter(["boss-ingest", "--help"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(e.to_string().contains("boss-ingest ./check"));
    }

    #[test]
    fn completions_for_each_shell() {
        assert_eq!(
            parse(&["completions", "bash"]).unwrap(),
            Command::Completions(CompletionsSettings { shell: Shell::Bash })
        );
        assert_eq!(
            parse(&["completions", "zsh"]).unwrap(),
            Command::Completions(CompletionsSettings { shell: Shell::Zsh })
        );
        assert_eq!(
            parse(&["completions", "fish"]).unwrap(),
            Command::Completions(CompletionsSettings { shell: Shell::Fish })
        );
        let e = parse(&["completions", "tcsh"]).unwrap_err();
        assert!(e.contains("invalid value 'tcsh' for '<SHELL>'"), "{e}");
        assert!(
            e.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
            "{e}"
        );
        let e = parse(&["completions"]).unwrap_err();
        assert!(e.contains("<SHELL>"), "{e}");
    }

    #[test]
    fn man_is_a_subcommand_taking_a_directory() {
        assert_eq!(
            parse(&["man", "out/man"]).unwrap(),
            Command::Man(ManSettings {
                dir: "out/man".into()
            })
        );
        let e = Args::parse_from_iter(["boss-ingest", "--help"]).unwrap_err();
        let help = e.to_string();
        assert!(
            help.contains("  completions  Print a shell completion script"),
            "{help}"
        );
        assert!(
            help.contains("  man          Write the man pages into DIR"),
            "{help}"
        );
    }

    #[test]
    fn help_names_the_environment_each_flag_falls_back_to() {
        let help = Args::parse_from_iter(["boss-ingest", "--help"])
            .unwrap_err()
            .to_string();
        assert!(
            help.contains("(default: $INTERN_TOKEN, then ~/.intern/intern.cfg, then ./token.json)"),
            "{help}"
        );
        assert!(help.contains("$BOSS_INGEST_LOG refines it"), "{help}");
        assert!(help.contains("$BOSS_INGEST_PROGRESS_SECS"), "{help}");
        assert!(help.contains("\nEnvironment:\n"), "{help}");
        let plugins = Args::parse_from_iter(["boss-ingest", "plugins", "--help"]);
        let plugins = plugins.unwrap_err().to_string();
        assert!(plugins.contains("$BOSS_INGEST_PLUGIN_PATH"), "{plugins}");
    }
}
