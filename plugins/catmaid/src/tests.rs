//! The plugin through its root module, as the host uses it: class names, the spec's examples,
//! each tile format, edge tiles, black tiles and their notes, and the errors.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use image::{ExtendedColorType, ImageEncoder};
use plugin_abi::loader::Library;
use plugin_abi::{
    Dtype, ErrorKind, HostApi, ImageFormat, LocalFiles, LogLevel, Note, PluginError, ProcessorKind,
    TileImage,
};
use serde_json::{json, Value};

fn library() -> Library {
    Library::from_root_module(super::root_module())
}

/// A 700 × 600 job in 512² tiles: 2 × 2 tiles, the right and bottom ones partial.
fn params(extra: Value) -> String {
    let mut p = json!({
        "filetype": "png",
        "ingest_job": {"resolution": 0, "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1},
                       "extent": {"x": [0, 700], "y": [0, 600], "z": [0, 4], "t": [0, 1]}}
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p.to_string()
}

fn gray(w: u32, h: u32, seed: u8) -> Vec<u8> {
    (0..w * h)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect()
}

fn png(w: u32, h: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(data, w, h, ExtendedColorType::L8)
        .unwrap();
    out
}

fn jpeg(w: u32, h: u32, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 100)
        .write_image(data, w, h, ExtendedColorType::L8)
        .unwrap();
    out
}

fn tiff16(w: u32, h: u32, data: &[u16]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_ne_bytes()).collect();
    image::codecs::tiff::TiffEncoder::new(&mut out)
        .write_image(&bytes, w, h, ExtendedColorType::L16)
        .unwrap();
    out.into_inner()
}

fn raw_data(image: &TileImage) -> (u32, u32, Dtype, &[u8]) {
    match image {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => (*width, *height, *dtype, data),
        other => panic!("expected raw pixels, got {other:?}"),
    }
}

#[test]
fn classes_answer_to_the_python_names_and_both_url_spellings() {
    let lib = library();
    assert_eq!(lib.name(), "catmaid");
    let classes: Vec<_> = lib
        .classes()
        .iter()
        .map(|c| (c.name.clone(), c.kind, c.legacy_names.clone()))
        .collect();
    let entry = |name: &str, kind| {
        (
            name.to_string(),
            kind,
            vec![format!("ingestclient.plugins.catmaid.{name}")],
        )
    };
    use ProcessorKind::{Path, Tile};
    assert_eq!(
        classes,
        vec![
            entry("CatmaidFileImageStackPathProcessor", Path),
            entry("CatmaidFileImageStackTileProcessor", Tile),
            entry("CatmaidFileImageStackZoomLevelPathProcessor", Path),
            entry("CatmaidFileImageStackZoomLevelTileProcessor", Tile),
            entry("CatmaidDirectoryImageStackPathProcessor", Path),
            entry("CatmaidDirectoryImageStackTileProcessor", Tile),
            entry("CatmaidURLPathProcessor", Path),
            entry("CatmaidURLTileProcessor", Tile),
            entry("CatmainURLTileProcessor", Tile),
        ]
    );
}

#[test]
fn path_processors_follow_the_spec_examples() {
    let lib = library();
    let host = Arc::new(LocalFiles);
    let path = |class: &str, extra: Value, (x, y, z): (u64, u64, u64)| {
        lib.path_processor(class, &params(extra), host.clone())
            .unwrap()
            .path(x, y, z, 0)
            .unwrap()
    };
    let root = json!({"root_dir": "/root"});
    assert_eq!(
        path(
            "CatmaidFileImageStackPathProcessor",
            root.clone(),
            (0, 1, 0)
        ),
        "/root/0/1_0_0.png"
    );
    assert_eq!(
        path(
            "CatmaidFileImageStackZoomLevelPathProcessor",
            root.clone(),
            (1, 0, 3)
        ),
        "/root/0/3/0_1.png"
    );
    assert_eq!(
        path("CatmaidDirectoryImageStackPathProcessor", root, (1, 0, 3)),
        "/root/0/3/0/1.png"
    );
    assert_eq!(
        path(
            "CatmaidURLPathProcessor",
            json!({"url": "http://h/s/", "z_offset": 2}),
            (1, 0, 3)
        ),
        "http://h/s/5/0/1.png"
    );
    let err = lib
        .path_processor(
            "CatmaidFileImageStackPathProcessor",
            &params(json!({"root_dir": "/r"})),
            host,
        )
        .unwrap()
        .path(0, 0, 4, 0)
        .unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::OutOfRange,
            "z = 4 is outside the job's z extent [0, 4)"
        )
    );
}

/// A CATMAID file tree with one tile per file, written by the test.
struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> String {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_string()
    }
}

