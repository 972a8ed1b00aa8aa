//! Object and queue keys as the Boss spells them (protocol §3.1).
//!
//! Every tile, chunk and cuboid the service knows is named by `md5_hex(base) & base`, where
//! `base` is a list of decimal integers joined by `&`. The hash prefix spreads keys over S3
//! partitions; the base is what both sides parse back. The client decodes tile keys from upload
//! messages, the simulator decodes chunk keys to assemble cuboids, and both must produce byte-for-
//! byte the strings the real service does, so the builders and parsers live here, once.

use md5::{Digest, Md5};
use std::fmt;
use std::str::FromStr;

/// Why a key string could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("key {key:?} is not of the form <md5 hex>&<numbers>")]
    Shape { key: String },
    #[error("key {key:?}: field {index} ({field:?}) is not a non-negative integer")]
    NotANumber {
        key: String,
        index: usize,
        field: String,
    },
    #[error("key {key:?} has {found} numeric fields, a {kind} key has {expected}")]
    FieldCount {
        key: String,
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("key {key:?}: the md5 prefix does not match the rest of the key")]
    Hash { key: String },
    #[error("lookup key {key:?} is not of the form <collection id>&<experiment id>&<channel id>")]
    LookupKey { key: String },
}

/// `md5_hex(base) & base`, with `base` the parts joined by `&` in decimal.
pub fn hashed(parts: &[u64]) -> String {
    let base = parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("&");
    format!("{:x}&{base}", Md5::digest(base.as_bytes()))
}

/// Splits a hashed key into its numbers after checking the md5 prefix.
pub fn unhash(key: &str) -> Result<Vec<u64>, KeyError> {
    let (hash, base) = key.split_once('&').ok_or_else(|| KeyError::Shape {
        key: key.to_string(),
    })?;
    if hash.len() != 32 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyError::Shape {
            key: key.to_string(),
        });
    }
    let parts = base
        .split('&')
        .enumerate()
        .map(|(index, field)| {
            field.parse::<u64>().map_err(|_| KeyError::NotANumber {
                key: key.to_string(),
                index,
                field: field.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if format!("{:x}", Md5::digest(base.as_bytes())) != hash.to_ascii_lowercase() {
        return Err(KeyError::Hash {
            key: key.to_string(),
        });
    }
    Ok(parts)
}

fn fields<const N: usize>(key: &str, kind: &'static str) -> Result<[u64; N], KeyError> {
    let parts = unhash(key)?;
    let found = parts.len();
    parts.try_into().map_err(|_| KeyError::FieldCount {
        key: key.to_string(),
        kind,
        expected: N,
        found,
    })
}

/// The numeric collection/experiment/channel ids of a channel: the join response's `lookup_key`
/// (`"7&12&33"`), which every key starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LookupIds {
    pub collection: u64,
    pub experiment: u64,
    pub channel: u64,
}

impl FromStr for LookupIds {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let bad = || KeyError::LookupKey { key: s.to_string() };
        let parts = s
            .split('&')
            .map(|p| p.parse::<u64>().map_err(|_| bad()))
            .collect::<Result<Vec<_>, _>>()?;
        match parts[..] {
            [collection, experiment, channel] => Ok(LookupIds {
                collection,
                experiment,
                channel,
            }),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for LookupIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}&{}&{}",
            self.collection, self.experiment, self.channel
        )
    }
}

/// One tile: `hashed(col, exp, ch, res, x_tile, y_tile, z_slice, t)`. `x`/`y` are tile indices
/// (voxel offset / tile size), `z` is the absolute slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileKey {
    pub ids: LookupIds,
    pub resolution: u64,
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub t: u64,
}

impl TileKey {
    pub fn key(&self) -> String {
        let i = self.ids;
        hashed(&[
            i.collection,
            i.experiment,
            i.channel,
            self.resolution,
            self.x,
            self.y,
            self.z,
            self.t,
        ])
    }

    pub fn parse(key: &str) -> Result<TileKey, KeyError> {
        let [collection, experiment, channel, resolution, x, y, z, t] = fields::<8>(key, "tile")?;
        Ok(TileKey {
            ids: LookupIds {
                collection,
                experiment,
                channel,
            },
            resolution,
            x,
            y,
            z,
            t,
        })
    }
}

/// A chunk of a tile job: up to 16 consecutive slices of one tile footprint,
/// `hashed(num_tiles, col, exp, ch, res, x_tile, y_tile, z_slice / 16, t)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileChunkKey {
    pub num_tiles: u64,
    pub ids: LookupIds,
    pub resolution: u64,
    pub x: u64,
    pub y: u64,
    /// The chunk's z index: its first slice divided by 16.
    pub z: u64,
    pub t: u64,
}

impl TileChunkKey {
    pub fn key(&self) -> String {
        let i = self.ids;
        hashed(&[
            self.num_tiles,
            i.collection,
            i.experiment,
            i.channel,
            self.resolution,
            self.x,
            self.y,
            self.z,
            self.t,
        ])
    }

