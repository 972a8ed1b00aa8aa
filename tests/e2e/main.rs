//! One integration test binary for the whole workspace: the real `boss-ingest` and `boss-sim`
//! binaries, real plugin libraries loaded with dlopen, real SQS/S3 behind the simulator.
//! Each module is one feature; `support` is the shared harness.

mod support;

mod catmaid;
mod check;
mod cloudvolume;
mod command_line;
mod follow;
// Needs the system libhdf5: only with `--features boss-ingest-tests/hdf5` (scripts/test).
#[cfg(feature = "hdf5")]
mod hdf5;
mod ingest;
mod intern;
mod metrics;
mod multipage_tiff;
mod plugin_loading;
mod services;
mod sim;
mod volumetric;
mod zarr;
