//! The job an upload run serves, and the facts every uploaded tile or cuboid carries: for a tile
//! (spec §4.1) the S3 user metadata the service's tile-ingest lambda needs and the identical
//! JSON sent to the tile-index queue; for a cuboid of a volumetric job (spec §4.3) the job id,
//! chunk key and parameters. S3 limits user metadata to 2 KiB; going over it fails every upload
//! the same way, so the engine checks the size itself and stops with a clear error instead of
//! retrying a hopeless upload.

use crate::backend::Join;
use boss_protocol::messages::{to_compact_json, CuboidMetadata, TileMetadata, UploadParameters};

/// S3's limit on user metadata: keys plus values, in bytes.
pub const S3_METADATA_LIMIT: usize = 2048;

/// What every upload of a job carries: its id, its upload queue and the parameters block the
/// service reads back from each tile and cuboid.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: u64,
    pub upload_queue: String,
    pub parameters: UploadParameters,
}

/// A join answer that cannot drive an upload.
#[derive(Debug, thiserror::Error)]
#[error("the join answer for job {job} has no {missing}; is this a {kind} job in UPLOADING state?")]
pub struct IncompleteJoin {
    pub job: u64,
    pub missing: &'static str,
    /// "tile" or "volumetric".
    pub kind: &'static str,
}

impl Job {
    /// The job's upload queue and parameters from a join answer; `kind` ("tile" or
    /// "volumetric") only words the error.
    pub fn from_join(join: &Join, kind: &'static str) -> Result<Job, IncompleteJoin> {
        let raw = |name: &str| join.raw.get(name).cloned().unwrap_or_default();
        let info = &join.response.ingest_job;
        let upload_queue = info.upload_queue.clone().ok_or(IncompleteJoin {
            job: info.id,
            missing: "upload queue",
            kind,
        })?;
        Ok(Job {
            id: info.id,
            parameters: UploadParameters {
                upload_queue: upload_queue.clone(),
                ingest_queue: info.ingest_queue.clone(),
                KVIO_SETTINGS: raw("KVIO_SETTINGS"),
                STATEIO_CONFIG: raw("STATEIO_CONFIG"),
                OBJECTIO_CONFIG: raw("OBJECTIO_CONFIG"),
                resource: raw("resource"),
            },
            upload_queue,
        })
    }

    /// A field of the join a kind of job needs, or which one is missing.
    pub fn need(
        join: &Join,
        value: &Option<String>,
        missing: &'static str,
        kind: &'static str,
    ) -> Result<String, IncompleteJoin> {
        value.clone().ok_or(IncompleteJoin {
            job: join.response.ingest_job.id,
            missing,
            kind,
        })
    }

    /// The compact JSON for one tile of `tile_size`: the `metadata` header value and the
    /// tile-index message (spec §4.1).
    pub fn tile_metadata(&self, chunk_key: &str, tile_key: &str, tile_size: (u64, u64)) -> String {
        to_compact_json(&TileMetadata {
            chunk_key: chunk_key.to_string(),
            tile_key: tile_key.to_string(),
            ingest_job: self.id,
            parameters: self.parameters.clone(),
            x_size: tile_size.0,
            y_size: tile_size.1,
        })
    }

    /// The compact JSON `metadata` value of every cuboid of one chunk (spec §4.3).
    pub fn cuboid_metadata(&self, chunk_key: &str) -> String {
        to_compact_json(&CuboidMetadata {
            ingest_job: self.id,
            chunk_key: chunk_key.to_string(),
            parameters: self.parameters.clone(),
        })
    }
}

/// The user metadata of one tile object, checked against S3's limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMetadata {
    pub message_id: String,
    pub receipt_handle: String,
    pub metadata: String,
}

/// The metadata would exceed S3's limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the S3 user metadata of {what} {tile_key} would be {size} bytes, over S3's limit of \
     {S3_METADATA_LIMIT} (the job's parameters from the Boss are too large); no {what} of this \
     job can be uploaded, report this to the Boss administrators"
)]
pub struct MetadataTooLarge {
    /// "tile" or "cuboid".
    pub what: &'static str,
    /// The tile key or cuboid key.
    pub tile_key: String,
    pub size: usize,
}

