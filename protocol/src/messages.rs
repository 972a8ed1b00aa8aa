//! Message bodies on the job's queues and in S3 object metadata (protocol §3.2, §3.3, §4).
//!
//! The service writes upload messages with Python's `json.dumps` (`", "` and `": "` separators)
//! and the client writes metadata with compact separators. Both sides parse with serde, so the
//! spacing only matters to a simulator that promises byte-identical bodies:
//! [`to_python_json`] produces exactly what `json.dumps` does.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io;

/// One tile to upload, from the upload queue of a tile job. The `*_arn` fields hold queue URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileUploadMessage {
    pub job_id: u64,
    pub upload_queue_arn: String,
    pub ingest_queue_arn: String,
    pub chunk_key: String,
    pub tile_key: String,
}

/// One cuboid of a volumetric chunk: voxel offsets inside the chunk and the object key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CuboidRef {
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub key: String,
}

/// One chunk to upload, from the upload queue of a volumetric job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumetricUploadMessage {
    pub chunk_key: String,
    pub cuboids: Vec<CuboidRef>,
}

/// The job parameters the client copies from the join response into every upload's metadata.
#[allow(non_snake_case)] // Field names are the wire's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadParameters {
    pub upload_queue: String,
    /// Null for volumetric jobs.
    pub ingest_queue: Option<String>,
    #[serde(default)]
    pub KVIO_SETTINGS: Value,
    #[serde(default)]
    pub STATEIO_CONFIG: Value,
    #[serde(default)]
    pub OBJECTIO_CONFIG: Value,
    #[serde(default)]
    pub resource: Value,
}

/// The `metadata` user-metadata value of a tile object, and the body of its tile-index message
/// (the same compact JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TileMetadata {
    pub chunk_key: String,
    pub tile_key: String,
    pub ingest_job: u64,
    pub parameters: UploadParameters,
    pub x_size: u64,
    pub y_size: u64,
}

/// The `metadata` user-metadata value of an uploaded cuboid of a volumetric job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CuboidMetadata {
    pub ingest_job: u64,
    pub chunk_key: String,
    pub parameters: UploadParameters,
}

/// Reported by the service on the tile-error queue when a tile of a chunk cannot be decoded
/// (it is stored black).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileErrorMessage {
    pub tile_key: String,
    pub chunk_key: String,
    pub error: String,
}

/// S3 user-metadata names of a tile upload. The service requires the first two.
pub const META_MESSAGE_ID: &str = "message_id";
pub const META_RECEIPT_HANDLE: &str = "receipt_handle";
pub const META_METADATA: &str = "metadata";

/// Compact JSON (`,` and `:` without spaces), as the client writes metadata.
pub fn to_compact_json<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs to a String cannot fail: no maps with non-string keys.
    serde_json::to_string(value).expect("message structs serialise")
}

/// JSON spaced like Python's `json.dumps` defaults: `", "` between items, `": "` after keys.
pub fn to_python_json<T: Serialize>(value: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    // As above: these structs always serialise.
    value
        .serialize(&mut ser)
        .expect("message structs serialise");
    // serde_json only writes valid UTF-8.
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_message_is_spaced_like_python() {
        let msg = TileUploadMessage {
            job_id: 3,
            upload_queue_arn: "http://q/up".into(),
            ingest_queue_arn: "http://q/in".into(),
            chunk_key: "c".into(),
            tile_key: "t".into(),
        };
        assert_eq!(
            to_python_json(&msg),
            r#"{"job_id": 3, "upload_queue_arn": "http://q/up", "ingest_queue_arn": "http://q/in", "chunk_key": "c", "tile_key": "t"}"#
        );
        let parsed: TileUploadMessage = serde_json::from_str(&to_python_json(&msg)).unwrap();
        assert_eq!(parsed, msg);
    }

    #[test]
    fn volumetric_message_shape() {
        let msg = VolumetricUploadMessage {
            chunk_key: "c".into(),
            cuboids: vec![
                CuboidRef {
                    x: 0,
                    y: 0,
                    z: 0,
                    key: "a".into(),
                },
                CuboidRef {
                    x: 512,
                    y: 0,
                    z: 0,
                    key: "b".into(),
                },
            ],
        };
        assert_eq!(
            to_python_json(&msg),
            r#"{"chunk_key": "c", "cuboids": [{"x": 0, "y": 0, "z": 0, "key": "a"}, {"x": 512, "y": 0, "z": 0, "key": "b"}]}"#
        );
    }

    #[test]
    fn tile_metadata_is_compact_and_reads_back() {
        let meta = TileMetadata {
            chunk_key: "c".into(),
            tile_key: "t".into(),
            ingest_job: 9,
            parameters: UploadParameters {
                upload_queue: "u".into(),
                ingest_queue: None,
                KVIO_SETTINGS: Value::Null,
                STATEIO_CONFIG: Value::Null,
                OBJECTIO_CONFIG: Value::Null,
                resource: serde_json::json!({"boss_key": "a&b&c"}),
            },
            x_size: 512,
            y_size: 512,
        };
        let text = to_compact_json(&meta);
        assert_eq!(
            text,
            r#"{"chunk_key":"c","tile_key":"t","ingest_job":9,"parameters":{"upload_queue":"u","ingest_queue":null,"KVIO_SETTINGS":null,"STATEIO_CONFIG":null,"OBJECTIO_CONFIG":null,"resource":{"boss_key":"a&b&c"}},"x_size":512,"y_size":512}"#
        );
        assert_eq!(serde_json::from_str::<TileMetadata>(&text).unwrap(), meta);
    }
}
