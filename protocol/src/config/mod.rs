//! Ingest job configuration: the two schemas the Boss accepts (`boss-v0.1-schema`,
//! `boss-v0.2-schema`), the `BossValidatorV01`/`BossValidatorV02` rules, our own refusals and
//! warnings, the job's geometry (how many tiles or chunks it has, and which) and the estimate the
//! Python client printed.
//!
//! Two levels of validation live here, for two callers. [`service_rules`] is what the Boss
//! itself checks (schema, then the validator named by `schema.validator`); `boss-sim`'s create
//! endpoint runs exactly that, so the simulator accepts what the real service accepts. [`validate`]
//! is what `boss-ingest` runs before it creates a job: the service's rules, then our refusals of
//! what would make the job meaningless or what BossDB would place wrongly (see
//! [`validate::scrambled_on_bossdb`]), then warnings. Messages name the config section and key the
//! way the original validator did: `"ingest_job": "chunk_size": "x" must be a multiple of 512.`
//!
//! # Layout
//! - [`model`]: the typed config.
//! - [`geometry`]: tile and chunk counts, and the tiles and chunks in the service's order.
//! - [`validate`]: the service's rules and ours.
//! - [`warnings`]: what is worth saying but not refusing.

pub mod geometry;
pub mod model;
pub mod validate;
pub mod warnings;

#[cfg(test)]
mod tests;

pub use geometry::{LegacyEstimate, TileIndex};
pub use model::*;
pub use validate::{service_rules, validate, Invalid, Validated};

/// `schema.name` of the original tile-only configs.
pub const SCHEMA_V01: &str = "boss-v0.1-schema";
/// `schema.name` of configs that may be volumetric.
pub const SCHEMA_V02: &str = "boss-v0.2-schema";
/// `schema.validator` of the original validator (schema only, no further rules).
pub const VALIDATOR_V01: &str = "BossValidatorV01";
/// `schema.validator` of the validator with the tile/volumetric rules.
pub const VALIDATOR_V02: &str = "BossValidatorV02";

/// The schema documents, embedded so that validation needs no files at run time.
pub const SCHEMA_V01_JSON: &str = include_str!("../../schema/boss-v0.1-schema.json");
pub const SCHEMA_V02_JSON: &str = include_str!("../../schema/boss-v0.2-schema.json");

/// Boss cuboid size (x, y, z): storage is in these blocks, so extents must align to them.
const CUBOID: [u64; 3] = [512, 512, 16];