    pub fn parse(key: &str) -> Result<TileChunkKey, KeyError> {
        let [num_tiles, collection, experiment, channel, resolution, x, y, z, t] =
            fields::<9>(key, "chunk")?;
        Ok(TileChunkKey {
            num_tiles,
            ids: LookupIds {
                collection,
                experiment,
                channel,
            },
            resolution,
            x,
            y,
            z,
            t,
        })
    }

    /// The tile keys this chunk is made of, in z order.
    pub fn tiles(&self) -> impl Iterator<Item = TileKey> + '_ {
        let first = self.z * crate::cuboid::CUBOID_Z;
        (first..first + self.num_tiles).map(|z| TileKey {
            ids: self.ids,
            resolution: self.resolution,
            x: self.x,
            y: self.y,
            z,
            t: self.t,
        })
    }
}

/// A chunk of a volumetric job: `hashed(1, col, exp, ch, res, x_chunk, y_chunk, z_chunk, 0)`
/// with chunk indices (voxel offset / chunk size). The leading 1 and trailing 0 are constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VolumetricChunkKey {
    pub ids: LookupIds,
    pub resolution: u64,
    pub x: u64,
    pub y: u64,
    pub z: u64,
}

impl VolumetricChunkKey {
    pub fn key(&self) -> String {
        let i = self.ids;
        hashed(&[
            1,
            i.collection,
            i.experiment,
            i.channel,
            self.resolution,
            self.x,
            self.y,
            self.z,
            0,
        ])
    }

    pub fn parse(key: &str) -> Result<VolumetricChunkKey, KeyError> {
        let [_one, collection, experiment, channel, resolution, x, y, z, _t] =
            fields::<9>(key, "chunk")?;
        Ok(VolumetricChunkKey {
            ids: LookupIds {
                collection,
                experiment,
                channel,
            },
            resolution,
            x,
            y,
            z,
        })
    }
}

/// A stored cuboid: `hashed(col, exp, ch, res, t, morton(x/512, y/512, z/16))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CuboidKey {
    pub ids: LookupIds,
    pub resolution: u64,
    pub t: u64,
    /// Cuboid coordinates (voxel offset / cuboid size).
    pub x: u64,
    pub y: u64,
    pub z: u64,
}

impl CuboidKey {
    pub fn key(&self) -> String {
        let i = self.ids;
        hashed(&[
            i.collection,
            i.experiment,
            i.channel,
            self.resolution,
            self.t,
            morton(self.x, self.y, self.z),
        ])
    }

    pub fn parse(key: &str) -> Result<CuboidKey, KeyError> {
        let [collection, experiment, channel, resolution, t, code] = fields::<6>(key, "cuboid")?;
        let (x, y, z) = unmorton(code);
        Ok(CuboidKey {
            ids: LookupIds {
                collection,
                experiment,
                channel,
            },
            resolution,
            t,
            x,
            y,
            z,
        })
    }
}

/// Interleaves the bits of cuboid coordinates: bit i of x → bit 3i, of y → 3i+1, of z → 3i+2.
/// Coordinates use at most 21 bits each (a 64-bit code).
pub fn morton(x: u64, y: u64, z: u64) -> u64 {
    let mut code = 0;
    for bit in 0..21 {
        code |= ((x >> bit) & 1) << (3 * bit);
        code |= ((y >> bit) & 1) << (3 * bit + 1);
        code |= ((z >> bit) & 1) << (3 * bit + 2);
    }
    code
}

