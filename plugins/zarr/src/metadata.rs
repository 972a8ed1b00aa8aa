//! A Zarr array's metadata (`.zarray` for Zarr v2, `zarr.json` for v3) reduced to what reading
//! it needs: shape, chunk grid, sample type, fill value, how chunk keys are spelled and how chunk
//! bytes are encoded.
//!
//! Parsing is by hand over `serde_json::Value` so that every refusal names the field and what
//! was found there: a user with an unusual array learns exactly which part we do not read.

use serde_json::Value;

use crate::codec::{ArrayToBytes, BytesCodec, Codecs, Endian, Sharding};
use crate::ZarrError;
use plugin_abi::Dtype;

/// How chunk keys are spelled: `c/1/2/3` (v3 default), `1.2.3` (v2) or `1/2/3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkKeys {
    /// `Some("c")` for the v3 default encoding, which starts every key with `c`.
    pub prefix: Option<&'static str>,
    pub separator: char,
}

impl ChunkKeys {
    /// The key of the chunk at grid position `index`.
    pub fn key(&self, index: &[u64]) -> String {
        let sep = self.separator.to_string();
        let parts: Vec<String> = self
            .prefix
            .map(str::to_string)
            .into_iter()
            .chain(index.iter().map(u64::to_string))
            .collect();
        if parts.is_empty() {
            // A zero-dimensional v2 array has one chunk, named "0".
            "0".to_string()
        } else {
            parts.join(&sep)
        }
    }
}

/// What a chunk processor needs to know about one Zarr array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrayMeta {
    /// 2 or 3.
    pub zarr_format: u8,
    pub shape: Vec<u64>,
    /// The shape of one stored object (for a sharded v3 array: one shard).
    pub chunk_shape: Vec<u64>,
    pub dtype: Dtype,
    /// The fill value as an unsigned integer of `dtype`.
    pub fill_value: u64,
    pub keys: ChunkKeys,
    pub codecs: Codecs,
}

/// Parses `.zarray` (Zarr v2).
pub fn parse_v2(text: &[u8]) -> Result<ArrayMeta, ZarrError> {
    let v: Value = serde_json::from_slice(text)
        .map_err(|e| ZarrError::Metadata(format!(".zarray is not valid JSON: {e}")))?;
    let shape = dims(&v, "shape")?;
    let chunk_shape = dims(&v, "chunks")?;
    check_rank(&shape, &chunk_shape)?;
    let dtype_text = v["dtype"]
        .as_str()
        .ok_or_else(|| meta("\"dtype\" must be a string like \"<u2\""))?;
    let (dtype, endian) = v2_dtype(dtype_text)?;
    let fill_value = fill(&v["fill_value"], dtype)?;
    let fortran = match v["order"].as_str() {
        None | Some("C") => false,
        Some("F") => true,
        Some(other) => {
            return Err(meta(format!(
                "\"order\" must be \"C\" or \"F\", got {other:?}"
            )))
        }
    };
    match &v["filters"] {
        Value::Null => {}
        Value::Array(a) if a.is_empty() => {}
        other => {
            return Err(ZarrError::Unsupported(format!(
                "filters {other} (only arrays without filters are read)"
            )))
        }
    }
    let bytes = match &v["compressor"] {
        Value::Null => Vec::new(),
        c => vec![v2_compressor(c)?],
    };
    let separator = match v["dimension_separator"].as_str() {
        None | Some(".") => '.',
        Some("/") => '/',
        Some(other) => {
            return Err(meta(format!(
                "\"dimension_separator\" must be \".\" or \"/\", got {other:?}"
            )))
        }
    };
    Ok(ArrayMeta {
        zarr_format: 2,
        shape,
        chunk_shape,
        dtype,
        fill_value,
        keys: ChunkKeys {
            prefix: None,
            separator,
        },
        codecs: Codecs {
            fortran_order: fortran,
            array: ArrayToBytes::Bytes(endian),
            bytes,
        },
    })
}

/// Parses `zarr.json` (Zarr v3). `Ok(None)` means it describes a group, not an array.
pub fn parse_v3(text: &[u8]) -> Result<Option<ArrayMeta>, ZarrError> {
    let v: Value = serde_json::from_slice(text)
        .map_err(|e| ZarrError::Metadata(format!("zarr.json is not valid JSON: {e}")))?;
    match v["node_type"].as_str() {
        Some("array") => {}
        Some("group") => return Ok(None),
        _ => return Err(meta("\"node_type\" must be \"array\" or \"group\"")),
    }
    let shape = dims(&v, "shape")?;
    if v["chunk_grid"]["name"].as_str() != Some("regular") {
        return Err(ZarrError::Unsupported(format!(
            "chunk grid {} (only \"regular\" grids are read)",
            v["chunk_grid"]["name"]
        )));
    }
    let chunk_shape = dims(&v["chunk_grid"]["configuration"], "chunk_shape")?;
    check_rank(&shape, &chunk_shape)?;
    let name = v["data_type"]
        .as_str()
        .ok_or_else(|| meta("\"data_type\" must be a string like \"uint16\""))?;
    let dtype = Dtype::from_name(name).ok_or_else(|| ZarrError::Dtype(name.to_string()))?;
    let fill_value = fill(&v["fill_value"], dtype)?;
    let encoding = &v["chunk_key_encoding"];
    let keys = match encoding["name"].as_str() {
        Some("default") => ChunkKeys {
            prefix: Some("c"),
            separator: separator(&encoding["configuration"]["separator"], '/')?,
        },
        Some("v2") => ChunkKeys {
            prefix: None,
            separator: separator(&encoding["configuration"]["separator"], '.')?,
        },
        _ => {
            return Err(ZarrError::Unsupported(format!(
                "chunk key encoding {} (only \"default\" and \"v2\" are read)",
                encoding["name"]
            )))
        }
    };
    let codecs = v3_codecs(&v["codecs"], dtype)?;
    Ok(Some(ArrayMeta {
        zarr_format: 3,
        shape,
        chunk_shape,
        dtype,
        fill_value,
        keys,
        codecs,
    }))
}

