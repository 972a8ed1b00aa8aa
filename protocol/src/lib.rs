//! # boss-protocol
//!
//! What the Boss ingest client (`boss-ingest`) and the local service (`boss-sim`) must agree on,
//! written once so neither can drift from the other: config validation (the service validates with
//! exactly the code the client runs in `check`), object and queue keys, message bodies, job states,
//! REST bodies and the cuboid format.
//!
//! # Layout
//! - [`config`]: the v0.1/v0.2 schemas and the BossValidatorV01/V02 rules.
//! - [`keys`]: tile, chunk and cuboid keys (`md5 & base`), Morton codes.
//! - [`messages`]: upload-queue, tile-index and tile-error message bodies.
//! - [`status`]: job states and ingest types as the wire spells them.
//! - [`api`]: REST request and response bodies.
//! - [`cuboid`]: cuboid geometry and python-blosc compatible compression.
//! - [`cutout`]: reading voxels back through the cutout API (path, Accept, decoding).

pub mod api;
pub mod config;
pub mod cuboid;
pub mod cutout;
pub mod keys;
pub mod messages;
pub mod status;
