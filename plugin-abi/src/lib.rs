//! # plugin-abi
//!
//! The stable interface between `boss-ingest` and its processor plugins. A plugin is a Rust crate
//! that implements one or more of [`PathProcess`], [`TileProcess`] and [`ChunkProcess`],
//! describes its classes in a [`Plugin`], and calls [`export_plugin!`]. Built as a `cdylib` it is
//! a `.so`/`.dylib` that any `boss-ingest` built against a compatible plugin-abi loads; the
//! built-in plugins are the same kind of crate, linked into the binary.
//!
//! ```
//! use plugin_abi::{Dtype, Plugin, PluginError, TileImage, TileOutput, TileProcess};
//!
//! /// Every tile black, at the job's tile size.
//! struct Black { width: u32, height: u32 }
//!
//! impl TileProcess for Black {
//!     fn tile(&self, _path: &str, _x: u64, _y: u64, _z: u64, _t: u64)
//!         -> Result<TileOutput, PluginError> {
//!         let data = vec![0; (self.width * self.height) as usize];
//!         Ok(TileOutput::new(TileImage::Raw {
//!             width: self.width, height: self.height, dtype: Dtype::U8, data,
//!         }))
//!     }
//! }
//!
//! fn plugin() -> Plugin {
//!     Plugin::new("black", "Black tiles").tile("BlackTileProcessor", "All-zero tiles", &[],
//!         |params, _host| {
//!             let size = |axis: &str| params["ingest_job"]["tile_size"][axis].as_u64()
//!                 .ok_or_else(|| PluginError::params(format!("no ingest_job.tile_size.{axis}")));
//!             Ok(Black { width: size("x")? as u32, height: size("y")? as u32 })
//!         })
//! }
//!
//! plugin_abi::export_plugin!(plugin);
//! # fn main() {}
//! ```
//!
//! The host side (`boss-ingest`) uses [`loader::Library`] to load libraries and call processors.
//!
//! # Names
//!
//! A plugin has one name, `<name>`, and everything else is spelled from it:
//! - the library name configs use (`"plugin": "<name>"`, `"<name>::<Class>"`), which the plugin
//!   also gives [`Plugin::new`];
//! - the package `boss-ingest-plugin-<name>`, whose crate is `boss_ingest_plugin_<name>`;
//! - the file `libboss_ingest_plugin_<name>.so` (`.dylib` on macOS), which is what cargo builds
//!   from that crate as a `cdylib`, and what `boss-ingest` looks for when a config names the
//!   library `<name>`.
//!
//! The prefix keeps plugin files apart from other shared libraries: the HDF5 plugin (`hdf5`) is
//! `libboss_ingest_plugin_hdf5.so`, never to be mistaken for the system's `libhdf5.so`, and
//! `boss-ingest plugins` lists only files that are meant to be plugins.
//!
//! # What crosses the boundary
//! One root module per library: the plugin-abi version it was built with, a description (library
//! name, one line, and its classes: name, kind path/tile/chunk, legacy Python names, one line),
//! and three constructors `(class, params JSON text, host services) → processor or error`.
//! Processors are trait objects with one method each; data travels as `#[repr(C)]` structs of
//! integers, strings and byte vectors (module `ffi`). Enums travel as integer codes, so an unknown
//! code is a readable error rather than undefined behaviour. Panics never cross: every call into
//! plugin code runs under [`guard`], which turns a panic into an [`ErrorKind::Panic`] error
//! naming the panic's location and message.
//!
//! # ABI rules
//! The version that matters is this crate's. A library records the plugin-abi version it was
//! built with, and the host refuses a library whose version is not compatible under cargo's
//! rules: at `0.y.z` the `y` must match, at `x.y.z` (x ≥ 1) the `x` must match. abi_stable
//! additionally compares the full layout of every type reachable from the root module at load
//! time, so an accidental change is caught even without a version bump.
//!
//! A compatible release (0.1.0 → 0.1.1) may only:
//! - add fields at the end of the root module, after the field marked
//!   `#[sabi(last_prefix_field)]`: their accessors return `Option`, `None` for a library built
//!   against an older patch release, and the host decides on purpose what that means ("this
//!   library has no such feature");
//! - add methods at the end of a processor or host-services trait, after its
//!   `#[sabi(last_prefix_field)]` method: an object from an older library lacks them, so the
//!   caller checks the other side's recorded plugin-abi version (`Library::abi_version`) before
//!   calling one;
//! - add new integer codes (a dtype, an error kind, a note kind): older hosts see an unknown code
//!   as a readable error (dtype, format, order) or as `Other` (error and note kinds);
//! - change anything that does not cross the boundary (the conformance kit, helpers, docs).
//!
//! Everything else breaks, and needs the next incompatible version (0.2.0): changing, removing or
//! reordering a field of any `ffi` struct or of the root module before its last prefix field;
//! changing a method signature; moving a `last_prefix_field` marker; changing what an integer code
//! means; upgrading abi_stable itself.
//!
//! abi_stable is pinned (`=0.11.3`) and named only in this crate, in `ffi`, `plugin`, `loader`
//! and `host_services`: a move to `stabby` or hand-written `#[repr(C)]` tables changes those
//! modules and the version, not plugin sources.
//!
//! # Layout
//! - [`types`](crate::types): the plain data types (tile images, chunk arrays, notes, class info).
//! - [`error`](crate::error): [`PluginError`] and the panic [`guard`].
//! - [`host_services`](crate::host_services): [`HostServices`] for plugins, [`HostApi`] for the
//!   host, [`LocalFiles`] for tests.
//! - [`plugin`](crate::plugin): the processor traits, [`Plugin`], the export glue.
//! - `ffi`: the `#[repr(C)]` boundary types and the root module.
//! - [`loader`]: loading libraries and calling processors (the host's side).
//! - `conformance` (feature `conformance`): the checks a plugin's own tests call.

