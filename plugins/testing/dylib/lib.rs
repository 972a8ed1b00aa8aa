//! The built-in `testing` plugin as a shared library that boss-ingest loads with dlopen, exactly like a
//! user's plugin; the tests load it to keep that path honest.
//!
//! It is a separate crate because the root-module symbol a loadable plugin exports has one fixed
//! name: the built-in crates are all linked into the boss-ingest binary, where two definitions
//! would collide, so they only declare their root module and each gets this one-line exporter.

plugin_abi::export_root_module!(boss_ingest_plugin_testing::root_module);
