//! Where ingested data ends up: one file per cuboid, in the Boss's blosc format, named by the
//! cuboid object key, in `--data-dir` (or a temp dir). Volumetric uploads are kept byte for byte;
//! cuboids the sim assembles itself are compressed at level 1, since nothing outside reads the
//! stored bytes (cutouts decompress and re-compress as the Boss renders them).
//!
//! A write replaces whole cuboids, as the tile-ingest lambda does (each cuboid starts as zeros,
//! the chunk's slices go in, the object is overwritten): what a cuboid held before is gone, even
//! outside the written box. Writes are serialised by one lock, taken after compressing; reads
//! for cutouts take no lock (files are replaced atomically by rename). All functions here block:
//! callers run them on blocking threads.

use boss_protocol::cuboid::{self, Dtype, CUBOID_X, CUBOID_Y, CUBOID_Z};
use boss_protocol::keys::{CuboidKey, LookupIds};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cuboid store {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("stored cuboid {key} is unreadable: {source}")]
    Corrupt {
        key: String,
        source: cuboid::CuboidError,
    },
}

/// A box of voxels `[x0, x1) × [y0, y1) × [z0, z1)` at one resolution and time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: (u64, u64),
    pub y: (u64, u64),
    pub z: (u64, u64),
}

impl Region {
    pub fn voxels(&self) -> u64 {
        (self.x.1 - self.x.0) * (self.y.1 - self.y.0) * (self.z.1 - self.z.0)
    }
}

pub struct Store {
    dir: PathBuf,
    write_lock: Mutex<()>,
}

impl Store {
    pub fn new(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(Store {
            dir: dir.to_path_buf(),
            write_lock: Mutex::new(()),
        })
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn io(&self, key: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        let path = self.path(key).display().to_string();
        move |source| StoreError::Io { path, source }
    }

    /// The compressed bytes of a stored cuboid, if any.
    pub fn get_compressed(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(key)(e)),
        }
    }

    /// A stored cuboid decompressed, if any.
    pub fn get(&self, key: &str, dtype: Dtype) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(bytes) = self.get_compressed(key)? else {
            return Ok(None);
        };
        cuboid::decompress_cuboid(&bytes, dtype)
            .map(Some)
            .map_err(|source| StoreError::Corrupt {
                key: key.to_string(),
                source,
            })
    }

    /// Stores already-compressed bytes as they are (volumetric uploads are copied as-is).
    pub fn put_compressed(&self, key: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.dir.join(format!(".{key}.tmp"));
        std::fs::write(&tmp, bytes).map_err(self.io(key))?;
        std::fs::rename(&tmp, self.path(key)).map_err(self.io(key))
    }

    /// Writes `data` (C order z, y, x, little-endian `dtype`) into the box `region`; every cuboid
    /// it touches is replaced, zero outside the box. Returns the keys of the cuboids written.
    pub fn replace_region(
        &self,
        ids: LookupIds,
        resolution: u64,
        t: u64,
        dtype: Dtype,
        region: Region,
        data: &[u8],
    ) -> Result<Vec<String>, StoreError> {
        // Compress before taking the lock: compression is nearly all of the work, and the lock
        // only has to make each region's set of files appear together.
        let cuboids: Vec<(String, Vec<u8>)> = cuboids_of(ids, resolution, t, region)
            .map(|(key, cuboid_origin)| {
                let mut voxels = vec![0; cuboid::cuboid_bytes(dtype)];
                for (ri, ci, run) in overlap(region, cuboid_origin, dtype.size()) {
                    voxels[ci..ci + run].copy_from_slice(&data[ri..ri + run]);
                }
                (key, cuboid::compress_fast(&voxels, dtype))
            })
            .collect();
        let _guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut written = Vec::with_capacity(cuboids.len());
        for (key, bytes) in cuboids {
            self.put_compressed(&key, &bytes)?;
            written.push(key);
        }
        Ok(written)
    }

    /// Reads a box (C order z, y, x, little-endian); never-written voxels are 0.
    pub fn read_region(
        &self,
        ids: LookupIds,
        resolution: u64,
        t: u64,
        dtype: Dtype,
        region: Region,
    ) -> Result<Vec<u8>, StoreError> {
        let mut out = vec![0u8; region.voxels() as usize * dtype.size()];
        for (key, cuboid_origin) in cuboids_of(ids, resolution, t, region) {
            if let Some(voxels) = self.get(&key, dtype)? {
                for (ri, ci, run) in overlap(region, cuboid_origin, dtype.size()) {
                    out[ri..ri + run].copy_from_slice(&voxels[ci..ci + run]);
                }
            }
        }
        Ok(out)
    }
}

