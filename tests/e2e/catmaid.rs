//! CATMAID sources end to end: tile jobs whose tiles come from a generated CATMAID file tree and
//! from a CATMAID tile server (a local HTTP server), uploaded by the real `boss-ingest` into
//! `boss-sim` and read back exactly through the cutout API. The server's 403 and the sections
//! before its first become black tiles, counted in the run summary.

use std::path::Path;

use serde_json::json;

use crate::support::boss::tile_config;
use crate::support::cmd::temp_dir;
use crate::support::data::{voxel, Dtype};
use crate::support::http::{HttpServer, Script};
use crate::support::job::{cutout, ingest, job_id, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};

/// 2 × 2 tiles of 512² per slice; the right and bottom tiles are partial.
const WIDTH: u64 = 700;
const HEIGHT: u64 = 600;

/// Writes tile (x, y) of section `section` (pattern slice `z`) at `path`, cut to the extent: the
/// edge files are smaller than a tile, as CATMAID writes them.
fn write_tile(path: &Path, x: u64, y: u64, z: u64) {
    let (x0, y0) = (x * 512, y * 512);
    let (w, h) = ((WIDTH - x0).min(512), (HEIGHT - y0).min(512));
    let image = image::GrayImage::from_fn(w as u32, h as u32, |i, j| {
        image::Luma([voxel(Dtype::U8, x0 + u64::from(i), y0 + u64::from(j), z) as u8])
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image.save(path).unwrap();
}

/// The expected slice `z` (C order y, x) when its source is pattern slice `source`, with the
/// tiles in `black` all zero.
fn expected_slice(source: Option<u64>, black: &[(u64, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity((WIDTH * HEIGHT) as usize);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let value = match source {
                Some(z) if !black.contains(&(x / 512, y / 512)) => voxel(Dtype::U8, x, y, z) as u8,
                _ => 0,
            };
            out.push(value);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catmaid_file_tree_is_ingested_exactly() {
    let dir = temp_dir();
    let root = dir.path().join("catmaid");
    for z in 0..3 {
        for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            // root/{z}/{y}_{x}_{resolution}.png
            write_tile(&root.join(format!("{z}/{y}_{x}_0.png")), x, y, z);
        }
    }
    let sim = SimHandle::start(SimOptions::default());
    let processors = (
        json!({"class": "ingestclient.plugins.catmaid.CatmaidFileImageStackPathProcessor",
               "params": {"root_dir": root, "filetype": "png"}}),
        json!({"class": "ingestclient.plugins.catmaid.CatmaidFileImageStackTileProcessor",
               "params": {"filetype": "png"}}),
    );
    let config = tile_config(&sim, "ch", processors, (WIDTH, HEIGHT, (0, 3)));
    let out = run(ingest(&sim, &write_config(dir.path(), &config))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout.contains("Uploaded 12 tiles") && out.stdout.contains(", 0 black tiles,"),
        "{}",
        out.both()
    );
    let stats = sim.assert_completed_cleanly(job_id(&out)).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    for z in 0..3 {
        let got = cutout(&sim, "ch", (0, WIDTH), (0, HEIGHT), (z, z + 1)).await;
        assert!(
            got == expected_slice(Some(z), &[]),
            "slice {z} differs from the tree"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catmaid_tile_server_is_ingested_with_403_and_early_sections_black() {
    let dir = temp_dir();
    let served = dir.path().join("served");
    // Sections 0 and 1 as url/{section}/{y}/{x}.png; z_offset -1 maps job z 1, 2 to them and
    // job z 0 to section -1, which the server never sees.
    for section in 0..2 {
        for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            write_tile(
                &served.join(format!("{section}/{y}/{x}.png")),
                x,
                y,
                section + 1,
            );
        }
    }
    let server = HttpServer::start(&served);
    server.script("/1/0/1.png", Script::Status(403));
    server.script("/0/1/1.png", Script::FailFirst { status: 503, n: 2 });
    let sim = SimHandle::start(SimOptions::default());
    let url = format!("{}/", server.url);
    let processors = (
        json!({"class": "ingestclient.plugins.catmaid.CatmaidURLPathProcessor",
               "params": {"url": url, "filetype": "png", "z_offset": -1}}),
        json!({"class": "ingestclient.plugins.catmaid.CatmainURLTileProcessor",
               "params": {"filetype": "png", "z_offset": -1}}),
    );
    let config = tile_config(&sim, "ch", processors, (WIDTH, HEIGHT, (0, 3)));
    let out = run(ingest(&sim, &write_config(dir.path(), &config))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    // 4 tiles of section -1 and the 403 tile.
    assert!(
        out.stdout.contains("Uploaded 12 tiles") && out.stdout.contains(", 5 black tiles,"),
        "{}",
        out.both()
    );
    // The 503s were retried by the host within the tile: three requests, one tile.
    assert_eq!(server.requests("/0/1/1.png"), 3);
    assert_eq!(server.requests("/1/0/1.png"), 1);
    sim.assert_completed_cleanly(job_id(&out)).await;
    let want = [
        expected_slice(None, &[]),
        expected_slice(Some(1), &[]),
        expected_slice(Some(2), &[(1, 0)]),
    ];
    for (z, want) in want.iter().enumerate() {
        let z = z as u64;
        let got = cutout(&sim, "ch", (0, WIDTH), (0, HEIGHT), (z, z + 1)).await;
        assert!(&got == want, "slice {z} differs from the server's tiles");
    }
}
