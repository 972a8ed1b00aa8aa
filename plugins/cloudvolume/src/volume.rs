//! Reading a box of voxels out of one scale of a precomputed volume through the host's
//! services: which chunk files the box touches, how each is named and stored, and how their
//! x-fastest samples land in the XYZT array the chunk processor returns.
//!
//! A chunk file is named `{x0}-{x1}_{y0}-{y1}_{z0}-{z1}` after the voxels it holds (absolute
//! coordinates, clipped to the volume's bounds) inside the scale's directory. CloudVolume writes
//! a gzip-compressed file with a `.gz` suffix on a filesystem and without one (but gzip magic
//! inside) in object stores, so both are tried and recognised.

use std::io::Read;

use plugin_abi::{ErrorKind, HostServices, PluginError};

use crate::info::Scale;
use crate::CloudVolumeError;

/// `base` and `name` joined by one `/`.
pub fn join(base: &str, name: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        name.trim_start_matches('/')
    )
}

/// The bytes at `location`, or `None` when nothing is stored there.
pub fn read_optional(
    host: &HostServices,
    location: &str,
) -> Result<Option<Vec<u8>>, CloudVolumeError> {
    match host.read(location) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PluginError {
            kind: ErrorKind::NotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(CloudVolumeError::Read(e)),
    }
}

/// The name of the chunk file holding voxels `[lo, hi)` (x, y, z).
pub fn chunk_name(lo: [u64; 3], hi: [u64; 3]) -> String {
    format!(
        "{}-{}_{}-{}_{}-{}",
        lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]
    )
}

/// What reading a box found, besides its voxels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoxRead {
    /// Samples in C order of shape (x, y, z, 1): z varies fastest.
    pub data: Vec<u8>,
    /// Chunk files that do not exist and were read as zeros (`fill_missing`).
    pub filled: Vec<String>,
}

/// Reads voxels `[start, stop)` (x, y, z; `stop` within the volume's end). Voxels below the
/// volume's `voxel_offset` read as zero. A missing chunk file is an error unless `fill_missing`.
pub fn read_box(
    host: &HostServices,
    scale_dir: &str,
    scale: &Scale,
    start: [u64; 3],
    stop: [u64; 3],
    fill_missing: bool,
) -> Result<BoxRead, CloudVolumeError> {
    let itemsize = scale.dtype.size();
    let n = [0, 1, 2].map(|d| stop[d] - start[d]);
    let mut out = BoxRead {
        data: vec![0; (n[0] * n[1] * n[2]) as usize * itemsize],
        filled: Vec::new(),
    };
    let lo = [0, 1, 2].map(|d| start[d].max(scale.voxel_offset[d]));
    if (0..3).any(|d| lo[d] >= stop[d]) {
        return Ok(out);
    }
    let (cs, origin, end) = (scale.chunk_size, scale.voxel_offset, scale.end());
    let first = [0, 1, 2].map(|d| (lo[d] - origin[d]) / cs[d]);
    let last = [0, 1, 2].map(|d| (stop[d] - 1 - origin[d]) / cs[d]);
    for gz in first[2]..=last[2] {
        for gy in first[1]..=last[1] {
            for gx in first[0]..=last[0] {
                let g = [gx, gy, gz];
                let c0 = [0, 1, 2].map(|d| origin[d] + g[d] * cs[d]);
                let c1 = [0, 1, 2].map(|d| (c0[d] + cs[d]).min(end[d]));
                let name = chunk_name(c0, c1);
                let location = join(scale_dir, &name);
                let shape = [0, 1, 2].map(|d| c1[d] - c0[d]);
                let expected = (shape[0] * shape[1] * shape[2]) as usize * itemsize;
                let Some(bytes) = read_chunk(host, &location, expected)? else {
                    if fill_missing {
                        out.filled.push(location);
                        continue;
                    }
                    return Err(CloudVolumeError::MissingChunk { location });
                };
                if bytes.len() != expected {
                    return Err(CloudVolumeError::Corrupt(format!(
                        "{location} holds {} bytes; a {} chunk of {}×{}×{} voxels is {expected}",
                        bytes.len(),
                        scale.dtype,
                        shape[0],
                        shape[1],
                        shape[2]
                    )));
                }
                // The part of this chunk inside the box, copied sample by sample: the file is
                // x-fastest, the result z-fastest.
                let a = [0, 1, 2].map(|d| c0[d].max(lo[d]));
                let b = [0, 1, 2].map(|d| c1[d].min(stop[d]));
                for z in a[2]..b[2] {
                    for y in a[1]..b[1] {
                        let src_row = ((z - c0[2]) * shape[1] + (y - c0[1])) * shape[0];
                        for x in a[0]..b[0] {
                            let s = (src_row + x - c0[0]) as usize * itemsize;
                            let t = (((x - start[0]) * n[1] + (y - start[1])) * n[2]
                                + (z - start[2])) as usize
                                * itemsize;
                            out.data[t..t + itemsize].copy_from_slice(&bytes[s..s + itemsize]);
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A chunk file's raw bytes: `location`, else `location.gz`; gunzipped when gzip-compressed.
/// Raw bytes may start like gzip by chance (voxels 31, 139), so a file without the suffix is
/// taken as raw when it already has the raw chunk's exact length.
fn read_chunk(
    host: &HostServices,
    location: &str,
    raw_len: usize,
) -> Result<Option<Vec<u8>>, CloudVolumeError> {
    let (found_at, bytes) = match read_optional(host, location)? {
        Some(bytes) if bytes.len() == raw_len => return Ok(Some(bytes)),
        Some(bytes) => (location.to_string(), bytes),
        None => {
            let gz = format!("{location}.gz");
            match read_optional(host, &gz)? {
                Some(bytes) => (gz, bytes),
                None => return Ok(None),
            }
        }
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Some(bytes));
    }
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut raw)
        .map_err(|e| CloudVolumeError::Corrupt(format!("{found_at}: gzip: {e}")))?;
    Ok(Some(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_voxels_they_hold() {
        assert_eq!(chunk_name([64, 0, 16], [100, 64, 20]), "64-100_0-64_16-20");
        assert_eq!(join("/data/vol/", "4_4_40"), "/data/vol/4_4_40");
        assert_eq!(join("s3://b/vol", "/4_4_40"), "s3://b/vol/4_4_40");
    }
}
