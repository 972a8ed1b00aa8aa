//! Running the real binaries: find the built `boss-ingest` (and any other workspace binary), give each run a clean
//! environment and its own `HOME`, capture what it prints, and never hang a test forever.
//!
//! The binaries are not built by `cargo test` for this package (they belong to other packages),
//! so `scripts/test` runs `cargo build --workspace --bins` first. Run by hand, a missing binary
//! fails the test with the command that builds it.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one command may run before the test fails (and the child is killed).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Environment variables that would make a run depend on the machine it runs on.
const SCRUBBED_ENV: &[&str] = &[
    "BOSS_INGEST_PLUGIN_PATH",
    "INTERN_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_PROFILE",
    "RUST_LOG",
    "BOSS_INGEST_LOG",
];

/// The directory holding the workspace's built binaries: the test executable lives in
/// `target/<profile>/deps/`, the binaries one level up.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let deps = exe.parent().expect("test executable has a directory");
    deps.parent().unwrap_or(deps).to_path_buf()
}

/// The path of built binary `name`, or a panic saying how to build it.
pub fn bin(name: &str) -> PathBuf {
    let path = bin_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is not built; run `cargo build --workspace --bins` (scripts/test does) and test again",
        path.display()
    );
    path
}

/// A fresh temp dir, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("boss-ingest-test-")
        .tempdir()
        .expect("create a temp dir")
}

/// What a finished command did.
#[derive(Debug)]
pub struct Output {
    /// The exit code (`None` when ended by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// stdout and stderr together, for messages in failed assertions.
    pub fn both(&self) -> String {
        format!(
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A command for a built binary with a scrubbed environment and its own `HOME`.
pub struct Cmd {
    command: Command,
    timeout: Duration,
    /// Kept alive until the command has run: it is the command's `HOME`.
    _home: tempfile::TempDir,
}

impl Cmd {
    /// `boss-ingest`.
    pub fn boss_ingest() -> Cmd {
        Cmd::new(bin("boss-ingest"))
    }

    pub fn new(program: impl AsRef<Path>) -> Cmd {
        let home = temp_dir();
        let mut command = Command::new(program.as_ref());
        for var in SCRUBBED_ENV {
            command.env_remove(var);
        }
        command.env("HOME", home.path());
        command.stdin(Stdio::null());
        Cmd {
            command,
            timeout: DEFAULT_TIMEOUT,
            _home: home,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.command.args(args);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.command.current_dir(dir);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Cmd {
        self.timeout = timeout;
        self
    }

    /// Starts it in the background, to be watched line by line, signalled and waited for
    /// ([`super::job::Running`]). The timeout does not apply: the test ends it.
    pub fn spawn(self) -> super::job::Running {
        super::job::Running::spawn(self.command, self._home)
    }

    /// Runs to the end and captures both streams. Panics (after killing the child) if it runs
    /// longer than the timeout, showing what it printed so far.
    pub fn run(mut self) -> Output {
        self.command.stdout(Stdio::piped()).stderr(Stdio::piped());
        let program = format!("{:?}", self.command);
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        // Read both pipes on their own threads so a chatty child never blocks on a full pipe.
        let read_all = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let _ = pipe.read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).into_owned()
            })
        };
        // Both pipes were requested just above, so they are present.
        let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            match child.try_wait().expect("waiting for the child") {
                Some(status) => break Some(status),
                None if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        let output = Output {
            code: status.and_then(|s| s.code()),
            stdout: stdout.join().unwrap_or_default(),
            stderr: stderr.join().unwrap_or_default(),
        };
        assert!(
            status.is_some(),
            "{program} ran longer than {:?} and was killed\n{}",
            self.timeout,
            output.both()
        );
        output
    }
}
