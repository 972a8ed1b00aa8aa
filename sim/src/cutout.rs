//! The cutout view's renderers (boss `bossspatialdb/views.py` `Cutout.renderer_classes`,
//! `bossspatialdb/renderers.py`) and DRF's choice among them by `Accept`
//! (`DefaultContentNegotiation.select_renderer`, DRF 3.11).
//!
//! There is no raw `application/octet-stream` renderer. For an `Accept` no renderer matches,
//! DRF raises NotAcceptable and then renders that error with the view's first renderer, the
//! blosc one, which cannot encode it: the real view most likely answers a bare 500. The
//! simulator answers the 406 `{"detail": "Could not satisfy the request Accept header."}` DRF
//! means to send instead — kinder than production, and still a refusal a client cannot miss.
//! Everything here is plain bytes in, bytes out; `rest` turns it into a response.

use boss_protocol::cuboid::{self, Dtype};
use std::io::Write;

/// The view's renderers, in its order (the first is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    /// `blosc.compress(zyx, typesize=bit depth)`.
    Blosc,
    /// `blosc.pack_array(zyx)`: a pickled numpy array, blosc-compressed with typesize = itemsize.
    BloscPython,
    /// `zlib.compress(numpy.save(zyx))` (zlib, not gzip, despite the name).
    Npygz,
    /// One JPEG of the slices stacked vertically, uint8 channels only.
    Jpeg,
    /// DRF's JSON renderer: cannot encode the cube.
    Json,
    /// DRF's browsable API: cannot either.
    Html,
}

const RENDERERS: [Renderer; 6] = [
    Renderer::Blosc,
    Renderer::BloscPython,
    Renderer::Npygz,
    Renderer::Jpeg,
    Renderer::Json,
    Renderer::Html,
];

impl Renderer {
    pub fn media_type(self) -> &'static str {
        match self {
            Renderer::Blosc => "application/blosc",
            Renderer::BloscPython => "application/blosc-python",
            Renderer::Npygz => "application/npygz",
            Renderer::Jpeg => "image/jpeg",
            Renderer::Json => "application/json",
            Renderer::Html => "text/html",
        }
    }
}

/// DRF's body for an `Accept` no renderer satisfies (406).
pub const NOT_ACCEPTABLE: &str = "Could not satisfy the request Accept header.";

/// One media range of an `Accept` header as DRF's `_MediaType` reads it (q is ignored).
struct MediaType {
    main: String,
    sub: String,
    /// Parameters other than `q`.
    params: Vec<(String, String)>,
}

impl MediaType {
    fn parse(text: &str) -> MediaType {
        let mut parts = text.split(';');
        let full = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let (main, sub) = full.split_once('/').unwrap_or((full.as_str(), ""));
        let all: Vec<(String, String)> = parts
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((k.trim().to_ascii_lowercase(), v.trim().to_string()))
            })
            .collect();
        MediaType {
            main: main.to_string(),
            sub: sub.to_string(),
            params: all.into_iter().filter(|(k, _)| k != "q").collect(),
        }
    }

    /// 0 for `*/*`, 1 for `type/*`, 2 for a full type, 3 for a full type with parameters.
    fn precedence(&self) -> usize {
        if self.main == "*" {
            0
        } else if self.sub == "*" {
            1
        } else if self.params.is_empty() {
            2
        } else {
            3
        }
    }

    /// `_MediaType(renderer.media_type).match(accepted)`: renderers have no parameters.
    fn satisfied_by(&self, renderer: Renderer) -> bool {
        let (main, sub) = renderer
            .media_type()
            .split_once('/')
            .unwrap_or((renderer.media_type(), ""));
        (sub == "*" || self.sub == "*" || self.sub == sub)
            && (main == "*" || self.main == "*" || self.main == main)
    }
}

/// The renderer DRF picks for an `Accept` header (absent = `*/*`), or `None` for 406: the
/// most specific media ranges first, and among those the view's first renderer that matches.
pub fn negotiate(accept: Option<&str>) -> Option<Renderer> {
    let accepted: Vec<MediaType> = accept
        .unwrap_or("*/*")
        .split(',')
        .map(|t| MediaType::parse(t.trim()))
        .collect();
    (0..=3).rev().find_map(|precedence| {
        let set: Vec<&MediaType> = accepted
            .iter()
            .filter(|m| m.precedence() == precedence)
            .collect();
        RENDERERS
            .into_iter()
            .find(|r| set.iter().any(|m| m.satisfied_by(*r)))
    })
}

/// Why a chosen renderer produced no cube.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The JPEG renderer's own 400 (`{"status": 400, "message": ..., "code": 2001}`).
    #[error("The cutout service JPEG interface only supports uint8 image data")]
    JpegNeedsUint8,
    /// The renderer raised (JSON and HTML cannot encode a cube; JPEG too tall): Django's 500.
    #[error("{0}")]
    Failed(String),
}

