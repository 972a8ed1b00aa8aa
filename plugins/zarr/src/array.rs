//! One Zarr array reached through the host's services: finding and reading its metadata, and
//! reading any box of voxels out of its chunks.
//!
//! Every read goes through [`HostServices`], so a local path and an `s3://` location work the
//! same, and the plugin carries no storage client of its own. An object the host reports as
//! not found is an absent chunk, which Zarr defines to hold the fill value.

use plugin_abi::{ErrorKind, HostServices, PluginError};

use crate::codec::{self, copy_box, Block};
use crate::metadata::{self, ArrayMeta};
use crate::ZarrError;

/// `base` and `name` joined by one `/` (an empty `name` is `base` itself).
pub fn join(base: &str, name: &str) -> String {
    let name = name.trim_matches('/');
    if name.is_empty() {
        base.to_string()
    } else {
        format!("{}/{name}", base.trim_end_matches('/'))
    }
}

/// The bytes at `location`, or `None` when nothing is stored there.
fn read_optional(host: &HostServices, location: &str) -> Result<Option<Vec<u8>>, ZarrError> {
    match host.read(location) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(PluginError {
            kind: ErrorKind::NotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(ZarrError::Read(e)),
    }
}

/// An opened array: where it is and its metadata.
#[derive(Debug, Clone)]
pub struct ZarrArray {
    pub location: String,
    pub meta: ArrayMeta,
}

/// What a box read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxRead {
    /// Little-endian samples in C order of the box.
    pub data: Vec<u8>,
    /// Stored objects the box touches.
    pub objects: u64,
    /// Of those, how many do not exist (read as the fill value).
    pub absent: u64,
}

impl ZarrArray {
    /// Reads the array's metadata: `.zarray` (v2) first, then `zarr.json` (v3).
    pub fn open(host: &HostServices, location: &str) -> Result<ZarrArray, ZarrError> {
        let meta = if let Some(text) = read_optional(host, &join(location, ".zarray"))? {
            metadata::parse_v2(&text)?
        } else if let Some(text) = read_optional(host, &join(location, "zarr.json"))? {
            metadata::parse_v3(&text)?.ok_or_else(|| ZarrError::Group {
                location: location.to_string(),
            })?
        } else if read_optional(host, &join(location, ".zgroup"))?.is_some() {
            return Err(ZarrError::Group {
                location: location.to_string(),
            });
        } else {
            return Err(ZarrError::NoArray {
                location: location.to_string(),
            });
        };
        Ok(ZarrArray {
            location: location.to_string(),
            meta,
        })
    }

    /// Reads voxels `[start, stop)` (per axis, in the array's axis order; `stop` within the
    /// array's shape).
    pub fn read_box(
        &self,
        host: &HostServices,
        start: &[u64],
        stop: &[u64],
    ) -> Result<BoxRead, ZarrError> {
        let meta = &self.meta;
        let itemsize = meta.dtype.size();
        let fill = &meta.fill_value.to_le_bytes()[..itemsize];
        let extent: Vec<u64> = stop.iter().zip(start).map(|(b, a)| b - a).collect();
        let mut data = fill.repeat(codec::volume(&extent) as usize);
        let cs = &meta.chunk_shape;
        let first: Vec<u64> = start.iter().zip(cs).map(|(s, c)| s / c).collect();
        let last: Vec<u64> = stop.iter().zip(cs).map(|(s, c)| (s - 1) / c).collect();
        let (mut objects, mut absent) = (0, 0);
        let mut position = first.clone();
        loop {
            let key = meta.keys.key(&position);
            objects += 1;
            match read_optional(host, &join(&self.location, &key))? {
                None => absent += 1,
                Some(stored) => {
                    let chunk =
                        codec::decode(&meta.codecs, stored, cs, itemsize, fill).map_err(|e| {
                            ZarrError::InObject {
                                key: key.clone(),
                                source: Box::new(e),
                            }
                        })?;
                    let origin: Vec<u64> = position.iter().zip(cs).map(|(p, c)| p * c).collect();
                    let lo: Vec<u64> = origin.iter().zip(start).map(|(o, s)| *o.max(s)).collect();
                    let hi: Vec<u64> = (0..cs.len())
                        .map(|d| (origin[d] + cs[d]).min(stop[d]))
                        .collect();
                    let in_chunk: Vec<u64> = lo.iter().zip(&origin).map(|(l, o)| l - o).collect();
                    let in_box: Vec<u64> = lo.iter().zip(start).map(|(l, s)| l - s).collect();
                    let size: Vec<u64> = hi.iter().zip(&lo).map(|(h, l)| h - l).collect();
                    copy_box(
                        Block::new(&chunk, cs, &in_chunk),
                        &mut data,
                        &extent,
                        &in_box,
                        &size,
                        itemsize,
                    );
                }
            }
            // Next grid position, last axis fastest; done when the first axis runs past.
            let mut d = position.len();
            loop {
                if d == 0 {
                    return Ok(BoxRead {
                        data,
                        objects,
                        absent,
                    });
                }
                d -= 1;
                if position[d] < last[d] {
                    position[d] += 1;
                    break;
                }
                position[d] = first[d];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_puts_one_slash_between() {
        assert_eq!(join("/data/vol.zarr/", "/raw"), "/data/vol.zarr/raw");
        assert_eq!(
            join("s3://bucket/vol.zarr", "raw/.zarray"),
            "s3://bucket/vol.zarr/raw/.zarray"
        );
        assert_eq!(join("/data/vol.zarr", ""), "/data/vol.zarr");
    }
}
