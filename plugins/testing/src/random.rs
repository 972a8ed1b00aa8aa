//! Deterministic "random" tiles: the same `(x, y, z, t)` always gives the same pixels, so tests
//! can recompute what a run uploaded, and no random-number crate is needed.

use plugin_abi::{Dtype, TileImage};

/// SplitMix64: tiny, fast, and good enough to make tiles that do not compress to nothing.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The seed for one tile: the indices mixed so that neighbouring tiles differ.
fn seed(x: u64, y: u64, z: u64, t: u64) -> u64 {
    let mut s = SplitMix64(x);
    for v in [y, z, t] {
        s.0 ^= s.next() ^ v;
    }
    s.next()
}

/// A `width`×`height` uint8 tile with values in 1..=253 (the original's `randint(1, 254)`).
pub fn tile(width: u32, height: u32, x: u64, y: u64, z: u64, t: u64) -> TileImage {
    let mut rng = SplitMix64(seed(x, y, z, t));
    let mut data = vec![0u8; width as usize * height as usize];
    for chunk in data.chunks_mut(8) {
        let bytes = rng.next().to_le_bytes();
        for (d, b) in chunk.iter_mut().zip(bytes) {
            // 256 % 253 leaves a slight bias towards 1..=3; irrelevant for test data.
            *d = b % 253 + 1;
        }
    }
    TileImage::Raw {
        width,
        height,
        dtype: Dtype::U8,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(img: TileImage) -> Vec<u8> {
        match img {
            TileImage::Raw {
                width: 32,
                height: 16,
                dtype: Dtype::U8,
                data,
            } => data,
            other => panic!("unexpected tile {other:?}"),
        }
    }

    #[test]
    fn same_indices_same_tile_other_indices_other_tile() {
        let a = data(tile(32, 16, 1, 2, 3, 0));
        assert_eq!(a.len(), 512);
        assert_eq!(a, data(tile(32, 16, 1, 2, 3, 0)));
        for other in [(2, 1, 3, 0), (1, 2, 4, 0), (1, 2, 3, 1), (0, 0, 0, 0)] {
            assert_ne!(
                a,
                data(tile(32, 16, other.0, other.1, other.2, other.3)),
                "{other:?}"
            );
        }
    }

    #[test]
    fn values_stay_in_1_to_253_and_vary() {
        let d = data(tile(32, 16, 0, 0, 0, 0));
        assert!(d.iter().all(|&v| (1..=253).contains(&v)));
        let distinct: std::collections::BTreeSet<u8> = d.iter().copied().collect();
        assert!(
            distinct.len() > 100,
            "only {} distinct values",
            distinct.len()
        );
    }
}