#[test]
fn file_tiles_pass_full_tiles_through_and_pad_edge_tiles_in_every_format() {
    let tree = Tree::new();
    let lib = library();
    let host = Arc::new(LocalFiles);
    let tiles = lib
        .tile_processor(
            "CatmaidFileImageStackTileProcessor",
            &params(json!({})),
            host.clone(),
        )
        .unwrap();

    // An interior tile that is exactly 512² passes through byte for byte.
    let full = png(512, 512, &gray(512, 512, 1));
    let path = tree.write("0/0_0_0.png", &full);
    let out = tiles.tile(&path, 0, 0, 0, 0).unwrap();
    assert_eq!(
        out.image,
        TileImage::Encoded {
            format: ImageFormat::Png,
            bytes: full
        }
    );
    assert!(out.notes.is_empty());

    // The right edge tile covers x 512..700: a 188 × 512 JPEG (named .jpg) is padded to 512².
    let data = gray(188, 512, 3);
    let path = tree.write("0/0_1_0.jpg", &jpeg(188, 512, &data));
    let out = tiles.tile(&path, 1, 0, 0, 0).unwrap();
    let decoded = image::load_from_memory(&jpeg(188, 512, &data))
        .unwrap()
        .to_luma8();
    let (w, h, dtype, got) = raw_data(&out.image);
    assert_eq!((w, h, dtype), (512, 512, Dtype::U8));
    for y in 0..512usize {
        let row = &got[y * 512..(y + 1) * 512];
        assert_eq!(
            &row[..188],
            &decoded.as_raw()[y * 188..(y + 1) * 188],
            "row {y}"
        );
        assert!(row[188..].iter().all(|&v| v == 0), "row {y} padding");
    }

    // A 16-bit TIFF (named .tif) corner tile: 188 × 88 → padded, values kept.
    let data16: Vec<u16> = (0..188 * 88).map(|i| (i * 13) as u16).collect();
    let path = tree.write("0/1_1_0.tif", &tiff16(188, 88, &data16));
    let out = tiles.tile(&path, 1, 1, 0, 0).unwrap();
    let (w, h, dtype, got) = raw_data(&out.image);
    assert_eq!((w, h, dtype), (512, 512, Dtype::U16));
    let sample = |x: usize, y: usize| {
        u16::from_le_bytes([got[(y * 512 + x) * 2], got[(y * 512 + x) * 2 + 1]])
    };
    assert_eq!(sample(0, 0), data16[0]);
    assert_eq!(sample(187, 87), data16[87 * 188 + 187]);
    assert_eq!(sample(188, 0), 0);
    assert_eq!(sample(0, 88), 0);
}

