//! Large local TIFFs: a tile is cut from the byte ranges it needs, never the whole file.

use super::*;
use crate::fixtures::{colortype, tiff};
use plugin_abi::{Dtype, HostApi, LocalFiles, LogLevel};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Local files, counting the bytes handed out.
#[derive(Default)]
struct Counting {
    bytes: AtomicU64,
    whole_reads: AtomicU64,
}

impl HostApi for Counting {
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        let b = LocalFiles.read(location)?;
        self.whole_reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }
    fn read_range(&self, location: &str, off: u64, len: u64) -> Result<Vec<u8>, PluginError> {
        let b = LocalFiles.read_range(location, off, len)?;
        self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }
    fn size(&self, location: &str) -> Result<u64, PluginError> {
        LocalFiles.size(location)
    }
    fn log(&self, _: LogLevel, _: &str) {}
}

#[test]
fn large_local_tiff_is_cropped_from_byte_ranges() {
    let (w, h, tile) = (1600u32, 1600u32, 1024u32);
    let value = |x: u32, y: u32| (x.wrapping_mul(31) ^ y.wrapping_mul(17)) as u16;
    let data: Vec<u16> = (0..h)
        .flat_map(|y| (0..w).map(move |x| value(x, y)))
        .collect();
    let out = tiff::<colortype::Gray16>(w, h, &data);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.tif");
    let file_len = out.len() as u64;
    std::fs::write(&path, &out).unwrap();
    assert!(file_len >= RANGED_MIN_SIZE);

    let params = json!({"extension": "tif", "ingest_job": {
        "tile_size": {"x": tile, "y": tile}, "extent": {"x": [0, w], "y": [0, h]}}});
    let tiles = ImageTiles::from_params(&params).unwrap();
    let counting = Arc::new(Counting::default());
    let host = HostServices::new(counting.clone());
    let out = tiles.tile(&host, path.to_str().unwrap(), 1, 1).unwrap();
    let TileImage::Raw {
        width,
        height,
        dtype,
        data: got,
    } = out.image
    else {
        panic!("expected raw pixels");
    };
    assert_eq!((width, height, dtype), (tile, tile, Dtype::U16));
    for ty in 0..tile {
        for tx in 0..tile {
            let (x, y) = (tile + tx, tile + ty);
            let want = if x < w && y < h { value(x, y) } else { 0 };
            let i = 2 * (ty * tile + tx) as usize;
            assert_eq!(u16::from_le_bytes([got[i], got[i + 1]]), want, "({x},{y})");
        }
    }
    // Only the rows from y=1024 on were fetched (plus the directory), never the whole file.
    assert_eq!(counting.whole_reads.load(Ordering::Relaxed), 0);
    let fetched = counting.bytes.load(Ordering::Relaxed);
    assert!(
        fetched < file_len * 2 / 3,
        "fetched {fetched} of {file_len} bytes"
    );
}
