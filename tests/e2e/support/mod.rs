//! The shared test harness: temp dirs, commands for the built binaries, generated data sets, and
//! a running `boss-sim`.

pub mod boss;
pub mod cmd;
pub mod data;
pub mod http;
pub mod job;
pub mod sim;
pub mod volumes;
pub mod volumetric;