#[test]
fn a_short_interior_tile_and_a_missing_tile_are_errors_naming_the_file() {
    let tree = Tree::new();
    let lib = library();
    let tiles = lib
        .tile_processor(
            "CatmaidDirectoryImageStackTileProcessor",
            &params(json!({})),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let path = tree.write("0/0/0/0.png", &png(300, 512, &gray(300, 512, 0)));
    let err = tiles.tile(&path, 0, 0, 0, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidImage);
    assert_eq!(
        err.message,
        format!("{path}: image is 300×512, but tile (x=0, y=0) needs at least 512×512")
    );
    let missing = format!("{}/0/1/0/0.png", tree.dir.path().display());
    let err = tiles.tile(&missing, 0, 1, 1, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    assert_eq!(
        err.message,
        format!(
            "{missing}: file not found; check root_dir, filetype and that the processor class \
             matches the tiles' layout, or set \"fail_gracefully\": true to upload black tiles \
             for missing tiles"
        )
    );
    // fail_gracefully: a black tile and a note instead.
    let graceful = lib
        .tile_processor(
            "CatmaidDirectoryImageStackTileProcessor",
            &params(json!({"fail_gracefully": true, "datatype": "uint16"})),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let out = graceful.tile(&missing, 0, 1, 1, 0).unwrap();
    assert_eq!(
        raw_data(&out.image),
        (512, 512, Dtype::U16, &vec![0u8; 512 * 512 * 2][..])
    );
    assert_eq!(
        out.notes,
        vec![Note::black_tile(format!(
            "black tile: {missing} is missing (fail_gracefully)"
        ))]
    );
}

/// Host services answering URLs from a table, counting requests: the tile server of these tests
/// (the real HTTP client is tested in the host and end to end).
#[derive(Default)]
struct Server {
    answers: HashMap<String, Result<Vec<u8>, PluginError>>,
    requests: Mutex<Vec<String>>,
}

impl HostApi for Server {
    fn read(&self, location: &str) -> Result<Vec<u8>, PluginError> {
        self.requests.lock().unwrap().push(location.to_string());
        self.answers.get(location).cloned().unwrap_or_else(|| {
            Err(PluginError::not_found(format!(
                "{location}: HTTP 404 Not Found"
            )))
        })
    }
    fn read_range(&self, _: &str, _: u64, _: u64) -> Result<Vec<u8>, PluginError> {
        unreachable!("URL tiles are read whole")
    }
    fn size(&self, _: &str) -> Result<u64, PluginError> {
        unreachable!("URL tiles are read whole")
    }
    fn log(&self, _: LogLevel, _: &str) {}
}

#[test]
fn url_tiles_403_and_negative_sections_are_black_with_notes_under_both_spellings() {
    let full = png(512, 512, &gray(512, 512, 9));
    let mut server = Server::default();
    server
        .answers
        .insert("http://h/s/0/0/0.png".into(), Ok(full.clone()));
    server.answers.insert(
        "http://h/s/1/0/0.png".into(),
        Err(PluginError::denied(
            "http://h/s/1/0/0.png: HTTP 403 Forbidden; the server refuses to send it",
        )),
    );
    let server = Arc::new(server);
    let lib = library();
    for class in ["CatmaidURLTileProcessor", "CatmainURLTileProcessor"] {
        let tiles = lib
            .tile_processor(class, &params(json!({"z_offset": -2})), server.clone())
            .unwrap();
        // z 2 → section 0: the server's bytes, unchanged.
        let out = tiles.tile("http://h/s/0/0/0.png", 0, 0, 2, 0).unwrap();
        assert_eq!(
            out.image,
            TileImage::Encoded {
                format: ImageFormat::Png,
                bytes: full.clone()
            }
        );
        // z 3 → section 1: 403 → black, reported.
        let out = tiles.tile("http://h/s/1/0/0.png", 0, 0, 3, 0).unwrap();
        assert_eq!(
            raw_data(&out.image),
            (512, 512, Dtype::U8, &vec![0u8; 512 * 512][..])
        );
        assert_eq!(
            out.notes,
            vec![Note::black_tile(
                "black tile: http://h/s/1/0/0.png: HTTP 403 Forbidden; the server refuses to send it"
            )]
        );
        // z 1 → section -1: black without asking the server.
        let before = server.requests.lock().unwrap().len();
        let out = tiles.tile("http://h/s/-1/0/0.png", 0, 0, 1, 0).unwrap();
        assert_eq!(server.requests.lock().unwrap().len(), before);
        assert_eq!(
            out.notes,
            vec![Note::black_tile(
                "black tile: z 1 + z_offset -2 = section -1, before the tile server's first section"
            )]
        );
        // 404 stays an error, naming the URL.
        let err = tiles.tile("http://h/s/2/0/0.png", 0, 0, 3, 0).unwrap_err();
        assert_eq!(err.kind, ErrorKind::NotFound);
        assert_eq!(
            err.message,
            "http://h/s/2/0/0.png: the tile server has no such tile (HTTP 404); check url, \
             filetype and z_offset"
        );
    }
}

#[test]
fn other_server_failures_fail_the_tile_with_the_hosts_message() {
    let mut server = Server::default();
    server.answers.insert(
        "http://h/s/0/0/0.png".into(),
        Err(PluginError::io(
            "http://h/s/0/0/0.png: HTTP 503 Service Unavailable (gave up after 6 attempts)",
        )),
    );
    let tiles = library()
        .tile_processor(
            "CatmaidURLTileProcessor",
            &params(json!({})),
            Arc::new(server),
        )
        .unwrap();
    let err = tiles.tile("http://h/s/0/0/0.png", 0, 0, 0, 0).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::Io,
            "http://h/s/0/0/0.png: HTTP 503 Service Unavailable (gave up after 6 attempts)"
        )
    );
}

#[cfg(test)]
mod conformance {
    use super::*;
    use plugin_abi::conformance::{assert_conforms, Case};

    #[test]
    fn catmaid_plugin_conforms() {
        let tree = Tree::new();
        let root = tree.dir.path().to_str().unwrap().to_string();
        tree.write("0/0_0_0.png", &png(512, 512, &gray(512, 512, 4)));
        tree.write("0/0_1_0.png", &png(188, 512, &gray(188, 512, 5)));
        let p = |extra: Value| serde_json::from_str::<Value>(&params(extra)).unwrap();
        assert_conforms(
            crate::root_module(),
            &[
                Case::new(
                    "CatmaidFileImageStackPathProcessor",
                    p(json!({"root_dir": root})),
                )
                .call("", 0, 0, 0, 0)
                .call("", 1, 1, 3, 0),
                Case::new("CatmaidFileImageStackTileProcessor", p(json!({})))
                    .tile_size(512, 512, Dtype::U8)
                    .call(&format!("{root}/0/0_0_0.png"), 0, 0, 0, 0)
                    .call(&format!("{root}/0/0_1_0.png"), 1, 0, 0, 0),
            ],
        );
    }
}
