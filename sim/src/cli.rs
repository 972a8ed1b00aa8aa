//! The `boss-sim` command line: flags parsed by clap into [`Args`] (no I/O), then checked into
//! [`Settings`] (reads the resources file, parses the fault spec).

use crate::faults::{FaultSpec, FaultSpecError};
use crate::resources::{Resources, ResourcesError};
use crate::server::{AwsSource, Settings};
use crate::state::{ExpiredKeys, Timing};
use clap::{ArgGroup, Parser};
use std::path::PathBuf;
use std::time::Duration;

/// A local Boss ingest service on real SQS/S3 (embedded or moto), for tests, demos and benchmarks.
///
/// Prints one JSON line to stdout when ready — {"api": URL, "aws": URL, "token": TOKEN} — then
/// logs to stderr (RUST_LOG=debug for more). Runs until SIGINT/SIGTERM.
///
/// Without --resources the built-in users and channels are: tokens `boss-sim-token` (user alice)
/// and `boss-sim-token-other` (user bob); channels col/exp/ch (uint8, ids 7&12&33),
/// col/exp/ch16 (uint16, 7&12&34), col/exp/ch64 (uint64, 7&12&35), base resolution 0.
/// Resources file format: {"tokens": {"<token>": "<user>"}, "channels": [{"collection": "col",
/// "collection_id": 7, "experiment": "exp", "experiment_id": 12, "channel": "ch",
/// "channel_id": 33, "datatype": "uint8", "base_resolution": 0}]}
#[derive(Debug, Parser)]
#[command(name = "boss-sim", version, group(ArgGroup::new("backend").required(true).args(["aws_backend", "moto_command", "embedded_aws"])))]
pub struct Args {
    /// Port of the REST API on 127.0.0.1 (0 = a free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Port of the AWS endpoint (S3 + SQS front door) on 127.0.0.1 (0 = a free port).
    #[arg(long, default_value_t = 0)]
    pub aws_port: u16,
    /// Use an S3/SQS server (moto) that already runs at this URL.
    #[arg(long, value_name = "URL")]
    pub aws_backend: Option<String>,
    /// Start moto_server from this path on a free port (`scripts/install-tools moto` prints it).
    #[arg(long, value_name = "PATH")]
    pub moto_command: Option<String>,
    /// Serve S3 and SQS in this process (S3 objects under --data-dir, queues in memory): no
    /// Python needed, and fast with deep queues. moto stays for fidelity tests.
    #[arg(long)]
    pub embedded_aws: bool,
    /// Users and channels (JSON); see above for the format and the built-in default.
    #[arg(long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// How long a new job stays PREPARING at least.
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    pub prepare_secs: f64,
    /// WAIT_ON_QUEUES duration of the complete state machine (production: 180).
    #[arg(long, default_value_t = 180.0, value_name = "S")]
    pub wait_on_queues_secs: f64,
    /// Minted AWS keys expire after this long (default: never).
    #[arg(long, value_name = "S")]
    pub credential_ttl_secs: Option<f64>,
    /// How expired keys are refused: `deleted` as the real service's (its keys belong to IAM
    /// users that are deleted: InvalidAccessKeyId / InvalidClientTokenId), or `expired-token`
    /// (ExpiredToken, as temporary credentials would say).
    #[arg(long, value_enum, default_value_t = ExpiredKeysArg::Deleted, value_name = "HOW")]
    pub expired_keys: ExpiredKeysArg,
    /// Visibility timeout of job queues (production: 120); tests of retries use a few seconds.
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub visibility_timeout_secs: u32,
    /// Faults: target:status:probability,...[,latency:Nms], e.g. s3.put:503:0.05,latency:20ms.
    #[arg(long, default_value = "", value_name = "SPEC")]
    pub faults: String,
    /// Seed of the fault generator (same seed + same request order = same faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory for stored cuboids and (--embedded-aws) S3 objects under `s3/` (default: a
    /// temporary directory removed at exit).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Shut down when stdin reaches end of file (lets a parent that dies take the simulator and
    /// its moto with it).
    #[arg(long, hide = true)]
    pub exit_on_stdin_close: bool,
}

/// `--expired-keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExpiredKeysArg {
    Deleted,
    ExpiredToken,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Resources(#[from] ResourcesError),
    #[error("--faults: {0}")]
    Faults(#[from] FaultSpecError),
    #[error("--{flag} must be a non-negative number of seconds, got {value}")]
    Seconds { flag: &'static str, value: f64 },
}

fn seconds(flag: &'static str, value: f64) -> Result<Duration, SettingsError> {
    Duration::try_from_secs_f64(value).map_err(|_| SettingsError::Seconds { flag, value })
}

impl Args {
    pub fn settings(&self) -> Result<Settings, SettingsError> {
        let resources = match &self.resources {
            Some(path) => Resources::load(path)?,
            None => Resources::builtin(),
        };
        let aws = match (&self.aws_backend, &self.moto_command) {
            (Some(url), _) => AwsSource::Backend(url.clone()),
            (None, Some(cmd)) => AwsSource::MotoCommand(cmd.clone()),
            // clap's required group guarantees one of the three.
            (None, None) => AwsSource::Embedded,
        };
        Ok(Settings {
            port: self.port,
            aws_port: self.aws_port,
            aws,
            resources,
            timing: Timing {
                prepare: seconds("prepare-secs", self.prepare_secs)?,
                wait_on_queues: seconds("wait-on-queues-secs", self.wait_on_queues_secs)?,
                credential_ttl: self
                    .credential_ttl_secs
                    .map(|s| seconds("credential-ttl-secs", s))
                    .transpose()?,
                visibility_timeout_secs: self.visibility_timeout_secs,
                expired_keys: match self.expired_keys {
                    ExpiredKeysArg::Deleted => ExpiredKeys::Deleted,
                    ExpiredKeysArg::ExpiredToken => ExpiredKeys::ExpiredToken,
                },
            },
            faults: FaultSpec::parse(&self.faults)?,
            seed: self.seed,
            data_dir: self.data_dir.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_backend() {
        let err = Args::try_parse_from(["boss-sim"]).unwrap_err().to_string();
        assert!(err.contains("--aws-backend"), "{err}");
    }

    #[test]
    fn defaults_match_production() {
        let args = Args::try_parse_from(["boss-sim", "--moto-command", "moto_server"]).unwrap();
        let s = args.settings().unwrap();
        assert_eq!(s.timing.wait_on_queues, Duration::from_secs(180));
        assert_eq!(s.timing.prepare, Duration::from_secs(2));
        assert_eq!(s.timing.credential_ttl, None);
        assert_eq!(s.timing.expired_keys, ExpiredKeys::Deleted);
        assert_eq!((s.port, s.aws_port), (0, 0));
    }

    #[test]
    fn bad_values_are_named() {
        let args =
            Args::try_parse_from(["boss-sim", "--moto-command", "m", "--faults", "s3.put:503"])
                .unwrap();
        assert_eq!(
            args.settings().unwrap_err().to_string(),
            "--faults: fault rule \"s3.put:503\": expected target:status:probability (e.g. s3.put:503:0.05) or latency:<N>ms"
        );
        let args =
            Args::try_parse_from(["boss-sim", "--moto-command", "m", "--prepare-secs=-1"]).unwrap();
        assert_eq!(
            args.settings().unwrap_err().to_string(),
            "--prepare-secs must be a non-negative number of seconds, got -1"
        );
    }
}
