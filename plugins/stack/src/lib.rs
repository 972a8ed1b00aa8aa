//! # The stack plugin: z-stacks of single images
//!
//! The most used source layout: one image file per z slice, named from a pattern
//! (`slice_<p:4>.png`). This crate provides the Python client's
//! `ingestclient.plugins.stack.ZindexStackPathProcessor` and `...ZindexStackTileProcessor`.
//!
//! # Layout
//! - [`template`]: the `base_filename` placeholders and `os.path.join` rules.
//! - [`path`]: the path processor.
//! - [`header`]: format, size and pixel type from an image's header, without decoding.
//! - [`decode`]: decoding one tile's window of a PNG/TIFF/JPEG into a zero-padded buffer.
//! - [`cast`]: the explicit cast policy for other pixel types.
//! - [`params`]: reading params with errors that name the key.

pub mod cast;
pub mod decode;
pub mod header;
pub mod params;
pub mod path;
pub mod template;
