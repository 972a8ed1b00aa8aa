//! The plugin driven through its root module, as the host drives it, on HDF5 files written by
//! the test: exact pixels, the original's bugs fixed, and each error's text.

use std::path::Path;
use std::sync::Arc;

use plugin_abi::loader::Library;
use plugin_abi::{Dtype, ErrorKind, ImageFormat, LocalFiles, Note, TileImage, TileOutput};
use serde_json::{json, Value};

fn library() -> Library {
    Library::from_root_module(super::root_module())
}

fn job(tile: u32, (w, h): (u32, u32)) -> Value {
    json!({"tile_size": {"x": tile, "y": tile, "z": 1, "t": 1},
           "extent": {"x": [0, w], "y": [0, h], "z": [0, 8], "t": [0, 2]}})
}

fn tiles(class: &str, mut params: Value, job: Value) -> plugin_abi::loader::TileProcessor {
    params["ingest_job"] = job;
    library()
        .tile_processor(class, &params.to_string(), Arc::new(LocalFiles))
        .unwrap()
}

fn raw(out: &TileOutput) -> (u32, u32, Dtype, &[u8]) {
    match &out.image {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => (*width, *height, *dtype, data),
        other => panic!("expected raw pixels, got {other:?}"),
    }
}

/// A (z, y, x) uint16 volume with value `z*1000 + y*10 + x`.
fn write_zyx(path: &Path, (z, y, x): (usize, usize, usize)) {
    let file = hdf5::File::create(path).unwrap();
    let data: Vec<u16> = (0..z * y * x)
        .map(|i| ((i / (y * x)) * 1000 + (i / x % y) * 10 + i % x) as u16)
        .collect();
    file.new_dataset::<u16>()
        .shape([z, y, x])
        .create("data")
        .unwrap()
        .write_raw(&data)
        .unwrap();
}

fn u16s(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect()
}

#[test]
fn every_class_answers_to_its_python_name() {
    let lib = library();
    assert_eq!(lib.name(), "hdf5");
    let classes: Vec<_> = lib.classes().iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        classes,
        [
            "Hdf5TimeSeriesPathProcessor",
            "Hdf5TimeSeriesTileProcessor",
            "Hdf5TimeSeriesLabelTileProcessor",
            "Hdf5SlicePathProcessor",
            "Hdf5SliceTileProcessor",
            "Hdf5ChunkPathProcessor",
            "Hdf5ChunkTileProcessor",
            "Hdf5SingleFilePathProcessor",
            "Hdf5SingleFileTileProcessor"
        ]
    );
    for c in lib.classes() {
        assert_eq!(
            c.legacy_names,
            vec![format!("ingestclient.plugins.hdf5.{}", c.name)]
        );
    }
}

#[test]
fn chunk_tiles_are_slice_z_mod_size_and_a_missing_chunk_is_a_reported_black_tile() {
    let dir = tempfile::tempdir().unwrap();
    // Chunks of 8×6 (x × y) × 4 z; the tile is 8×8, so the chunk is padded at the bottom.
    write_zyx(&dir.path().join("c_0-8_0-8_0-4.h5"), (4, 6, 8));
    let mut path_params = json!({"root_dir": dir.path(), "prefix": "c", "extension": "h5",
        "x_chunk_size": 8, "y_chunk_size": 8, "z_chunk_size": 4});
    path_params["ingest_job"] = job(8, (16, 8));
    let paths = library()
        .path_processor(
            "Hdf5ChunkPathProcessor",
            &path_params.to_string(),
            Arc::new(LocalFiles),
        )
        .unwrap();
    let tiles = tiles(
        "Hdf5ChunkTileProcessor",
        json!({"data_name": "data", "z_chunk_size": 4, "datatype": "uint16"}),
        job(8, (16, 8)),
    );
    let path = paths.path(0, 0, 6, 0).unwrap();
    assert_eq!(path, format!("{}/c_0-8_0-8_4-8.h5", dir.path().display()));
    // z=2 is in the first chunk.
    let present = paths.path(0, 0, 2, 0).unwrap();
    let out = tiles.tile(&present, 0, 0, 2, 0).unwrap();
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    let (w, h, dtype, data) = raw(&out);
    assert_eq!((w, h, dtype), (8, 8, Dtype::U16));
    let want: Vec<u16> = (0..8)
        .flat_map(|y| (0..8).map(move |x| if y < 6 { 2000 + y * 10 + x } else { 0 }))
        .collect();
    assert_eq!(u16s(data), want);
    // The chunk of z 4..8 is missing: a black tile of the tile size, and a note.
    let out = tiles.tile(&path, 0, 0, 6, 0).unwrap();
    assert_eq!(
        out.notes,
        vec![Note::black_tile(format!(
            "black tile: chunk file {path} is missing (tile x=0, y=0, z=6)"
        ))]
    );
    let (w, h, dtype, data) = raw(&out);
    assert_eq!((w, h, dtype), (8, 8, Dtype::U16));
    assert!(data.iter().all(|b| *b == 0));
    // A dataset name that is not in the file names the file and what it has.
    let wrong = self::tiles(
        "Hdf5ChunkTileProcessor",
        json!({"data_name": "volume", "z_chunk_size": 4}),
        job(8, (16, 8)),
    );
    let err = wrong.tile(&present, 0, 0, 2, 0).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidImage);
    assert_eq!(
        err.message,
        format!("{present}: no dataset \"volume\" in the file; it has: data")
    );
}

