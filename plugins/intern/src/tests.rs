//! The plugin through its root module, with host services that answer cutout requests from a
//! generated uint16 volume (the real HTTP path is tested end to end against boss-sim).

use std::sync::{Arc, Mutex};

use plugin_abi::loader::Library;
use plugin_abi::{AxisOrder, Dtype, ErrorKind, HostApi, LogLevel, PluginError, TileImage};
use serde_json::{json, Value};

/// A 1100 × 600 × 40 uint16 source volume (x, y, z).
const SIZE: [u64; 3] = [1100, 600, 40];

fn voxel(x: u64, y: u64, z: u64) -> u16 {
    (x * 3 + y * 7 + z * 11) as u16
}

/// A request as the host saw it: URL and headers.
type Request = (String, Vec<(String, String)>);

/// Answers `GET .../cutout/col/exp/ch/0/x0:x1/y0:y1/z0:z1/` with uint16 voxels as the real
/// cutout view's default renderer does: `blosc.compress(zyx array, typesize=16)`.
#[derive(Default)]
struct Boss {
    requests: Mutex<Vec<Request>>,
}

impl HostApi for Boss {
    fn read(&self, _: &str) -> Result<Vec<u8>, PluginError> {
        unreachable!("intern reads through http_get")
    }
    fn read_range(&self, _: &str, _: u64, _: u64) -> Result<Vec<u8>, PluginError> {
        unreachable!("intern reads through http_get")
    }
    fn size(&self, _: &str) -> Result<u64, PluginError> {
        unreachable!("intern reads through http_get")
    }
    fn log(&self, _: LogLevel, _: &str) {}

    fn http_get(&self, url: &str, headers: &[(String, String)]) -> Result<Vec<u8>, PluginError> {
        self.requests
            .lock()
            .unwrap()
            .push((url.to_string(), headers.to_vec()));
        let rest = url
            .strip_prefix("http://boss.test/v1/cutout/col/exp/ch/0/")
            .ok_or_else(|| PluginError::not_found(format!("{url}: HTTP 404 Not Found")))?;
        let ranges: Vec<(u64, u64)> = rest
            .trim_end_matches('/')
            .split('/')
            .map(|r| {
                let (a, b) = r.split_once(':').unwrap();
                (a.parse().unwrap(), b.parse().unwrap())
            })
            .collect();
        let (x, y, z) = (ranges[0], ranges[1], ranges[2]);
        assert!(
            x.1 <= SIZE[0] && y.1 <= SIZE[1] && z.1 <= SIZE[2],
            "{url} leaves the source"
        );
        let mut out = Vec::new();
        for zz in z.0..z.1 {
            for yy in y.0..y.1 {
                for xx in x.0..x.1 {
                    out.extend_from_slice(&voxel(xx, yy, zz).to_le_bytes());
                }
            }
        }
        Ok(boss_protocol::cuboid::compress(
            &out,
            plugin_abi::Dtype::U16,
        ))
    }
}

fn params(extra: Value) -> String {
    let mut p = json!({
        "uri": "bossdb://col/exp/ch", "host": "boss.test", "protocol": "http", "token": "secret",
        "ingest_job": {"resolution": 0,
                       "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1},
                       "chunk_size": {"x": 512, "y": 512, "z": 16},
                       "extent": {"x": [0, SIZE[0]], "y": [0, SIZE[1]], "z": [0, SIZE[2]],
                                  "t": [0, 1]}}
    });
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    p.to_string()
}

fn library() -> Library {
    Library::from_root_module(super::root_module())
}

