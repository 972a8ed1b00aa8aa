//! A small HTTP file server for tests of `http(s)://` sources: serves files under a directory
//! (GET with `Range`, HEAD with Content-Length), plus scripted answers for chosen paths (a status
//! that repeats, or a number of failures before the file is served). It binds a free port on
//! 127.0.0.1, answers each connection on its own thread, closes every connection after one
//! answer (`Connection: close`) and counts requests per path. Stopped when dropped.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A scripted answer for one path.
#[derive(Debug, Clone, Copy)]
pub enum Script {
    /// Always this status, with a short text body.
    Status(u16),
    /// This status for the next `n` requests, then the file.
    FailFirst { status: u16, n: u32 },
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, Script>,
    requests: HashMap<String, u32>,
    /// Headers of the last request per path (lower-case names).
    headers: HashMap<String, Vec<(String, String)>>,
}

pub struct HttpServer {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves the files under `root`.
    pub fn start(root: impl Into<PathBuf>) -> HttpServer {
        let root = root.into();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a test HTTP port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (root, state, stop) = (root.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (root, state) = (root.clone(), state.clone());
                    std::thread::spawn(move || {
                        // A client that hangs up early is not the test's concern.
                        let _ = serve(stream, &root, &state);
                    });
                }
            })
        };
        HttpServer {
            url,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Scripts the answer for `path` (starting with `/`).
    pub fn script(&self, path: &str, script: Script) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(path.to_string(), script);
    }

    /// How many requests `path` got.
    pub fn requests(&self, path: &str) -> u32 {
        *self.state.lock().unwrap().requests.get(path).unwrap_or(&0)
    }

    /// The value of header `name` (any case) in the last request for `path`.
    pub fn last_header(&self, path: &str, name: &str) -> Option<String> {
        let state = self.state.lock().unwrap();
        state.headers.get(path).and_then(|headers| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    extra: &[(&str, String)],
    body: &[u8],
    head: bool,
) -> std::io::Result<()> {
    let mut text = format!(
        "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
        reason(status)
    );
    text.push_str(&format!("Content-Length: {}\r\n", body.len()));
    for (name, value) in extra {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes())?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()
}

fn serve(
    mut stream: TcpStream,
    root: &std::path::Path,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    let (method, path) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.trim_end().split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let range = headers
        .iter()
        .find(|(n, _)| n == "range")
        .map(|(_, v)| v.clone());
    let script = {
        let mut s = state.lock().unwrap();
        *s.requests.entry(path.clone()).or_insert(0) += 1;
        s.headers.insert(path.clone(), headers);
        match s.scripts.get_mut(&path) {
            Some(Script::Status(status)) => Some(*status),
            Some(Script::FailFirst { status, n }) if *n > 0 => {
                *n -= 1;
                Some(*status)
            }
            _ => None,
        }
    };
    let head = method == "HEAD";
    if let Some(status) = script {
        return respond(&mut stream, status, &[], reason(status).as_bytes(), head);
    }
    let file = root.join(path.trim_start_matches('/'));
    let Ok(body) = std::fs::read(&file) else {
        return respond(&mut stream, 404, &[], b"Not Found", head);
    };
    if let Some(range) = range.as_deref().and_then(|r| r.strip_prefix("bytes=")) {
        let (a, b) = range.split_once('-').unwrap_or((range, ""));
        let start: usize = a.parse().unwrap_or(0);
        let end: usize = b
            .parse()
            .map(|e: usize| e + 1)
            .unwrap_or(body.len())
            .min(body.len());
        if start >= body.len() {
            let extra = [("Content-Range", format!("bytes */{}", body.len()))];
            return respond(&mut stream, 416, &extra, b"", head);
        }
        let extra = [(
            "Content-Range",
            format!("bytes {start}-{}/{}", end - 1, body.len()),
        )];
        return respond(&mut stream, 206, &extra, &body[start..end], head);
    }
    respond(&mut stream, 200, &[], &body, head)
}
