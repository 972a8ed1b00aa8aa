//! # boss-ingest
//!
//! The client that moves microscopy image volumes into the Boss. `main.rs` only parses the command
//! line, calls into this library and maps errors to exit codes; everything else lives here so that
//! tests can call it.
//!
//! # Layout
//! - [`cli`]: flags → checked settings, no I/O.
//! - [`prepared`]: checked settings → what a command runs with (log, config, processors,
//!   token, REST client), built once.
//! - [`config`]: load an ingest config, validate it (shared with `boss-sim` through
//!   `boss_protocol::config`), our own sanity warnings, the job estimate.
//! - [`plugins`]: find, load and resolve processor classes (built-in and user libraries).
//! - [`processors`]: a job's configured processors — the one way `ingest`, `check` and `verify`
//!   turn indices into what would be uploaded.
//! - [`tile`]: what a tile processor returned → bytes to upload; inspecting encoded tiles.
//! - [`chunk`]: what a chunk processor returned → checked voxels, and their cuboids.
//! - [`backend`]: the Boss REST client (token lookup, create/join/status/complete/cancel/cutout).
//! - [`aws`]: the shared, swappable SQS/S3 clients built from a job's credentials.
//! - [`engine`]: the bounded upload pipeline.
//! - [`malloc`]: allocator settings that keep tile-sized buffers in the heap.
//! - [`sources`]: reading plugins' `s3://` and `http(s)://` locations (host services).
//! - [`progress`]: progress bar, periodic log lines, JSON progress.
//! - [`metrics`]: `--metrics-addr`, the Prometheus endpoint over the engine's counters.
//! - [`logging`]: where the log goes, one filter for every command.
//! - [`shutdown`]: SIGINT/SIGTERM → a graceful drain, a second signal → exit at once.
//! - [`commands`]: what each verb does, composed from the above.
//! - [`exit`]: the error → exit code contract documented in the README.

pub mod aws;
pub mod backend;
pub mod chunk;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod exit;
pub mod logging;
pub mod malloc;
pub mod metrics;
pub mod plugins;
pub mod prepared;
pub mod processors;
pub mod progress;
pub mod shutdown;
pub mod sources;
pub mod tile;