#[test]
fn uint16_data_under_uint8_is_reported_as_a_cast() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.h5");
    write_zyx(&file, (1, 2, 2));
    let file = file.to_str().unwrap();
    let tiles = tiles(
        "Hdf5SingleFileTileProcessor",
        json!({"data_name": "data", "datatype": "uint8"}),
        job(2, (2, 2)),
    );
    let out = tiles.tile(file, 0, 0, 0, 0).unwrap();
    assert_eq!(raw(&out).3, &[0, 1, 10, 11]);
    assert_eq!(
        out.notes,
        vec![Note::cast(format!(
            "cast: {file} \"data\" is uint16, uploaded as uint8"
        ))]
    );
    let err = library()
        .tile_processor(
            "Hdf5ChunkTileProcessor",
            &json!({"data_name": "d", "z_chunk_size": 1, "datatype": "uint32",
                    "ingest_job": job(2, (2, 2))})
            .to_string(),
            Arc::new(LocalFiles),
        )
        .err()
        .unwrap();
    assert_eq!(err.kind, ErrorKind::Params);
    assert!(
        err.message.contains("use uint64 for annotation channels"),
        "{}",
        err.message
    );
}

#[test]
fn single_file_tiles_apply_offsets_and_pad_with_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vol.h5");
    write_zyx(&file, (3, 5, 6));
    let file = file.to_str().unwrap();
    let tiles = tiles(
        "ingestclient.plugins.hdf5.Hdf5SingleFileTileProcessor"
            .rsplit('.')
            .next()
            .unwrap(),
        json!({"data_name": "data", "datatype": "uint16", "offset_x": -2, "offset_y": 1,
               "offset_z": 1, "upload_format": "png"}),
        job(4, (8, 8)),
    );
    // Tile (0, 0, z=0): x window -2..2, y window 1..5 of slice 1.
    let out = tiles.tile(file, 0, 0, 0, 0).unwrap();
    let want: Vec<u16> = (0..4)
        .flat_map(|ty| {
            (0..4).map(move |tx| {
                let (x, y) = (tx as i64 - 2, ty + 1);
                if x >= 0 {
                    (1000 + y * 10 + x) as u16
                } else {
                    0
                }
            })
        })
        .collect();
    assert_eq!(u16s(raw(&out).3), want);
    // z=2 → slice 3, past the dataset: black and reported.
    let out = tiles.tile(file, 0, 0, 2, 0).unwrap();
    assert_eq!(out.notes.len(), 1);
    assert!(
        out.notes[0]
            .message
            .starts_with("black tile: tile (x=0, y=0, z=2)"),
        "{:?}",
        out.notes
    );
}

