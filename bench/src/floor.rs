//! The floor: the least CPU a tile needs on this machine, measured in this process on one thread.
//!
//! Whatever client uploads a tile must at least read its source and compute the two hashes the
//! AWS SDK puts on a PutObject of an in-memory body: the SigV4 payload SHA-256 (the
//! `x-amz-content-sha256` header) and the CRC32 checksum header (newer SDKs add it by default).
//! The hashes come from the crates the SDK itself uses. Cases that change pixels add the codec
//! work with the settings boss-ingest uses (PNG: fdeflate's fast mode, Sub filter), done directly
//! with the codec crates, without any of the client's plumbing. No network I/O is counted: the
//! floor is what the tile costs before it reaches a socket.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// CPU per tile of one case's floor, and how it splits.
#[derive(Clone, Debug, Serialize)]
pub struct Floor {
    pub ms_per_tile: f64,
    pub tiles_measured: u64,
    /// What the floor consists of, in words.
    pub work: String,
    pub upload_bytes_per_tile: f64,
}

/// CPU seconds this thread has used.
fn thread_cpu() -> f64 {
    // SAFETY: an all-zero timespec is valid; clock_gettime writes into it.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: a valid clock id and a pointer to a local.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// The payload hashing a PutObject of `body` requires.
fn upload_hashes(body: &[u8]) -> (u32, [u8; 32]) {
    let sha: [u8; 32] = Sha256::digest(body).into();
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, body) as u32;
    (crc, sha)
}

/// Times `per_tile` over `files`, `rounds` times, and keeps the fastest round (the others lost
/// time to the machine, not to the work).
fn time_rounds(
    files: &[std::path::PathBuf],
    rounds: usize,
    mut per_tile: impl FnMut(&Path) -> Result<usize>,
) -> Result<(f64, f64)> {
    let mut best = f64::MAX;
    let mut bytes = 0usize;
    for _ in 0..rounds {
        bytes = 0;
        let start = thread_cpu();
        for f in files {
            bytes += per_tile(f)?;
        }
        best = best.min(thread_cpu() - start);
    }
    let n = files.len() as f64;
    Ok((best / n * 1000.0, bytes as f64 / n))
}

/// Pass-through: read the file, hash it.
pub fn pass_through(files: &[std::path::PathBuf], rounds: usize) -> Result<Floor> {
    let (ms, bytes) = time_rounds(files, rounds, |f| {
        let body = std::fs::read(f)?;
        std::hint::black_box(upload_hashes(&body));
        Ok(body.len())
    })?;
    Ok(Floor {
        ms_per_tile: ms,
        tiles_measured: files.len() as u64,
        work: "read the PNG + SHA-256 + CRC32 of it".into(),
        upload_bytes_per_tile: bytes,
    })
}

/// Re-encode: read, decode the PNG, encode it again with boss-ingest's settings, hash the result.
pub fn reencode(files: &[std::path::PathBuf], rounds: usize) -> Result<Floor> {
    let mut pixels = Vec::new();
    let (ms, bytes) = time_rounds(files, rounds, |f| {
        let body = std::fs::read(f)?;
        let decoder = png::Decoder::new(std::io::Cursor::new(&body));
        let mut reader = decoder.read_info()?;
        pixels.resize(reader.output_buffer_size().context("PNG too large")?, 0);
        let info = reader.next_frame(&mut pixels)?;
        let out = encode_png(
            info.width,
            info.height,
            png::BitDepth::Eight,
            &pixels[..info.buffer_size()],
        )?;
        std::hint::black_box(upload_hashes(&out));
        Ok(out.len())
    })?;
    Ok(Floor {
        ms_per_tile: ms,
        tiles_measured: files.len() as u64,
        work: "read + PNG decode + PNG encode (fast, Sub filter) + SHA-256 + CRC32".into(),
        upload_bytes_per_tile: bytes,
    })
}

/// Crop: read only the rows of the 1024² window from an uncompressed uint16 TIFF (its strips
/// are contiguous), take the window's columns as big-endian samples, PNG-encode, hash. Every
/// file yields its four tiles.
pub fn crop(files: &[std::path::PathBuf], rounds: usize) -> Result<Floor> {
    const TILE: usize = 1024;
    let layouts: Vec<(u64, usize)> = files
        .iter()
        .map(|f| strip_layout(f))
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    let mut window = vec![0u8; TILE * TILE * 2];
    let mut index = 0;
    let (ms, bytes) = time_rounds(files, rounds, |f| {
        let (data_offset, width) = layouts[index % layouts.len()];
        index += 1;
        let row_bytes = width * 2;
        let mut file = File::open(f)?;
        let mut total = 0;
        for ty in 0..2 {
            rows.resize(TILE * row_bytes, 0);
            file.seek(SeekFrom::Start(
                data_offset + (ty * TILE * row_bytes) as u64,
            ))?;
            file.read_exact(&mut rows)?;
            for tx in 0..2 {
                for (r, out) in window.chunks_exact_mut(TILE * 2).enumerate() {
                    let start = r * row_bytes + tx * TILE * 2;
                    let src = &rows[start..start + TILE * 2];
                    for (o, s) in out.chunks_exact_mut(2).zip(src.chunks_exact(2)) {
                        // TIFF little-endian samples → PNG big-endian.
                        o[0] = s[1];
                        o[1] = s[0];
                    }
                }
                let png = encode_png(TILE as u32, TILE as u32, png::BitDepth::Sixteen, &window)?;
                std::hint::black_box(upload_hashes(&png));
                total += png.len();
            }
        }
        Ok(total)
    })?;
    Ok(Floor {
        ms_per_tile: ms / 4.0,
        tiles_measured: files.len() as u64 * 4,
        work: "read the window's rows of the TIFF + take the window (uint16, to big-endian) + PNG \
               encode (fast, Sub filter) + SHA-256 + CRC32"
            .into(),
        upload_bytes_per_tile: bytes / 4.0,
    })
}

/// Where the pixels of an uncompressed single-strip-run TIFF start, and its width; checked so the
/// floor never reads the wrong bytes.
fn strip_layout(path: &Path) -> Result<(u64, usize)> {
    use tiff::tags::Tag;
    let mut decoder = tiff::decoder::Decoder::new(File::open(path)?)?;
    let (width, height) = decoder.dimensions()?;
    let offsets = decoder.get_tag_u64_vec(Tag::StripOffsets)?;
    let counts = decoder.get_tag_u64_vec(Tag::StripByteCounts)?;
    let row_bytes = u64::from(width) * 2;
    let mut expected = offsets[0];
    for (o, c) in offsets.iter().zip(&counts) {
        if *o != expected {
            bail!("{}: strips are not contiguous", path.display());
        }
        expected += c;
    }
    if expected - offsets[0] != row_bytes * u64::from(height) {
        bail!("{}: not an uncompressed uint16 TIFF", path.display());
    }
    Ok((offsets[0], width as usize))
}

fn encode_png(width: u32, height: u32, depth: png::BitDepth, pixels: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(pixels.len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Sub);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(pixels)?;
    writer.finish()?;
    Ok(out)
}