pub mod error;
#[doc(hidden)]
pub mod ffi;
pub mod host_services;
pub mod loader;
pub mod plugin;
pub mod types;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{guard, ErrorKind, PluginError};
pub use host_services::{io_error, HostApi, HostServices, LocalFiles};
pub use plugin::{ChunkProcess, Params, PathProcess, Plugin, TileProcess};
pub use types::{
    AxisOrder, ChunkArray, ClassInfo, Dtype, ImageFormat, LogLevel, Note, NoteKind, ProcessorKind,
    TileImage, TileOutput,
};

/// A library's root module (what `root_module()` returns and what the host loads).
pub use ffi::PluginModuleRef;

/// The version of plugin-abi this crate is; a library records the one it was built with.
pub const ABI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Items the macros' expansions refer to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::ffi::PluginModuleRef;
    pub use crate::plugin::{module, PluginDef};
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
}

/// Exports a plugin library: a crate built as a `cdylib` that `boss-ingest` loads. `$build` is a
/// function `fn() -> Plugin`.
///
/// It is [`declare_plugin!`] plus [`export_root_module!`]: it defines `pub fn root_module()`
/// (for the plugin's own tests and the conformance kit) and the exported symbol through which
/// the host finds the root module after `dlopen`ing the library.
///
/// A crate that is *also* linked into a binary together with other plugin crates (the built-in
/// plugins of `boss-ingest`) must use [`declare_plugin!`] instead, with a separate one-line
/// `cdylib` crate calling [`export_root_module!`]: the exported symbol has one fixed name, so two
/// crates that each define it cannot be linked into one binary ("duplicate symbol"), and a cargo
/// feature cannot tell the rlib from the cdylib of one crate (both come from one compilation).
#[macro_export]
macro_rules! export_plugin {
    ($build:path) => {
        $crate::declare_plugin!($build);
        $crate::export_root_module!(root_module);
    };
}

/// Defines `pub fn root_module() -> plugin_abi::PluginModuleRef` for the plugin described by
/// `$build` (a function `fn() -> Plugin`), without exporting it for `dlopen` (see
/// [`export_plugin!`] for when to use which). `$build` runs once per process, on first use.
#[macro_export]
macro_rules! declare_plugin {
    ($build:path) => {
        /// This library's plugin root module (see `plugin_abi::declare_plugin!`).
        pub fn root_module() -> $crate::PluginModuleRef {
            struct __BossIngestPlugin;
            impl $crate::__private::PluginDef for __BossIngestPlugin {
                fn plugin() -> &'static $crate::Plugin {
                    static PLUGIN: ::std::sync::OnceLock<$crate::Plugin> =
                        ::std::sync::OnceLock::new();
                    PLUGIN.get_or_init($build)
                }
            }
            static MODULE: ::std::sync::OnceLock<$crate::PluginModuleRef> =
                ::std::sync::OnceLock::new();
            *MODULE.get_or_init(|| {
                // Build the description now, so a panic in `$build` surfaces at load time.
                let _ = <__BossIngestPlugin as $crate::__private::PluginDef>::plugin();
                $crate::__private::module::<__BossIngestPlugin>()
            })
        }
    };
}

/// Exports `$root_module` (a `fn() -> PluginModuleRef`, usually some plugin crate's
/// `root_module`) as this `cdylib`'s plugin root module. At most once per linked binary.
#[macro_export]
macro_rules! export_root_module {
    ($root_module:path) => {
        /// The header `dlopen`ing hosts look up (abi_stable's root-module loader symbol).
        #[doc(hidden)]
        #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
        pub static __BOSS_INGEST_PLUGIN_LIB_HEADER: $crate::__private::LibHeader = {
            extern "C" fn __boss_ingest_plugin_loader() -> $crate::__private::RootModuleResult {
                $crate::__private::__call_root_module_loader($root_module)
            }
            // SAFETY: the constructor returns a root module of type `PluginModuleRef`, as
            // `from_constructor` requires.
            unsafe {
                $crate::__private::LibHeader::from_constructor::<
                    $crate::__private::PluginModuleRef,
                >(
                    __boss_ingest_plugin_loader,
                    $crate::__private::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_symbol_is_abi_stables_loader_name() {
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