#[test]
fn slice_tiles_use_offset_origin_y_for_y() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.h5");
    {
        let file = hdf5::File::create(&path).unwrap();
        let data: Vec<u8> = (0..4 * 3).map(|i| i as u8 + 1).collect();
        file.new_dataset::<u8>()
            .shape([3, 4])
            .create("img")
            .unwrap()
            .write_raw(&data)
            .unwrap();
        for (name, v) in [("off", [1i64, 2]), ("ext", [3, 4])] {
            file.new_dataset::<i64>()
                .shape([2])
                .create(name)
                .unwrap()
                .write_raw(&v)
                .unwrap();
        }
    }
    let tiles = tiles(
        "Hdf5SliceTileProcessor",
        json!({"data_name": "img", "offset_name": "off", "extent_name": "ext",
               "offset_origin_x": 0, "offset_origin_y": 2, "datatype": "uint8",
               "upload_format": "tiff"}),
        job(8, (8, 8)),
    );
    let out = tiles.tile(path.to_str().unwrap(), 0, 0, 0, 0).unwrap();
    let TileImage::Encoded { format, bytes } = &out.image else {
        panic!("upload_format tiff encodes the tile: {:?}", out.image)
    };
    assert_eq!(*format, ImageFormat::Tiff);
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)).unwrap();
    let tiff::decoder::DecodingResult::U8(pixels) = decoder.read_image().unwrap() else {
        panic!("an 8-bit tile")
    };
    // The slice starts at x = 2 + 0, y = 1 + 2 (the original put it at y = 1 + 0).
    let mut want = vec![0u8; 64];
    for y in 0..3 {
        for x in 0..4 {
            want[(y + 3) * 8 + x + 2] = (y * 4 + x) as u8 + 1;
        }
    }
    assert_eq!(pixels, want);
}

#[test]
fn time_series_tiles_are_t_channel_transposed_and_scaled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ts.h5");
    {
        // (t, x, y, channel) = (2, 3, 2, 2), float32, value t*100 + x*10 + y + channel/2.
        let file = hdf5::File::create(&path).unwrap();
        let mut data = Vec::new();
        for t in 0..2 {
            for x in 0..3 {
                for y in 0..2 {
                    for c in 0..2 {
                        data.push((t * 100 + x * 10 + y) as f32 + c as f32 / 2.0);
                    }
                }
            }
        }
        file.new_dataset::<f32>()
            .shape([2, 3, 2, 2])
            .create("ts")
            .unwrap()
            .write_raw(&data)
            .unwrap();
        let labels: Vec<u32> = (0..6).map(|i| 70_000 + i).collect();
        file.new_dataset::<u32>()
            .shape([3, 2])
            .create("roi")
            .unwrap()
            .write_raw(&labels)
            .unwrap();
    }
    let path = path.to_str().unwrap();
    let series = tiles(
        "Hdf5TimeSeriesTileProcessor",
        json!({"dataset": "ts", "channel_index": 1, "scale_factor": 2.0}),
        job(4, (3, 2)),
    );
    let out = series.tile(path, 0, 0, 0, 1).unwrap();
    // Rows are y, columns x; values (100 + 10x + y + 0.5) × 2.
    let want: Vec<u16> = (0..4)
        .flat_map(|y| {
            (0..4).map(move |x| {
                if x < 3 && y < 2 {
                    (2 * (100 + 10 * x + y) + 1) as u16
                } else {
                    0
                }
            })
        })
        .collect();
    assert_eq!(u16s(raw(&out).3), want);
    assert_eq!(
        out.notes,
        vec![Note::cast(format!(
            "cast: {path} \"ts\" is float32, uploaded as uint16"
        ))]
    );
    let labels = tiles(
        "Hdf5TimeSeriesLabelTileProcessor",
        json!({"dataset": "roi"}),
        job(4, (3, 2)),
    );
    let out = labels.tile(path, 0, 0, 0, 0).unwrap();
    let (_, _, dtype, data) = raw(&out);
    assert_eq!(dtype, Dtype::U64);
    let got: Vec<u64> = data
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(&got[..4], &[70_000, 70_002, 70_004, 0]);
    assert_eq!(&got[4..8], &[70_001, 70_003, 70_005, 0]);
    assert!(out.notes.is_empty());
}