fn u16s(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn classes_answer_to_the_python_names() {
    let names: Vec<_> = library()
        .classes()
        .iter()
        .map(|c| (c.name.clone(), c.legacy_names.clone()))
        .collect();
    let entry = |n: &str| {
        (
            n.to_string(),
            vec![format!("ingestclient.plugins.intern.{n}")],
        )
    };
    assert_eq!(
        names,
        vec![
            entry("InternPathProcessor"),
            entry("InternChunkProcessor"),
            entry("InternTileProcessor")
        ]
    );
}

#[test]
fn a_partial_edge_chunk_is_read_exactly_zyx_with_the_token() {
    let boss = Arc::new(Boss::default());
    let chunks = library()
        .chunk_processor("InternChunkProcessor", &params(json!({})), boss.clone())
        .unwrap();
    let chunk = chunks.chunk("bossdb://col/exp/ch", 2, 1, 2).unwrap();
    assert_eq!(
        (chunk.shape.clone(), chunk.order, chunk.dtype),
        (vec![8, 88, 76], AxisOrder::Zyx, Dtype::U16)
    );
    let values = u16s(&chunk.data);
    let at = |x: u64, y: u64, z: u64| values[((z * 88 + y) * 76 + x) as usize];
    assert_eq!(at(0, 0, 0), voxel(1024, 512, 32));
    assert_eq!(at(75, 87, 7), voxel(1099, 599, 39));
    assert_eq!(at(10, 20, 3), voxel(1034, 532, 35));
    let requests = boss.requests.lock().unwrap();
    assert_eq!(
        requests[0],
        (
            "http://boss.test/v1/cutout/col/exp/ch/0/1024:1100/512:600/32:40/".to_string(),
            vec![
                ("Authorization".to_string(), "Token secret".to_string()),
                ("Accept".to_string(), "application/blosc".to_string())
            ]
        )
    );
}

#[test]
fn neighbouring_chunks_do_not_overlap() {
    let boss = Arc::new(Boss::default());
    let chunks = library()
        .chunk_processor("InternChunkProcessor", &params(json!({})), boss.clone())
        .unwrap();
    for x in 0..3 {
        chunks.chunk("", x, 0, 0).unwrap();
    }
    let urls: Vec<String> = boss
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(
        urls,
        vec![
            "http://boss.test/v1/cutout/col/exp/ch/0/0:512/0:512/0:16/",
            "http://boss.test/v1/cutout/col/exp/ch/0/512:1024/0:512/0:16/",
            "http://boss.test/v1/cutout/col/exp/ch/0/1024:1100/0:512/0:16/",
        ]
    );
}

#[test]
fn tiles_are_one_slice_padded_to_the_tile_size() {
    let boss = Arc::new(Boss::default());
    let tiles = library()
        .tile_processor("InternTileProcessor", &params(json!({})), boss.clone())
        .unwrap();
    let out = tiles.tile("", 2, 0, 5, 0).unwrap();
    let TileImage::Raw {
        width,
        height,
        dtype,
        data,
    } = out.image
    else {
        panic!("expected raw pixels");
    };
    assert_eq!((width, height, dtype), (512, 512, Dtype::U16));
    let values = u16s(&data);
    assert_eq!(values[0], voxel(1024, 0, 5));
    assert_eq!(values[511 * 512 + 75], voxel(1099, 511, 5));
    assert_eq!(values[76], 0, "past the extent's end is zero");
    assert!(out.notes.is_empty());
    let err = tiles.tile("", 0, 0, 0, 1).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::OutOfRange,
            "t = 1: the intern tile processor copies time point 0 only"
        )
    );
}

#[test]
fn a_dtype_that_contradicts_params_and_a_failing_source_are_errors() {
    let boss = Arc::new(Boss::default());
    let tiles = library()
        .tile_processor(
            "InternTileProcessor",
            &params(json!({"datatype": "uint8"})),
            boss.clone(),
        )
        .unwrap();
    let err = tiles.tile("", 0, 0, 0, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Dtype);
    assert_eq!(
        err.message,
        "http://boss.test/v1/cutout/col/exp/ch/0/0:512/0:512/0:1/: the source channel \
         bossdb://col/exp/ch holds uint16 voxels, but param \"datatype\" says uint8"
    );
    let other = library()
        .tile_processor(
            "InternTileProcessor",
            &params(json!({"uri": "bossdb://col/exp/nope"})),
            boss,
        )
        .unwrap();
    let err = other.tile("", 0, 0, 0, 0).unwrap_err();
    assert_eq!(
        (err.kind, err.message.as_str()),
        (
            ErrorKind::NotFound,
            "http://boss.test/v1/cutout/col/exp/nope/0/0:512/0:512/0:1/: HTTP 404 Not Found (asked \
             for as application/blosc)"
        )
    );
}

#[test]
fn the_path_processor_names_the_source() {
    let paths = library()
        .path_processor(
            "InternPathProcessor",
            &params(json!({})),
            Arc::new(Boss::default()),
        )
        .unwrap();
    assert_eq!(paths.path(1, 2, 3, 0).unwrap(), "bossdb://col/exp/ch");
}
