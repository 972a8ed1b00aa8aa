//! Multi-page TIFF sources through the real binary: a tile job whose slices are the pages of
//! one generated hyperstack file (3 pages of 700×600 uint16, so tiles are cropped and padded at
//! the edges) is uploaded to boss-sim, and every voxel read back through the cutout API equals
//! the source. The single-time variant and the page arithmetic are covered by the plugin's
//! unit tests (plugins/multipage-tiff/src/tests.rs).

use std::path::Path;

use serde_json::json;
use tiff::encoder::{colortype, TiffEncoder};

use crate::support::cmd::temp_dir;
use crate::support::data::{voxel, Dtype};
use crate::support::job::{cutout, ingest, job_id, run};
use crate::support::sim::{SimHandle, SimOptions};

const WIDTH: u32 = 700;
const HEIGHT: u32 = 600;
const PAGES: u64 = 3;

/// One TIFF whose page z holds slice z of the shared uint16 voxel pattern.
fn write_hyperstack(path: &Path) {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).expect("TIFF encoder");
    for z in 0..PAGES {
        let page: Vec<u16> = (0..u64::from(HEIGHT))
            .flat_map(|y| (0..u64::from(WIDTH)).map(move |x| voxel(Dtype::U16, x, y, z) as u16))
            .collect();
        encoder
            .write_image::<colortype::Gray16>(WIDTH, HEIGHT, &page)
            .expect("write a page");
    }
    std::fs::write(path, out.into_inner()).expect("write the TIFF");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hyperstack_tile_job_is_uploaded_exactly() {
    let dir = temp_dir();
    write_hyperstack(&dir.path().join("movie_0.tif"));
    let sim = SimHandle::start(SimOptions::default());
    let config = json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
        "path_processor": {
          "class": "ingestclient.plugins.multipage_tiff.TiffMultiFileHyperStackPathProcessor",
          "params": {"root_dir": dir.path(), "extension": "tif", "base_filename": "movie_<>",
                     "time_chunk_size": 1}
        },
        "tile_processor": {
          "class": "ingestclient.plugins.multipage_tiff.TiffMultiFileHyperStackTileProcessor",
          "params": {"time_chunk_size": 1, "num_z_slices": PAGES, "num_channels": 1,
                     "channel_index": 0, "filesystem": "local"}
        }
      },
      "database": {"collection": "col", "experiment": "exp", "channel": "ch16"},
      "ingest_job": {
        "ingest_type": "tile", "resolution": 0,
        "extent": {"x": [0, WIDTH], "y": [0, HEIGHT], "z": [0, PAGES], "t": [0, 1]},
        "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}
      }
    });
    let config_path = dir.path().join("job.json");
    std::fs::write(&config_path, config.to_string()).expect("write the config");
    let out = run(ingest(&sim, &config_path)).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let tiles = 2 * 2 * PAGES;
    assert!(
        out.stdout.contains(&format!("Uploaded {tiles} tiles")),
        "{}",
        out.both()
    );
    sim.assert_completed_cleanly(job_id(&out)).await;

    for z in 0..PAGES {
        let got = cutout(
            &sim,
            "ch16",
            (0, WIDTH.into()),
            (0, HEIGHT.into()),
            (z, z + 1),
        )
        .await;
        let want: Vec<u8> = (0..u64::from(HEIGHT))
            .flat_map(|y| (0..u64::from(WIDTH)).map(move |x| voxel(Dtype::U16, x, y, z) as u16))
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(got.len(), want.len(), "page {z}: cutout size");
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            differing, 0,
            "page {z}: {differing} bytes differ from the source"
        );
    }
}
