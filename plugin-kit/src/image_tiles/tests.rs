//! What an image-file tile is made of: pass-through, crop and pad, casts, black tiles, errors.

use super::*;
use crate::fixtures::{colortype, png, tiff};
use image::ExtendedColorType;
use plugin_abi::Dtype;
use serde_json::json;

fn tiles(extra: Value, tile: u32, extent: u64) -> ImageTiles {
    tiles_xy(extra, tile, (extent, extent))
}

fn tiles_xy(extra: Value, tile: u32, (ex, ey): (u64, u64)) -> ImageTiles {
    let mut params = json!({
        "filesystem": "local", "extension": "png",
        "ingest_job": {"tile_size": {"x": tile, "y": tile, "z": 1, "t": 1},
                       "extent": {"x": [0, ex], "y": [0, ey], "z": [0, 4], "t": [0, 1]}}
    });
    for (k, v) in extra.as_object().unwrap() {
        params[k] = v.clone();
    }
    ImageTiles::from_params(&params).unwrap()
}

fn local() -> HostServices {
    HostServices::local()
}

fn pattern(x: u32, y: u32) -> u8 {
    (x * 3 + y * 5) as u8
}

fn write_u8_png(dir: &std::path::Path, name: &str, w: u32, h: u32) -> String {
    let data: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| pattern(x, y)))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, png(w, h, ExtendedColorType::L8, &data)).unwrap();
    path.to_str().unwrap().to_string()
}

fn raw(outcome: TileOutput) -> Pixels {
    match outcome.image {
        TileImage::Raw {
            width,
            height,
            dtype,
            data,
        } => Pixels {
            width,
            height,
            dtype: match dtype {
                Dtype::U8 => Dtype::U8,
                Dtype::U16 => Dtype::U16,
                Dtype::U64 => Dtype::U64,
                Dtype::U32 => panic!("the stack plugin never makes uint32 tiles"),
            },
            data,
        },
        other => panic!("expected raw pixels, got {other:?}"),
    }
}

#[test]
fn exact_tile_passes_through_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_u8_png(dir.path(), "s.png", 16, 16);
    let out = tiles(json!({}), 16, 16)
        .tile(&local(), &path, 0, 0)
        .unwrap();
    assert_eq!(
        out.image,
        TileImage::Encoded {
            bytes: std::fs::read(&path).unwrap(),
            format: ImageFormat::Png
        }
    );
    assert!(out.notes.is_empty());
}

#[test]
fn reencode_decodes_even_an_exact_tile() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_u8_png(dir.path(), "s.png", 16, 16);
    let p = raw(tiles(json!({"reencode": true}), 16, 16)
        .tile(&local(), &path, 0, 0)
        .unwrap());
    let want: Vec<u8> = (0..16)
        .flat_map(|y| (0..16).map(move |x| pattern(x, y)))
        .collect();
    assert_eq!((p.width, p.height, p.dtype), (16, 16, Dtype::U8));
    assert_eq!(p.data, want);
}

#[test]
fn larger_image_is_cropped_and_edges_padded() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_u8_png(dir.path(), "s.png", 24, 20);
    let t = tiles_xy(json!({}), 16, (24, 20));
    for (x, y) in [(0u32, 0u32), (1, 0), (0, 1), (1, 1)] {
        let p = raw(t.tile(&local(), &path, x.into(), y.into()).unwrap());
        for ty in 0..16 {
            for tx in 0..16 {
                let (ix, iy) = (16 * x + tx, 16 * y + ty);
                let want = if ix < 24 && iy < 20 {
                    pattern(ix, iy)
                } else {
                    0
                };
                assert_eq!(
                    p.data[(ty * 16 + tx) as usize],
                    want,
                    "tile ({x},{y}) at ({tx},{ty})"
                );
            }
        }
    }
}

#[test]
fn u16_tiff_tile_keeps_its_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.tif");
    let data: Vec<u16> = (0..40u32)
        .flat_map(|y| (0..40u32).map(move |x| (x * 1000 + y) as u16))
        .collect();
    let out = tiff::<colortype::Gray16>(40, 40, &data);
    std::fs::write(&path, out).unwrap();
    let p = raw(tiles(json!({}), 32, 40)
        .tile(&local(), path.to_str().unwrap(), 1, 1)
        .unwrap());
    assert_eq!((p.width, p.height, p.dtype), (32, 32, Dtype::U16));
    let at = |tx: usize, ty: usize| {
        u16::from_le_bytes([p.data[2 * (ty * 32 + tx)], p.data[2 * (ty * 32 + tx) + 1]])
    };
    assert_eq!(at(0, 0), 32 * 1000 + 32);
    assert_eq!(at(7, 7), 39 * 1000 + 39);
    assert_eq!(at(8, 0), 0);
    assert_eq!(at(0, 8), 0);
}

#[test]
fn missing_file_with_and_without_fail_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gone.png");
    let path = path.to_str().unwrap();
    let out = tiles(
        json!({"fail_gracefully": true, "datatype": "uint16"}),
        16,
        16,
    )
    .tile(&local(), path, 0, 0)
    .unwrap();
    assert_eq!(
        out.notes,
        vec![Note::black_tile(format!(
            "black tile: {path} is missing (fail_gracefully)"
        ))]
    );
    assert_eq!(raw(out), Pixels::zeros(16, 16, Dtype::U16));

    let err = tiles(json!({}), 16, 16)
        .tile(&local(), path, 0, 0)
        .unwrap_err();
    assert_eq!(
        err,
        TileError::NotFound {
            location: path.to_string()
        }
    );
    assert_eq!(
        err.to_string(),
        format!("{path}: file not found; check root_dir and base_filename, or set \"fail_gracefully\": true to upload black tiles for missing slices")
    );
}

