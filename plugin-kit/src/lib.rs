//! # The plugin kit: what boss-ingest's plugins share
//!
//! Every built-in plugin reads image files or arrays named by params, through the host, and turns
//! them into tiles the Boss stores. The pieces of that which are not one plugin's own live here,
//! so that a plugin depends on the kit and on `plugin-abi`, never on another plugin, and the host
//! reads tile headers with the very code the plugins use. Nothing here crosses the plugin ABI: a
//! plugin links the kit into its own library.
//!
//! # Layout
//! - [`header`]: format, size and pixel type from an image's header, without decoding (also
//!   used by the host to check tiles).
//! - [`complete`]: whether an encoded file is whole (not cut short), before it passes through.
//! - [`decode`]: decoding one tile's window of a PNG/TIFF/JPEG into a zero-padded buffer.
//! - [`cast`]: the explicit cast policy for pixel types the Boss does not store.
//! - [`image_tiles`]: a tile cut out of one image file (pass through, crop, cast, black tile),
//!   the stack and CATMAID tile processors' work.
//! - [`params`]: reading params with errors that name the key.
//! - [`template`]: the `base_filename` placeholders and `os.path.join` rules.
//! - [`location`]: a path and the params' bucket as the location the host reads.
//! - [`ranged`]: `Read + Seek` over the host's byte-range reads, for large TIFFs.
//! - [`fixtures`] (feature `fixtures`): small encoded images for plugins' tests.

pub mod cast;
pub mod complete;
pub mod decode;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod header;
pub mod image_tiles;
pub mod location;
pub mod params;
pub mod ranged;
pub mod template;