/// Renders the voxels of a cutout (`zyx`: C order, shape `(z, y, x)`, little-endian `dtype`).
pub fn render(
    renderer: Renderer,
    zyx: &[u8],
    dtype: Dtype,
    shape: (u64, u64, u64),
) -> Result<Vec<u8>, RenderError> {
    match renderer {
        // spdb's bit depth: 8/16/64, bits used as blosc's typesize.
        Renderer::Blosc => Ok(cuboid::compress(zyx, dtype)),
        Renderer::BloscPython => Ok(cuboid::compress_with_typesize(
            &pickle_array(zyx, dtype, shape),
            dtype.size(),
        )),
        Renderer::Npygz => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&npy(zyx, dtype, shape))
                .and_then(|()| z.finish())
                .map_err(|e| RenderError::Failed(e.to_string()))
        }
        Renderer::Jpeg => {
            if dtype != Dtype::U8 {
                return Err(RenderError::JpegNeedsUint8);
            }
            let (z, y, x) = shape;
            let height = u32::try_from(z * y).map_err(|e| RenderError::Failed(e.to_string()))?;
            let width = u32::try_from(x).map_err(|e| RenderError::Failed(e.to_string()))?;
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
                .encode(zyx, width, height, image::ExtendedColorType::L8)
                .map_err(|e| RenderError::Failed(e.to_string()))?;
            Ok(out)
        }
        Renderer::Json | Renderer::Html => Err(RenderError::Failed(
            "Object of type Cube is not JSON serializable".into(),
        )),
    }
}

/// numpy's `descr` of a little-endian unsigned type.
fn descr(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::U8 => "|u1",
        Dtype::U16 => "<u2",
        Dtype::U32 => "<u4",
        Dtype::U64 => "<u8",
    }
}

/// `numpy.save(f, array, allow_pickle=False)`: a version 1.0 `.npy` file.
fn npy(zyx: &[u8], dtype: Dtype, (z, y, x): (u64, u64, u64)) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': ({z}, {y}, {x}), }}",
        descr(dtype)
    );
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + zyx.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(zyx);
    out
}

/// A pickle (protocol 3) of the numpy array, as `pickle.loads` rebuilds it:
/// `_reconstruct(ndarray, (0,), b'b')` then `__setstate__((1, shape, dtype, False, data))`.
fn pickle_array(zyx: &[u8], dtype: Dtype, (z, y, x): (u64, u64, u64)) -> Vec<u8> {
    fn int(out: &mut Vec<u8>, v: i64) {
        out.push(b'J'); // BININT: 4-byte signed
        out.extend_from_slice(&(v as i32).to_le_bytes());
    }
    fn text(out: &mut Vec<u8>, s: &str) {
        out.push(b'X'); // BINUNICODE
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let descr = descr(dtype);
    let (order, kind) = descr.split_at(1);
    let mut out = Vec::with_capacity(zyx.len() + 160);
    out.extend_from_slice(b"\x80\x03");
    out.extend_from_slice(b"cnumpy.core.multiarray\n_reconstruct\n");
    out.extend_from_slice(b"cnumpy\nndarray\n");
    out.extend_from_slice(b"K\x00\x85C\x01b\x87R");
    out.push(b'('); // MARK: the array's state tuple
    out.extend_from_slice(b"K\x01");
    for v in [z, y, x] {
        int(&mut out, v as i64);
    }
    out.push(0x87); // TUPLE3: the shape
    out.extend_from_slice(b"cnumpy\ndtype\n");
    text(&mut out, kind);
    out.extend_from_slice(b"\x89\x88\x87R"); // dtype(kind, False, True)
    out.push(b'(');
    out.extend_from_slice(b"K\x03");
    text(&mut out, order);
    out.extend_from_slice(b"NNN");
    int(&mut out, -1);
    int(&mut out, -1);
    out.extend_from_slice(b"K\x00tb"); // dtype.__setstate__((3, order, None, None, None, -1, -1, 0))
    out.push(0x89); // not Fortran order
    out.push(b'B'); // BINBYTES: the data
    out.extend_from_slice(&(zyx.len() as u32).to_le_bytes());
    out.extend_from_slice(zyx);
    out.extend_from_slice(b"tb.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_as_drf_does() {
        assert_eq!(negotiate(None), Some(Renderer::Blosc));
        assert_eq!(negotiate(Some("*/*")), Some(Renderer::Blosc));
        assert_eq!(negotiate(Some("application/blosc")), Some(Renderer::Blosc));
        assert_eq!(
            negotiate(Some("application/npygz, */*;q=0.1")),
            Some(Renderer::Npygz)
        );
        assert_eq!(negotiate(Some("image/*")), Some(Renderer::Jpeg));
        // Same precedence: the view's order decides, not the header's.
        assert_eq!(
            negotiate(Some("image/jpeg, application/blosc-python")),
            Some(Renderer::BloscPython)
        );
        assert_eq!(negotiate(Some("application/octet-stream")), None);
        assert_eq!(negotiate(Some("")), None);
        assert_eq!(
            negotiate(Some("application/octet-stream, text/html")),
            Some(Renderer::Html)
        );
    }

    #[test]
    fn npy_headers_are_aligned() {
        let file = npy(&[1, 2], Dtype::U8, (1, 1, 2));
        assert_eq!(&file[..8], b"\x93NUMPY\x01\x00");
        let len = u16::from_le_bytes([file[8], file[9]]) as usize;
        assert_eq!((10 + len) % 64, 0);
        let header = std::str::from_utf8(&file[10..10 + len]).unwrap();
        assert!(
            header.starts_with("{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2), }")
        );
        assert!(header.ends_with('\n'));
        assert_eq!(&file[10 + len..], &[1, 2]);
    }

    #[test]
    fn jpeg_is_for_uint8_only() {
        assert_eq!(
            render(Renderer::Jpeg, &[0; 8], Dtype::U16, (1, 2, 2)),
            Err(RenderError::JpegNeedsUint8)
        );
        let jpeg = render(Renderer::Jpeg, &[7; 32], Dtype::U8, (2, 4, 4)).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((back.width(), back.height()), (4, 8));
    }
}
