//! The job facts every uploaded tile or cuboid carries: for a tile (spec §4.1) the S3 user
//! metadata the service's tile-index consumer needs and the identical JSON sent to the tile-index
//! queue; for a cuboid of a volumetric job (spec §4.3) the job id, chunk key and parameters. S3
//! limits user metadata to 2 KiB; going over it fails every upload the same way, so the engine
//! checks the size itself and stops with a clear error instead of retrying a hopeless upload.

use crate::backend::Join;
use boss_protocol::messages::{to_compact_json, CuboidMetadata, TileMetadata, UploadParameters};

/// S3's limit on user metadata: keys plus values, in bytes.
pub const S3_METADATA_LIMIT: usize = 2048;

/// What the engine needs from a join to upload a job's tiles or chunks.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: u64,
    pub upload_queue: String,
    pub parameters: UploadParameters,
    pub target: Target,
}

/// Where a job's uploads go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A tile job: tiles to the tile bucket, then a tile-index message each.
    Tiles {
        tile_index_queue: String,
        tile_bucket: String,
        /// Tile width and height in voxels.
        tile_size: (u64, u64),
    },
    /// A volumetric job: blosc cuboids to the ingest bucket, nothing to index.
    Cuboids { ingest_bucket: String },
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
    /// Collects the queue URLs, bucket and the parameters block of a tile job from a join answer.
    pub fn from_join(join: &Join, tile_size: (u64, u64)) -> Result<Job, IncompleteJoin> {
        let need = |v: &Option<String>, missing| {
            v.clone().ok_or(IncompleteJoin {
                job: join.response.ingest_job.id,
                missing,
                kind: "tile",
            })
        };
        let target = Target::Tiles {
            tile_index_queue: need(
                &join.response.ingest_job.tile_index_queue,
                "tile index queue",
            )?,
            tile_bucket: need(&join.response.tile_bucket_name, "tile bucket name")?,
            tile_size,
        };
        Job::with_target(join, target, "tile")
    }

    /// The same for a volumetric job: its cuboids go to the ingest bucket.
    pub fn volumetric_from_join(join: &Join) -> Result<Job, IncompleteJoin> {
        let ingest_bucket = join
            .response
            .ingest_bucket_name
            .clone()
            .ok_or(IncompleteJoin {
                job: join.response.ingest_job.id,
                missing: "ingest bucket name",
                kind: "volumetric",
            })?;
        Job::with_target(join, Target::Cuboids { ingest_bucket }, "volumetric")
    }

    fn with_target(join: &Join, target: Target, kind: &'static str) -> Result<Job, IncompleteJoin> {
        let raw = |name: &str| join.raw.get(name).cloned().unwrap_or_default();
        let info = &join.response.ingest_job;
        let upload_queue = info.upload_queue.clone().ok_or(IncompleteJoin {
            job: info.id,
            missing: "upload queue",
            kind,
        })?;
        Ok(Job {
            id: info.id,
            target,
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

    /// The compact JSON for one tile: the `metadata` header value and the tile-index message.
    pub fn tile_metadata(&self, chunk_key: &str, tile_key: &str) -> String {
        let (x_size, y_size) = match &self.target {
            Target::Tiles { tile_size, .. } => *tile_size,
            // Only tile jobs have tiles; a tile size of 0 would be the honest nothing.
            Target::Cuboids { .. } => (0, 0),
        };
        to_compact_json(&TileMetadata {
            chunk_key: chunk_key.to_string(),
            tile_key: tile_key.to_string(),
            ingest_job: self.id,
            parameters: self.parameters.clone(),
            x_size,
            y_size,
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
                "channel": {"name": "h", "type": "image", "datatype": "uint8", "base_resolution": 0,
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
        let job = Job::from_join(&join(), (512, 256)).unwrap();
        assert_eq!(
            job.target,
            Target::Tiles {
                tile_index_queue: "http://q/index".into(),
                tile_bucket: "tiles.test".into(),
                tile_size: (512, 256)
            }
        );
        let text = job.tile_metadata("CK", "TK");
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
                        "channel": {"name": "h", "type": "image", "datatype": "uint8",
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
    fn cuboid_metadata_is_the_spec_json() {
        let mut j = join();
        j.response.ingest_job.tile_index_queue = None;
        j.response.ingest_job.ingest_queue = None;
        let job = Job::volumetric_from_join(&j).unwrap();
        assert_eq!(
            job.target,
            Target::Cuboids {
                ingest_bucket: "ingest.test".into()
            }
        );
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
        j.response.ingest_bucket_name = None;
        assert_eq!(
            Job::volumetric_from_join(&j).unwrap_err().to_string(),
            "the join answer for job 42 has no ingest bucket name; is this a volumetric job in \
             UPLOADING state?"
        );
    }

    #[test]
    fn a_volumetric_join_is_refused_with_what_is_missing() {
        let mut j = join();
        j.response.ingest_job.tile_index_queue = None;
        let err = Job::from_join(&j, (512, 512)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the join answer for job 42 has no tile index queue; is this a tile job in UPLOADING state?"
        );
    }
}
