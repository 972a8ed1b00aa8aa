//! One integration test binary for the whole workspace: the real `boss-ingest` and `boss-sim`
//! binaries, real plugin libraries loaded with dlopen, real SQS/S3 behind the simulator.
//! Each module is one feature; `support` is the shared harness.

mod support;

mod check;
mod ingest;
mod plugin_loading;
mod sim;
mod volumetric;
mod zarr;
mod cloudvolume;
mod multipage_tiff;
mod hdf5;