/// The inverse of [`morton`].
pub fn unmorton(code: u64) -> (u64, u64, u64) {
    let (mut x, mut y, mut z) = (0, 0, 0);
    for bit in 0..21 {
        x |= ((code >> (3 * bit)) & 1) << bit;
        y |= ((code >> (3 * bit + 1)) & 1) << bit;
        z |= ((code >> (3 * bit + 2)) & 1) << bit;
    }
    (x, y, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS_123: LookupIds = LookupIds {
        collection: 1,
        experiment: 2,
        channel: 3,
    };
    const IDS_7: LookupIds = LookupIds {
        collection: 7,
        experiment: 12,
        channel: 33,
    };

    fn tile(ids: LookupIds, x: u64, y: u64, z: u64) -> TileKey {
        TileKey {
            ids,
            resolution: 0,
            x,
            y,
            z,
            t: 0,
        }
    }

    fn chunk(ids: LookupIds, num_tiles: u64, x: u64, y: u64, z: u64) -> TileChunkKey {
        TileChunkKey {
            num_tiles,
            ids,
            resolution: 0,
            x,
            y,
            z,
            t: 0,
        }
    }

    #[test]
    fn tile_key_vector() {
        let key = tile(IDS_123, 5, 6, 1).key();
        assert_eq!(key, "03ca58a12ec662954ac12e06517d4269&1&2&3&0&5&6&1&0");
        assert_eq!(TileKey::parse(&key).unwrap(), tile(IDS_123, 5, 6, 1));
    }

    #[test]
    fn chunk_key_vectors() {
        assert_eq!(
            chunk(IDS_123, 16, 5, 6, 1).key(),
            "77ff984241a0d6aa443d8724a816866d&16&1&2&3&0&5&6&1&0"
        );
        assert_eq!(
            chunk(IDS_123, 1, 0, 0, 0).key(),
            "734833bfc27610382294c28152fa1a58&1&1&2&3&0&0&0&0&0"
        );
    }

    #[test]
    fn tile_ingest_vectors() {
        assert_eq!(
            tile(IDS_7, 1, 2, 5).key(),
            "2a0448aac2ebca1f9f8a6e2e8f480527&7&12&33&0&1&2&5&0"
        );
        let first = chunk(IDS_7, 16, 1, 2, 5 / 16);
        assert_eq!(
            first.key(),
            "21617144425f5ede0b29cafd5fdd9577&16&7&12&33&0&1&2&0&0"
        );
        // Extent z = [0, 40): the chunk starting at 32 holds min(16, 40 - 32) = 8 tiles.
        let last = chunk(IDS_7, 8, 1, 2, 32 / 16);
        assert_eq!(
            last.key(),
            "ff44ac58348713dd533e3d892c0b258b&8&7&12&33&0&1&2&2&0"
        );
        assert_eq!(
            TileChunkKey::parse("ff44ac58348713dd533e3d892c0b258b&8&7&12&33&0&1&2&2&0").unwrap(),
            last
        );
        let slices: Vec<u64> = last.tiles().map(|t| t.z).collect();
        assert_eq!(slices, (32..40).collect::<Vec<_>>());
    }

    #[test]
    fn volumetric_vectors() {
        let chunk = VolumetricChunkKey {
            ids: IDS_7,
            resolution: 0,
            x: 1,
            y: 0,
            z: 0,
        };
        assert_eq!(
            chunk.key(),
            "82b790a738e8771cded25e06d53c16a9&1&7&12&33&0&1&0&0&0"
        );
        assert_eq!(VolumetricChunkKey::parse(&chunk.key()).unwrap(), chunk);
        // Chunk (1, 0, 0) of 1024×1024×64 starts at voxel x 1024 = cuboid x 2.
        let cuboid = |x, y, z| CuboidKey {
            ids: IDS_7,
            resolution: 0,
            t: 0,
            x,
            y,
            z,
        };
        let vectors = [
            (
                (2, 0, 0),
                8,
                "e39b326eefd5a0c95d929925d7e2e0af&7&12&33&0&0&8",
            ),
            (
                (3, 0, 0),
                9,
                "da455f6e36e15a9b08feffaac007a8a0&7&12&33&0&0&9",
            ),
            (
                (2, 1, 0),
                10,
                "615b7e12d27e390dcb9eab69adfe40ae&7&12&33&0&0&10",
            ),
            (
                (2, 0, 1),
                12,
                "4799502c516102c9ff62aa7e7a637b63&7&12&33&0&0&12",
            ),
        ];
        for ((x, y, z), code, key) in vectors {
            assert_eq!(morton(x, y, z), code);
            assert_eq!(cuboid(x, y, z).key(), key);
            assert_eq!(CuboidKey::parse(key).unwrap(), cuboid(x, y, z));
        }
    }

    #[test]
    fn morton_round_trips() {
        for (x, y, z) in [
            (0, 0, 0),
            (1, 2, 3),
            (1000, 77, 4095),
            (0x1f_ffff, 0, 0x1f_ffff),
        ] {
            assert_eq!(unmorton(morton(x, y, z)), (x, y, z));
        }
    }

    #[test]
    fn bad_keys_are_named() {
        assert_eq!(
            TileKey::parse("nothash").unwrap_err().to_string(),
            "key \"nothash\" is not of the form <md5 hex>&<numbers>"
        );
        let tampered = "03ca58a12ec662954ac12e06517d4269&1&2&3&0&5&6&2&0";
        assert_eq!(
            TileKey::parse(tampered).unwrap_err(),
            KeyError::Hash {
                key: tampered.to_string()
            }
        );
        let chunk_key = "77ff984241a0d6aa443d8724a816866d&16&1&2&3&0&5&6&1&0";
        assert_eq!(
            TileKey::parse(chunk_key).unwrap_err().to_string(),
            format!("key {chunk_key:?} has 9 numeric fields, a tile key has 8")
        );
        let word = format!("{:x}&1&x", Md5::digest(b"1&x"));
        assert!(matches!(
            unhash(&word),
            Err(KeyError::NotANumber { index: 1, .. })
        ));
    }

    #[test]
    fn lookup_key_round_trips() {
        let ids: LookupIds = "7&12&33".parse().unwrap();
        assert_eq!(ids, IDS_7);
        assert_eq!(ids.to_string(), "7&12&33");
        assert!("7&12".parse::<LookupIds>().is_err());
    }
}