#[test]
fn corrupt_file_is_invalid_image_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.png");
    std::fs::write(&path, b"not an image at all").unwrap();
    let path = path.to_str().unwrap();
    let err = tiles(json!({}), 16, 16)
        .tile(&local(), path, 0, 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{path}: unreadable image: not a PNG, TIFF or JPEG image (starts with bytes 6e 6f 74 20 61 6e 20 69)")
    );
    // A valid header over truncated data fails when decoded.
    let good = std::fs::read(write_u8_png(dir.path(), "big.png", 64, 64)).unwrap();
    std::fs::write(dir.path().join("cut.png"), &good[..good.len() / 2]).unwrap();
    let cut = dir.path().join("cut.png");
    let err = tiles(json!({}), 32, 64)
        .tile(&local(), cut.to_str().unwrap(), 1, 1)
        .unwrap_err();
    assert!(matches!(err, TileError::InvalidImage { .. }), "{err:?}");
}

#[test]
fn rgb_and_int32_need_a_cast() {
    let dir = tempfile::tempdir().unwrap();
    let rgb = dir.path().join("rgb.png");
    std::fs::write(
        &rgb,
        png(16, 16, ExtendedColorType::Rgb8, &[200; 16 * 16 * 3]),
    )
    .unwrap();
    let rgb = rgb.to_str().unwrap();
    let err = tiles(json!({}), 16, 16)
        .tile(&local(), rgb, 0, 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{rgb}: pixel type RGB uint8 is not one the Boss stores (uint8, uint16, uint64 gray); convert the files, or set \"cast\" in the tile processor's params to one of clip_uint8, clip_uint16, scale_uint8, scale_uint16")
    );
    let out = tiles(json!({"cast": "clip_uint8"}), 16, 16)
        .tile(&local(), rgb, 0, 0)
        .unwrap();
    assert_eq!(
        out.notes,
        vec![Note::cast(format!(
            "cast: {rgb} is RGB uint8, converted with clip_uint8"
        ))]
    );
    assert_eq!(raw(out).data, vec![200; 256]);

    let i32_path = dir.path().join("i32.tif");
    let out = tiff::<colortype::GrayI32>(16, 16, &[70_000; 256]);
    std::fs::write(&i32_path, out).unwrap();
    let i32_path = i32_path.to_str().unwrap();
    let err = tiles(json!({}), 16, 16)
        .tile(&local(), i32_path, 0, 0)
        .unwrap_err();
    assert!(
        matches!(&err, TileError::Dtype { location, dtype } if location == i32_path && dtype == "int32")
    );
    let p = raw(tiles(json!({"cast": "clip_uint16"}), 16, 16)
        .tile(&local(), i32_path, 0, 0)
        .unwrap());
    assert_eq!(p.dtype, Dtype::U16);
    assert!(p.data.chunks(2).all(|s| s == [0xFF, 0xFF]));
}

#[test]
fn unconvertible_layouts_are_dtype_errors_without_a_cast_hint() {
    let err = decode_error(
        "/d/s.tif",
        DecodeError::Unsupported("1-bit TIFF samples (convert the files to 8 or 16 bits)".into()),
    );
    assert_eq!(
        err.to_string(),
        "/d/s.tif: cannot convert 1-bit TIFF samples (convert the files to 8 or 16 bits)"
    );
    assert_eq!(PluginError::from(err).kind, ErrorKind::Dtype);
}

#[test]
fn slice_smaller_than_the_extent_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_u8_png(dir.path(), "small.png", 30, 32);
    let err = tiles(json!({}), 16, 32)
        .tile(&local(), &path, 1, 0)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{path}: image is 30×32, but tile (x=1, y=0) needs at least 32×16")
    );
}

#[test]
fn s3_locations_and_params_errors() {
    let t = tiles(json!({"filesystem": "s3", "bucket": "lab-data"}), 16, 16);
    assert_eq!(t.location("/stack/001.png"), "s3://lab-data/stack/001.png");
    assert_eq!(t.location("stack/001.png"), "s3://lab-data/stack/001.png");
    let err = ImageTiles::from_params(&json!({"filesystem": "s3",
        "ingest_job": {"tile_size": {"x": 1, "y": 1}, "extent": {"x": [0, 1], "y": [0, 1]}}}))
    .unwrap_err();
    assert_eq!(
        err.0,
        "missing param \"bucket\" (the S3 bucket holding the source files)"
    );
    let err = ImageTiles::from_params(&json!({"cast": "float",
        "ingest_job": {"tile_size": {"x": 1, "y": 1}, "extent": {"x": [0, 1], "y": [0, 1]}}}))
    .unwrap_err();
    assert_eq!(
        err.0,
        "param \"cast\": unknown cast \"float\"; use one of clip_uint8, clip_uint16, scale_uint8, scale_uint16"
    );
}
