//! Finding, loading and resolving processor classes: the built-in plugins compiled into this
//! binary and user plugin libraries (`.so`/`.dylib`) loaded at run time.
//!
//! A processor in a config is a class name, optionally with a library:
//! - a legacy Python name (`ingestclient.plugins.stack.ZindexStackTileProcessor`) or a built-in
//!   class name resolves to the built-in plugin that claims it; an `ingestclient.plugins.<m>.*`
//!   name no built-in claims is looked up in a library named `<m>` on the search path;
//! - `"<library>::<Class>"`, or `"class": "<Class>"` with `"plugin": "<library>"`, names a
//!   library: a path to the file, or a name found on the [`SearchPath`] (or a built-in's name).
//!
//! Built-ins are registered through the very root module an external library exports, so both
//! go through the same code. Libraries are loaded once per process (cached by canonical path)
//! and never unloaded. Processor handles are cheap to clone and safe to share between threads.
//!
//! # Layout
//! - `registry`: [`Plugins`], the built-ins and the search path of one process.
//! - `resolve`: a config's class name → a built-in or library and the class within it.
//! - `handle`: constructing a processor, and the one handle type for all three kinds.
//! - `attribution`: which plugin and class a processor is; its errors rewritten to say so.
//! - `cache`: where a library came from, and loading each library file once.
//! - `listing`: what `boss-ingest plugins` shows.
//! - [`search`]: the search path and finding a library file by name.
//! - [`optional`]: legacy names served by plugins kept out of the binary (HDF5).
//! - [`error`]: [`PluginsError`], one readable paragraph per failure.
//! - [`services`]: the host services (local, `s3://` and `http(s)://` reads, logging) plugins get.

mod attribution;
mod cache;
pub mod error;
mod handle;
mod listing;
pub mod optional;
mod registry;
mod resolve;
pub mod search;
pub mod services;
#[cfg(test)]
mod test_support;

pub use cache::Source;
pub use error::PluginsError;
pub use handle::{ChunkHandle, Handle, PathHandle, TileHandle};
pub use listing::{FoundLibrary, LibraryInfo, Listing};
pub use registry::Plugins;
pub use resolve::ProcessorSpec;
pub use search::{SearchDir, SearchPath};