fn meta(message: impl Into<String>) -> ZarrError {
    ZarrError::Metadata(message.into())
}

fn dims(v: &Value, key: &str) -> Result<Vec<u64>, ZarrError> {
    let list = v[key]
        .as_array()
        .ok_or_else(|| meta(format!("\"{key}\" must be a list of integers")))?;
    list.iter()
        .map(|n| {
            n.as_u64()
                .ok_or_else(|| meta(format!("\"{key}\" must be a list of integers, got {n}")))
        })
        .collect()
}

fn check_rank(shape: &[u64], chunk_shape: &[u64]) -> Result<(), ZarrError> {
    if shape.len() != chunk_shape.len() {
        return Err(meta(format!(
            "shape {shape:?} and chunk shape {chunk_shape:?} have different numbers of dimensions"
        )));
    }
    if chunk_shape.contains(&0) {
        return Err(meta(format!(
            "chunk shape {chunk_shape:?} has a zero length"
        )));
    }
    Ok(())
}

/// A numpy type string (`<u2`, `|u1`, `>u8`) as our dtype and its byte order.
fn v2_dtype(text: &str) -> Result<(Dtype, Endian), ZarrError> {
    let endian = match text.chars().next() {
        Some('<') | Some('|') => Endian::Little,
        Some('>') => Endian::Big,
        _ => return Err(ZarrError::Dtype(text.to_string())),
    };
    let dtype = match &text[1..] {
        "u1" => Dtype::U8,
        "u2" => Dtype::U16,
        "u4" => Dtype::U32,
        "u8" => Dtype::U64,
        _ => return Err(ZarrError::Dtype(text.to_string())),
    };
    Ok((dtype, endian))
}

/// The fill value as an integer; `null` (v2: "no fill value") reads as 0.
fn fill(v: &Value, dtype: Dtype) -> Result<u64, ZarrError> {
    let n = match v {
        Value::Null => 0,
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| meta(format!("fill value {n} is not a {dtype}")))?,
        other => return Err(meta(format!("fill value {other} is not a {dtype}"))),
    };
    let max = match dtype.size() {
        8 => u64::MAX,
        size => (1u64 << (8 * size)) - 1,
    };
    if n > max {
        return Err(meta(format!("fill value {n} is not a {dtype}")));
    }
    Ok(n)
}

fn separator(v: &Value, default: char) -> Result<char, ZarrError> {
    match v.as_str() {
        None => Ok(default),
        Some(".") => Ok('.'),
        Some("/") => Ok('/'),
        Some(other) => Err(meta(format!(
            "chunk key separator must be \".\" or \"/\", got {other:?}"
        ))),
    }
}

/// A numcodecs compressor object (`{"id": "blosc", ...}`).
fn v2_compressor(c: &Value) -> Result<BytesCodec, ZarrError> {
    match c["id"].as_str() {
        Some("blosc") => Ok(BytesCodec::Blosc),
        Some("zlib") => Ok(BytesCodec::Zlib),
        Some("gzip") => Ok(BytesCodec::Gzip),
        Some("zstd") => Ok(BytesCodec::Zstd),
        _ => Err(ZarrError::Unsupported(format!(
            "compressor {} (blosc, zlib, gzip and zstd are read)",
            c["id"]
        ))),
    }
}