/// The cuboids a region touches: (object key, voxel origin of the cuboid).
fn cuboids_of(
    ids: LookupIds,
    resolution: u64,
    t: u64,
    r: Region,
) -> impl Iterator<Item = (String, (u64, u64, u64))> {
    let zs = r.z.0 / CUBOID_Z..r.z.1.div_ceil(CUBOID_Z);
    let ys = r.y.0 / CUBOID_Y..r.y.1.div_ceil(CUBOID_Y);
    let xs = r.x.0 / CUBOID_X..r.x.1.div_ceil(CUBOID_X);
    zs.flat_map(move |cz| {
        let xs = xs.clone();
        ys.clone().flat_map(move |cy| {
            xs.clone().map(move |cx| {
                let key = CuboidKey {
                    ids,
                    resolution,
                    t,
                    x: cx,
                    y: cy,
                    z: cz,
                }
                .key();
                (key, (cx * CUBOID_X, cy * CUBOID_Y, cz * CUBOID_Z))
            })
        })
    })
}

/// The byte ranges where a region buffer and a cuboid buffer overlap: (region offset, cuboid
/// offset, length). Rows are contiguous in both, so whole x runs are copied at once.
fn overlap(
    r: Region,
    origin: (u64, u64, u64),
    itemsize: usize,
) -> impl Iterator<Item = (usize, usize, usize)> {
    let (ox, oy, oz) = origin;
    let (x0, x1) = (r.x.0.max(ox), r.x.1.min(ox + CUBOID_X));
    let (y0, y1) = (r.y.0.max(oy), r.y.1.min(oy + CUBOID_Y));
    let (z0, z1) = (r.z.0.max(oz), r.z.1.min(oz + CUBOID_Z));
    let empty = x0 >= x1 || y0 >= y1 || z0 >= z1;
    let (rw, rh) = (r.x.1 - r.x.0, r.y.1 - r.y.0);
    let run = (x1.saturating_sub(x0)) as usize * itemsize;
    let zs = if empty { 0..0 } else { z0..z1 };
    zs.flat_map(move |z| {
        (y0..y1).map(move |y| {
            let ri = (((z - r.z.0) * rh + (y - r.y.0)) * rw + (x0 - r.x.0)) as usize * itemsize;
            let ci = (((z - oz) * CUBOID_Y + (y - oy)) * CUBOID_X + (x0 - ox)) as usize * itemsize;
            (ri, ci, run)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: LookupIds = LookupIds {
        collection: 1,
        experiment: 2,
        channel: 3,
    };

    #[test]
    fn a_region_across_cuboids_reads_back_and_the_rest_is_zero() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path()).unwrap();
        let region = Region {
            x: (500, 530),
            y: (10, 12),
            z: (15, 17),
        };
        let data: Vec<u8> = (0..region.voxels() * 2)
            .map(|i| (i % 200 + 1) as u8)
            .collect();
        let keys = store
            .replace_region(IDS, 0, 0, Dtype::U16, region, &data)
            .unwrap();
        assert_eq!(
            keys.len(),
            4,
            "x 500..530 and z 15..17 each span two cuboids"
        );
        assert_eq!(
            store.read_region(IDS, 0, 0, Dtype::U16, region).unwrap(),
            data
        );
        let wider = Region {
            x: (499, 531),
            y: (10, 12),
            z: (15, 17),
        };
        let back = store.read_region(IDS, 0, 0, Dtype::U16, wider).unwrap();
        assert_eq!(&back[0..2], &[0, 0], "voxel 499 was never written");
        assert_eq!(&back[2..4], &data[0..2]);
    }

    #[test]
    fn a_write_replaces_the_cuboids_it_touches() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path()).unwrap();
        let first = Region {
            x: (0, 2),
            y: (0, 1),
            z: (0, 2),
        };
        store
            .replace_region(IDS, 0, 0, Dtype::U8, first, &[1, 2, 3, 4])
            .unwrap();
        let second = Region {
            x: (0, 2),
            y: (0, 1),
            z: (0, 1),
        };
        store
            .replace_region(IDS, 0, 0, Dtype::U8, second, &[9, 9])
            .unwrap();
        assert_eq!(
            store.read_region(IDS, 0, 0, Dtype::U8, first).unwrap(),
            [9, 9, 0, 0],
            "slice 1 of the cuboid was zeroed by the second write"
        );
    }
}
