//! The plugin driven through its root module, as the host drives it, on generated multi-page
//! TIFFs: exact pixels per page, crops, edge padding, and each error's text.

use std::path::Path;
use std::sync::Arc;

use plugin_abi::loader::Library;
use plugin_abi::{Dtype, ErrorKind, LocalFiles, Note, TileImage, TileOutput};
use serde_json::{json, Value};
use tiff::encoder::{colortype, TiffEncoder};

/// The value of pixel (x, y) of page p: every page, row and column differs.
fn value(x: u32, y: u32, page: u32) -> u16 {
    (x * 3 + y * 7 + page * 1000) as u16
}

/// A multi-page 16-bit gray TIFF, one directory per page.
fn write_u16(path: &Path, (w, h): (u32, u32), pages: u32) {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).unwrap();
    for p in 0..pages {
        let data: Vec<u16> = (0..h)
            .flat_map(|y| (0..w).map(move |x| value(x, y, p)))
            .collect();
        encoder
            .write_image::<colortype::Gray16>(w, h, &data)
            .unwrap();
    }
    std::fs::write(path, out.into_inner()).unwrap();
}

fn write_u8(path: &Path, (w, h): (u32, u32), pages: u32) {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut out).unwrap();
    for p in 0..pages {
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| value(x, y, p) as u8))
            .collect();
        encoder
            .write_image::<colortype::Gray8>(w, h, &data)
            .unwrap();
    }
    std::fs::write(path, out.into_inner()).unwrap();
}

