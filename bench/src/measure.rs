//! Runs a client to the end and measures what it cost: CPU (user + system) and peak RSS of its
//! whole process tree.
//!
//! CPU comes from `wait4(2)`, which adds the time of every descendant the client reaped to its
//! own; the Python client joins its worker processes, so their time is included. Peak RSS is
//! sampled from `/proc` every 50 ms as the sum over the live tree (the Python client's workers
//! are separate processes, and each holds its own memory), and never reported below the
//! kernel's `ru_maxrss` (the largest single process, exact even between samples).

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

/// What one client run cost.
#[derive(Clone, Debug, Serialize)]
pub struct Usage {
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub signal: Option<i32>,
    pub wall_secs: f64,
    pub user_secs: f64,
    pub sys_secs: f64,
    /// The largest sum of RSS over the process tree seen (and at least `ru_maxrss`).
    pub peak_rss_mib: f64,
    /// `ru_maxrss`: the largest single process of the tree.
    pub max_process_rss_mib: f64,
    /// Peak tree RSS in each tenth of the run's wall time: flat when memory does not grow.
    pub rss_by_tenth_mib: Vec<f64>,
}

/// Runs `cmd` until it exits or `limit` passes (then kills it and fails).
pub fn run(cmd: Command, limit: Duration) -> Result<Usage> {
    start(cmd)?.wait(limit)
}

/// A started client whose tree is being sampled; [`Running::wait`] reaps it.
pub struct Running {
    child: std::process::Child,
    started: Instant,
    done: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(f64, u64)>>>,
    sampler: std::thread::JoinHandle<()>,
}

/// Starts `cmd` and begins sampling its tree's memory.
pub fn start(mut cmd: Command) -> Result<Running> {
    let started = Instant::now();
    let child = cmd.spawn().context("starting the client")?;
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<(f64, u64)>::new()));
    let sampler = {
        let (done, samples) = (done.clone(), samples.clone());
        std::thread::spawn(move || {
            let page = page_size();
            while !done.load(Ordering::Relaxed) {
                let rss = tree_rss_pages(pid) * page;
                samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((started.elapsed().as_secs_f64(), rss));
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    Ok(Running {
        child,
        started,
        done,
        samples,
        sampler,
    })
}

impl Running {
    /// The client's pid (valid until [`Running::wait`] returns: only that reaps it).
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Waits until the client exits or `limit` passes (then kills it and fails).
    pub fn wait(self, limit: Duration) -> Result<Usage> {
        let Running {
            child,
            started,
            done,
            samples,
            sampler,
        } = self;
        let pid = child.id() as libc::pid_t;
        let killer = {
            let done = done.clone();
            std::thread::spawn(move || {
                while started.elapsed() < limit {
                    if done.load(Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                // SAFETY: kill(2) on the pid of our own child, which we have not reaped yet (the
                // waiting thread reaps it only after it exits), so it cannot be a recycled pid.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
                unsafe { libc::kill(pid, libc::SIGKILL) };
                true
            })
        };
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 writes into the two locals we pass; `pid` is our unreaped child.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        let wall = started.elapsed().as_secs_f64();
        done.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        let timed_out = killer.join().unwrap_or(false);
        // The Child handle must not wait again: the process is reaped already.
        std::mem::forget(child);
        if rc != pid {
            bail!("wait4 failed: {}", std::io::Error::last_os_error());
        }
        if timed_out {
            bail!("the client did not finish within {} s", limit.as_secs());
        }
        let secs = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let max_process = u64::try_from(usage.ru_maxrss).unwrap_or(0) * 1024;
        let samples = samples.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let peak = samples
            .iter()
            .map(|s| s.1)
            .max()
            .unwrap_or(0)
            .max(max_process);
        let mut tenths = vec![0u64; 10];
        for (t, rss) in &samples {
            let i = ((t / wall.max(1e-9)) * 10.0) as usize;
            let slot = &mut tenths[i.min(9)];
            *slot = (*slot).max(*rss);
        }
        Ok(Usage {
            exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            wall_secs: wall,
            user_secs: secs(usage.ru_utime),
            sys_secs: secs(usage.ru_stime),
            peak_rss_mib: mib(peak),
            max_process_rss_mib: mib(max_process),
            rss_by_tenth_mib: tenths.into_iter().map(mib).collect(),
        })
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Resident pages of `root` and all its descendants (from `/proc/<pid>/stat` and `statm`).
fn tree_rss_pages(root: libc::pid_t) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let mut parent = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The command name is in parentheses and may contain spaces: fields follow the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            parent.insert(pid, ppid);
        }
    }
    let in_tree = |mut pid: i32| {
        for _ in 0..64 {
            if pid == root {
                return true;
            }
            match parent.get(&pid) {
                Some(&p) if p > 1 => pid = p,
                _ => return false,
            }
        }
        false
    };
    parent
        .keys()
        .filter(|&&pid| in_tree(pid))
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/statm")).ok())
        .filter_map(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}