impl ObjectMetadata {
    /// Builds the three entries and checks their size as S3 counts it (keys plus values).
    pub fn new(
        message_id: &str,
        receipt_handle: &str,
        metadata: String,
        tile_key: &str,
    ) -> Result<ObjectMetadata, MetadataTooLarge> {
        use boss_protocol::messages::{META_MESSAGE_ID, META_METADATA, META_RECEIPT_HANDLE};
        let size = META_MESSAGE_ID.len()
            + message_id.len()
            + META_RECEIPT_HANDLE.len()
            + receipt_handle.len()
            + META_METADATA.len()
            + metadata.len();
        if size > S3_METADATA_LIMIT {
            return Err(MetadataTooLarge {
                what: "tile",
                tile_key: tile_key.to_string(),
                size,
            });
        }
        Ok(ObjectMetadata {
            message_id: message_id.to_string(),
            receipt_handle: receipt_handle.to_string(),
            metadata,
        })
    }

    /// A cuboid's metadata: the `metadata` entry only, as the Python client sends (spec §4.3);
    /// checked against the same limit.
    pub fn cuboid(metadata: String, cuboid_key: &str) -> Result<String, MetadataTooLarge> {
        use boss_protocol::messages::META_METADATA;
        let size = META_METADATA.len() + metadata.len();
        if size > S3_METADATA_LIMIT {
            return Err(MetadataTooLarge {
                what: "cuboid",
                tile_key: cuboid_key.to_string(),
                size,
            });
        }
        Ok(metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{fixtures, Joined};
    use serde_json::json;

    fn join() -> Join {
        let raw = json!({
            "ingest_job": {"id": 42, "collection": "c", "experiment": "e", "channel": "h",
                "status": 1, "ingest_queue": "http://q/ingest", "upload_queue": "http://q/upload",
                "tile_count": 4, "ingest_type": 0, "tile_index_queue": "http://q/index"},
            "credentials": {"access_key": "a", "secret_key": "s", "security_token": null},
            "tile_bucket_name": "tiles.test", "ingest_bucket_name": "ingest.test",
            "KVIO_SETTINGS": {"k": 1}, "STATEIO_CONFIG": {"s": 2}, "OBJECTIO_CONFIG": {"o": 3},
            "resource": {"boss_key": "c&e&h", "lookup_key": "7&12&33",
                "channel": {"type": "image", "datatype": "uint8", "base_resolution": 0,
                            "description": "kept although not modelled"}},
            "ingest_lambda": "deprecated"
        });
        Join {
            response: serde_json::from_value(raw.clone()).expect("join body parses"),
            raw,
        }
    }

    #[test]
    fn metadata_is_the_spec_json() {
        let job = Job::from_join(&join(), "tile").unwrap();
        assert_eq!(job.upload_queue, "http://q/upload");
        let text = job.tile_metadata("CK", "TK", (512, 256));
        assert!(
            !text.contains(": ") && !text.contains(", "),
            "not compact: {text}"
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            value,
            json!({
                "chunk_key": "CK", "tile_key": "TK", "ingest_job": 42,
                "parameters": {
                    "upload_queue": "http://q/upload", "ingest_queue": "http://q/ingest",
                    "KVIO_SETTINGS": {"k": 1}, "STATEIO_CONFIG": {"s": 2},
                    "OBJECTIO_CONFIG": {"o": 3},
                    "resource": {"boss_key": "c&e&h", "lookup_key": "7&12&33",
                        "channel": {"type": "image", "datatype": "uint8",
                                    "base_resolution": 0,
                                    "description": "kept although not modelled"}}
                },
                "x_size": 512, "y_size": 256
            })
        );
    }

    #[test]
    fn metadata_size_counts_keys_and_values() {
        // 10 + 2 + 14 + 2 + 8 = 36 bytes of keys and short values, leaving 2012 for metadata.
        let fits = ObjectMetadata::new("id", "rh", "m".repeat(2012), "TK");
        assert!(fits.is_ok());
        let err = ObjectMetadata::new("id", "rh", "m".repeat(2013), "TK").unwrap_err();
        assert_eq!(err.size, 2049);
        assert!(err.to_string().starts_with(
            "the S3 user metadata of tile TK would be 2049 bytes, over S3's limit of 2048"
        ));
    }

    #[test]
    fn a_production_join_leaves_room_in_the_metadata_of_its_tiles() {
        // The real service's parameters (backend::fixtures), the longest keys of a job, an SQS
        // message id and a receipt handle of production length.
        let Ok(Joined::Ready(join)) = crate::backend::interpret_join(
            "joining job 42",
            42,
            fixtures::JOIN_UPLOADING_TILE.as_bytes(),
        ) else {
            panic!("the real join answer joins");
        };
        let job = Job::from_join(&join, "tile").unwrap();
        let chunk_key =
            "ff44ac58348713dd533e3d892c0b258b&16&99999&99999&99999&0&99999&99999&99999&0";
        let tile_key = "03ca58a12ec662954ac12e06517d4269&99999&99999&99999&0&99999&99999&999999&0";
        let body = job.tile_metadata(chunk_key, tile_key, (1024, 1024));
        let receipt_handle = "A".repeat(360);
        let meta = ObjectMetadata::new(
            "5fea7756-0ea4-451a-a703-a558b933e274",
            &receipt_handle,
            body.clone(),
            tile_key,
        )
        .expect("a production tile's metadata fits S3's 2 KiB");
        let size = 10 + 36 + 14 + receipt_handle.len() + 8 + meta.metadata.len();
        assert!(size <= S3_METADATA_LIMIT, "{size} bytes");
        assert_eq!(meta.metadata, body);
    }

    #[test]
    fn cuboid_metadata_is_the_spec_json() {
        let mut j = join();
        j.response.ingest_job.tile_index_queue = None;
        j.response.ingest_job.ingest_queue = None;
        let job = Job::from_join(&j, "volumetric").unwrap();
        let text = job.cuboid_metadata("CK");
        assert!(text.starts_with(r#"{"ingest_job":42,"chunk_key":"CK","parameters":{"upload_queue":"http://q/upload","ingest_queue":null,"#), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["parameters"]["OBJECTIO_CONFIG"], json!({"o": 3}));
        assert_eq!(ObjectMetadata::cuboid(text.clone(), "K"), Ok(text));
        let err = ObjectMetadata::cuboid("m".repeat(2041), "K").unwrap_err();
        assert_eq!(err.size, 2049);
        assert!(err
            .to_string()
            .starts_with("the S3 user metadata of cuboid K would be 2049 bytes"));
    }

    #[test]
    fn a_join_that_cannot_drive_an_upload_says_what_is_missing() {
        let source: std::sync::Arc<dyn super::super::ChunkSource> =
            std::sync::Arc::new(|_, _, _| -> Result<super::super::ProducedChunk, _> {
                unreachable!()
            });
        let mut j = join();
        j.response.ingest_bucket_name = None;
        assert_eq!(
            super::super::Chunks::from_join(&j, source)
                .err()
                .map(|e| e.to_string()),
            Some(
                "the join answer for job 42 has no ingest bucket name; is this a volumetric job \
                 in UPLOADING state?"
                    .to_string()
            )
        );
        let tiles: std::sync::Arc<dyn super::super::TileSource> =
            std::sync::Arc::new(|_, _, _, _| -> Result<super::super::Produced, _> {
                unreachable!()
            });
        let mut j = join();
        j.response.ingest_job.tile_index_queue = None;
        assert_eq!(
            super::super::Tiles::from_join(&j, (512, 512), tiles)
                .err()
                .map(|e| e.to_string()),
            Some(
                "the join answer for job 42 has no tile index queue; is this a tile job in \
                 UPLOADING state?"
                    .to_string()
            )
        );
    }
}