/// The expected tile: the page's pattern inside `(w, h)`, zero outside.
fn expected(page: u32, (x, y): (u32, u32), tile: u32, (w, h): (u32, u32)) -> Vec<u8> {
    let mut out = Vec::new();
    for ty in 0..tile {
        for tx in 0..tile {
            let (px, py) = (x * tile + tx, y * tile + ty);
            let v = if px < w && py < h {
                value(px, py, page)
            } else {
                0
            };
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

fn library() -> Library {
    Library::from_root_module(super::root_module())
}

fn job(tile: u32, (w, h): (u32, u32), z: u64, t: u64) -> Value {
    json!({"tile_size": {"x": tile, "y": tile, "z": 1, "t": 1},
           "extent": {"x": [0, w], "y": [0, h], "z": [0, z], "t": [0, t]}})
}

fn with_job(mut params: Value, job: Value) -> Value {
    params["ingest_job"] = job;
    params
}

fn pixels(out: TileOutput) -> (u32, u32, Dtype, Vec<u8>) {
    match out.image {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => (width, height, dtype, data),
        other => panic!("expected raw pixels, got {other:?}"),
    }
}

#[test]
fn classes_answer_to_the_python_names() {
    let lib = library();
    assert_eq!(lib.name(), "multipage_tiff");
    let names: Vec<(&str, Vec<String>)> = lib
        .classes()
        .iter()
        .map(|c| (c.name.as_str(), c.legacy_names.clone()))
        .collect();
    let legacy = |c: &str| vec![format!("ingestclient.plugins.multipage_tiff.{c}")];
    assert_eq!(
        names,
        vec![
            (
                "SingleTimeTiffPathProcessor",
                legacy("SingleTimeTiffPathProcessor")
            ),
            (
                "SingleTimeTiffTileProcessor",
                legacy("SingleTimeTiffTileProcessor")
            ),
            (
                "TiffMultiFileHyperStackPathProcessor",
                legacy("TiffMultiFileHyperStackPathProcessor")
            ),
            (
                "TiffMultiFileHyperStackTileProcessor",
                legacy("TiffMultiFileHyperStackTileProcessor")
            ),
        ]
    );
}

#[test]
fn single_time_tiles_are_page_t_cropped_and_padded() {
    let dir = tempfile::tempdir().unwrap();
    let size = (700, 600);
    let file = dir.path().join("z0.tif");
    write_u16(&file, size, 3);
    let file = file.to_str().unwrap();
    let lib = library();
    let job = job(512, size, 1, 3);
    let paths = lib
        .path_processor(
            "SingleTimeTiffPathProcessor",
            &with_job(json!({"z_0": file}), job.clone()).to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let tiles = lib
        .tile_processor(
            "SingleTimeTiffTileProcessor",
            &with_job(json!({"datatype": "uint16"}), job).to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    for t in 0..3u64 {
        for (x, y) in [(0u32, 0u32), (1, 0), (0, 1), (1, 1)] {
            let path = paths.path(x.into(), y.into(), 0, t).unwrap();
            assert_eq!(path, file);
            let out = tiles.tile(&path, x.into(), y.into(), 0, t).unwrap();
            assert!(out.notes.is_empty(), "{:?}", out.notes);
            let (w, h, dtype, data) = pixels(out);
            assert_eq!((w, h, dtype), (512, 512, Dtype::U16));
            assert!(
                data == expected(t as u32, (x, y), 512, size),
                "page {t} tile ({x}, {y}) differs"
            );
        }
    }
    let err = paths.path(0, 0, 0, 3).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (ErrorKind::OutOfRange, "Invalid Tile T-Index: 3")
    );
    // A file with fewer pages than the job's time extent: the page is named.
    let err = tiles.tile(file, 0, 0, 0, 5).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidImage);
    assert_eq!(
        err.message,
        format!("{file}: the TIFF has no page 5 (it ends after 3 pages)")
    );
    let missing = dir.path().join("nope.tif");
    let err = tiles
        .tile(missing.to_str().unwrap(), 0, 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!(
            "{}: file not found; check the path processor's params",
            missing.display()
        )
    );
}

#[test]
fn uint8_pages_widen_to_uint16_with_a_note_and_narrowing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.tif");
    write_u8(&file, (16, 16), 2);
    let file = file.to_str().unwrap();
    let tiles = |params: Value| {
        library()
            .tile_processor(
                "SingleTimeTiffTileProcessor",
                &with_job(params, job(16, (16, 16), 1, 2)).to_string(),
                Arc::new(LocalFiles),
            )
            .unwrap()
    };
    let out = tiles(json!({"datatype": "uint16"}))
        .tile(file, 0, 0, 0, 1)
        .unwrap();
    assert_eq!(
        out.notes,
        vec![Note::cast(format!(
            "cast: {file} page 1 is uint8, converted with clip_uint16"
        ))]
    );
    let (_, _, dtype, data) = pixels(out);
    assert_eq!(dtype, Dtype::U16);
    let want: Vec<u8> = (0..16)
        .flat_map(|y| (0..16).map(move |x| value(x, y, 1) as u8))
        .flat_map(|v| u16::from(v).to_le_bytes())
        .collect();
    assert_eq!(data, want);

    // The same file under uint8 is exact.
    let (_, _, dtype, _) = pixels(
        tiles(json!({"datatype": "uint8"}))
            .tile(file, 0, 0, 0, 0)
            .unwrap(),
    );
    assert_eq!(dtype, Dtype::U8);

    // A uint16 page under datatype uint8: the original wrapped values silently; we refuse.
    let wide = dir.path().join("wide.tif");
    write_u16(&wide, (16, 16), 1);
    let wide = wide.to_str().unwrap();
    let err = tiles(json!({"datatype": "uint8"}))
        .tile(wide, 0, 0, 0, 0)
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Dtype);
    assert_eq!(
        err.message,
        format!(
            "{wide} page 0: pixel type uint16 is not the tile datatype uint8; set \"datatype\" \
             to the pages' type, or \"cast\" to one of clip_uint8, clip_uint16, scale_uint8, \
             scale_uint16"
        )
    );
}

#[test]
fn a_page_smaller_than_the_job_is_an_error_not_black_padding() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("short.tif");
    write_u16(&file, (600, 600), 1);
    let file = file.to_str().unwrap();
    let tiles = library()
        .tile_processor(
            "SingleTimeTiffTileProcessor",
            &with_job(json!({}), job(512, (700, 600), 1, 1)).to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let err = tiles.tile(file, 1, 0, 0, 0).unwrap_err();
    assert_eq!(
        err.message,
        format!("{file} page 0: the page is 600×600, but tile (x=1, y=0) needs at least 700×512")
    );
}

#[test]
fn hyperstack_tiles_read_the_page_of_t_z_and_channel() {
    // 2 time points per file, 2 z slices, 2 channels: 8 pages per file. Channel 1 is uploaded.
    let dir = tempfile::tempdir().unwrap();
    let size = (40, 30);
    for file in 0..2 {
        write_u16(&dir.path().join(format!("movie_{file:02}.tif")), size, 8);
    }
    let root = dir.path().to_str().unwrap();
    let lib = library();
    let job = job(32, size, 2, 4);
    let common = json!({"time_chunk_size": 2});
    let mut path_params = common.clone();
    path_params["root_dir"] = json!(root);
    path_params["extension"] = json!("tif");
    path_params["base_filename"] = json!("movie_<p:2>");
    let paths = lib
        .path_processor(
            "TiffMultiFileHyperStackPathProcessor",
            &with_job(path_params, job.clone()).to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let mut tile_params = common;
    tile_params["num_z_slices"] = json!(2);
    tile_params["num_channels"] = json!(2);
    tile_params["channel_index"] = json!(1);
    tile_params["filesystem"] = json!("local");
    let tiles = lib
        .tile_processor(
            "TiffMultiFileHyperStackTileProcessor",
            &with_job(tile_params, job).to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    for (t, z, file, page) in [(0, 0, 0, 1), (0, 1, 0, 3), (1, 0, 0, 5), (3, 1, 1, 7)] {
        let path = paths.path(1, 0, z, t).unwrap();
        assert_eq!(path, format!("{root}/movie_{file:02}.tif"));
        let (_, _, _, data) = pixels(tiles.tile(&path, 1, 0, z, t).unwrap());
        assert!(
            data == expected(page, (1, 0), 32, size),
            "t={t} z={z}: not page {page}"
        );
    }
    let err = tiles.tile("any.tif", 0, 0, 2, 0).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::OutOfRange,
            "any.tif: z=2 is outside the hyperstack's num_z_slices (2)"
        )
    );
}

#[test]
fn params_errors_are_params_kind() {
    let err = library()
        .tile_processor(
            "SingleTimeTiffTileProcessor",
            &with_job(json!({"datatype": "float32"}), job(8, (8, 8), 1, 1)).to_string(),
            Arc::new(LocalFiles),
        )
        .err()
        .unwrap();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::Params,
            "param \"datatype\" is \"float32\"; use uint8, uint16 or uint64"
        )
    );
}

mod conformance {
    use super::*;
    use plugin_abi::conformance::{assert_conforms, Case};

    #[test]
    fn multipage_plugin_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("z0.tif");
        write_u16(&file, (48, 40), 2);
        let file = file.to_str().unwrap();
        let job = job(32, (48, 40), 1, 2);
        assert_conforms(
            crate::root_module(),
            &[
                Case::new(
                    "SingleTimeTiffPathProcessor",
                    with_job(json!({"z_0": file}), job.clone()),
                )
                .call("", 0, 0, 0, 1),
                Case::new("SingleTimeTiffTileProcessor", with_job(json!({}), job))
                    .tile_size(32, 32, Dtype::U16)
                    .call(file, 0, 0, 0, 0)
                    .call(file, 1, 1, 0, 1),
            ],
        );
    }
}
