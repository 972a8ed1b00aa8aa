//! The shared test harness: temp dirs, commands for the built binaries, generated data sets, and
//! a running `boss-sim`.

pub mod cmd;
pub mod data;
pub mod sim;
pub mod volumetric;
pub mod volumes;