/// The v3 codec list: at most an identity transpose, one array-to-bytes codec (`bytes` or
/// `sharding_indexed`), then bytes-to-bytes codecs.
fn v3_codecs(list: &Value, dtype: Dtype) -> Result<Codecs, ZarrError> {
    let list = list
        .as_array()
        .ok_or_else(|| meta("\"codecs\" must be a list"))?;
    let mut array = None;
    let mut bytes = Vec::new();
    for codec in list {
        let name = codec["name"].as_str().unwrap_or_default();
        let config = &codec["configuration"];
        match (name, &array) {
            ("transpose", None) => {
                let order = dims(config, "order")?;
                if !order.iter().copied().eq(0..order.len() as u64) {
                    return Err(ZarrError::Unsupported(format!(
                        "transpose codec with order {order:?} (only the identity order is read)"
                    )));
                }
            }
            ("bytes", None) => {
                let endian = match config["endian"].as_str() {
                    None | Some("little") => Endian::Little,
                    Some("big") => Endian::Big,
                    Some(other) => {
                        return Err(meta(format!("bytes codec endian {other:?}")));
                    }
                };
                array = Some(ArrayToBytes::Bytes(endian));
            }
            ("sharding_indexed", None) => {
                array = Some(ArrayToBytes::Sharding(Box::new(sharding(config, dtype)?)));
            }
            ("blosc", Some(_)) => bytes.push(BytesCodec::Blosc),
            ("gzip", Some(_)) => bytes.push(BytesCodec::Gzip),
            ("zstd", Some(_)) => bytes.push(BytesCodec::Zstd),
            ("crc32c", Some(_)) => bytes.push(BytesCodec::Crc32c),
            _ => {
                return Err(ZarrError::Unsupported(format!(
                    "codec {:?} at this place in the codec list (read: bytes, sharding_indexed, \
                     blosc, gzip, zstd, crc32c)",
                    name
                )))
            }
        }
    }
    let array = array.ok_or_else(|| meta("the codec list has no \"bytes\" codec"))?;
    Ok(Codecs {
        fortran_order: false,
        array,
        bytes,
    })
}

fn sharding(config: &Value, dtype: Dtype) -> Result<Sharding, ZarrError> {
    let inner_shape = dims(config, "chunk_shape")?;
    if inner_shape.contains(&0) {
        return Err(meta(format!(
            "inner chunk shape {inner_shape:?} has a zero length"
        )));
    }
    let inner = v3_codecs(&config["codecs"], dtype)?;
    let index = v3_codecs(&config["index_codecs"], dtype)?;
    let index_checksum = match (&index.array, index.bytes.as_slice()) {
        (ArrayToBytes::Bytes(Endian::Little), []) => false,
        (ArrayToBytes::Bytes(Endian::Little), [BytesCodec::Crc32c]) => true,
        _ => {
            return Err(ZarrError::Unsupported(
                "shard index codecs other than little-endian bytes (+ crc32c)".to_string(),
            ))
        }
    };
    let index_at_start = match config["index_location"].as_str() {
        None | Some("end") => false,
        Some("start") => true,
        Some(other) => return Err(meta(format!("shard index_location {other:?}"))),
    };
    Ok(Sharding {
        inner_shape,
        inner,
        index_checksum,
        index_at_start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_metadata_with_blosc_and_slash_keys() {
        let m = parse_v2(
            br#"{"zarr_format": 2, "shape": [5, 40, 30], "chunks": [2, 16, 16], "dtype": "<u2",
                "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
                "fill_value": 7, "order": "C", "filters": null, "dimension_separator": "/"}"#,
        )
        .unwrap();
        assert_eq!(m.shape, vec![5, 40, 30]);
        assert_eq!(m.chunk_shape, vec![2, 16, 16]);
        assert_eq!(m.dtype, Dtype::U16);
        assert_eq!(m.fill_value, 7);
        assert_eq!(m.keys.key(&[1, 2, 0]), "1/2/0");
        assert_eq!(m.codecs.bytes, vec![BytesCodec::Blosc]);
    }

    #[test]
    fn v3_metadata_default_keys_and_sharding() {
        let m = parse_v3(
            br#"{"zarr_format": 3, "node_type": "array", "shape": [4, 8, 8],
                "data_type": "uint8",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 8, 8]}},
                "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
                "fill_value": 0,
                "codecs": [{"name": "sharding_indexed", "configuration": {
                    "chunk_shape": [2, 4, 4],
                    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                               {"name": "zstd", "configuration": {"level": 0}}],
                    "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                                     {"name": "crc32c"}],
                    "index_location": "end"}}]}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(m.keys.key(&[0, 1, 2]), "c/0/1/2");
        let ArrayToBytes::Sharding(s) = &m.codecs.array else {
            panic!("not sharded: {:?}", m.codecs)
        };
        assert_eq!(s.inner_shape, vec![2, 4, 4]);
        assert!(s.index_checksum);
        assert_eq!(s.inner.bytes, vec![BytesCodec::Zstd]);
    }

    #[test]
    fn refusals_name_what_is_not_read() {
        let err = parse_v2(
            br#"{"shape": [1, 1, 1], "chunks": [1, 1, 1], "dtype": "<f4", "compressor": null}"#,
        )
        .unwrap_err();
        assert_eq!(err, ZarrError::Dtype("<f4".into()));
        let err = parse_v2(
            br#"{"shape": [1, 1, 1], "chunks": [1, 1, 1], "dtype": "|u1",
                "compressor": {"id": "lzma"}}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the array uses compressor \"lzma\" (blosc, zlib, gzip and zstd are read)"
        );
        let group = br#"{"zarr_format": 3, "node_type": "group", "attributes": {}}"#;
        assert_eq!(parse_v3(group).unwrap(), None);
        let err = parse_v2(
            br#"{"shape": [1, 1, 1], "chunks": [1, 1, 1], "dtype": "|u1", "fill_value": 300,
                "compressor": null}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the array's metadata is not readable: fill value 300 is not a uint8"
        );
    }
}
