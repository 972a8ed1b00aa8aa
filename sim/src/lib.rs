//! # boss-sim
//!
//! A local stand-in for the Boss ingest service, faithful to the protocol the real service speaks
//! (REST API, upload queues, keys, complete/scan state machine, cuboid storage), on real SQS and
//! S3 provided by the embedded backend (`--embedded-aws`) or by moto. Every end-to-end test, the
//! demo and the benchmark run against it.
//!
//! # Layout
//! - [`cli`]: the command line → checked [`server::Settings`].
//! - [`server`]: binds the listeners, starts the AWS backend, serves until shutdown.
//! - [`embedded`]: the in-process S3 (s3s) and SQS backend of `--embedded-aws`.
//! - [`rest`]: the Boss REST API over HTTP: routing, the token, status codes and bodies.
//! - [`jobs`]: the job operations behind it (create, join, status, complete, cancel) as domain
//!   answers and errors, and the complete state machine.
//! - [`inspect`]: the simulator's own `/sim/...` endpoints (counters, pause, faults, info).
//! - [`cutout`]: the cutout view's renderers and their negotiation by `Accept`.
//! - [`front_door`]: the AWS endpoint clients use: key checks, job policy, faults, accounting.
//! - [`uploads`]: what the service does with a stored tile or cuboid; S3's metadata limit.
//! - [`sigv4`]: signature checking for the front door.
//! - [`wire`]: AWS wire formats shared by the front door and the embedded backend.
//! - [`service`]: per-job workers: queue filling, tile indexing, the completion scan.
//! - [`assembly`]: one chunk's ingest, as the tile-ingest lambda does it.
//! - [`parameters`]: the settings blocks and `resource` a join hands out, and their check.
//! - [`plan`]: the service's upload-message generators.
//! - [`state`]: jobs, minted keys and counters.
//! - [`store`]: the cuboid store behind cutouts.
//! - [`resources`], [`faults`], [`job_config`], [`aws`], [`moto`]: inputs and plumbing.

pub mod assembly;
pub mod aws;
pub mod cli;
pub mod cutout;
pub mod embedded;
pub mod faults;
pub mod front_door;
pub mod inspect;
pub mod job_config;
pub mod jobs;
pub mod moto;
pub mod parameters;
pub mod plan;
pub mod resources;
pub mod rest;
pub mod server;
pub mod service;
pub mod sigv4;
pub mod state;
pub mod store;
pub mod uploads;
pub mod wire;
