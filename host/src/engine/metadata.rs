//! The job facts every uploaded tile carries (spec §4.1): the S3 user metadata the service's
//! tile-index consumer needs, and the identical JSON sent to the tile-index queue. S3 limits user
//! metadata to 2 KiB; going over it fails every tile the same way, so the engine checks the size
//! itself and stops with a clear error instead of retrying a hopeless upload.

use crate::backend::Join;
use boss_protocol::messages::{to_compact_json, TileMetadata, UploadParameters};

/// S3's limit on user metadata: keys plus values, in bytes.
pub const S3_METADATA_LIMIT: usize = 2048;

/// What the engine needs from a join to upload a tile job's tiles.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: u64,
    pub upload_queue: String,
    pub tile_index_queue: String,
    pub tile_bucket: String,
    pub parameters: UploadParameters,
    /// Tile width and height in voxels.
    pub tile_size: (u64, u64),
}

/// A join answer that cannot drive a tile upload.
#[derive(Debug, thiserror::Error)]
#[error("the join answer for job {job} has no {missing}; is this a tile job in UPLOADING state?")]
pub struct IncompleteJoin {
    pub job: u64,
    pub missing: &'static str,
}

impl Job {
    /// Collects the queue URLs, bucket and the parameters block from a join answer.
    pub fn from_join(join: &Join, tile_size: (u64, u64)) -> Result<Job, IncompleteJoin> {
        let raw = |name: &str| join.raw.get(name).cloned().unwrap_or_default();
        let join_typed = &join.response;
        let info = &join_typed.ingest_job;
        let need = |v: &Option<String>, missing| {
            v.clone().ok_or(IncompleteJoin {
                job: info.id,
                missing,
            })
        };
        let upload_queue = need(&info.upload_queue, "upload queue")?;
        Ok(Job {
            id: info.id,
            tile_index_queue: need(&info.tile_index_queue, "tile index queue")?,
            tile_bucket: need(&join_typed.tile_bucket_name, "tile bucket name")?,
            parameters: UploadParameters {
                upload_queue: upload_queue.clone(),
                ingest_queue: info.ingest_queue.clone(),
                KVIO_SETTINGS: raw("KVIO_SETTINGS"),
                STATEIO_CONFIG: raw("STATEIO_CONFIG"),
                OBJECTIO_CONFIG: raw("OBJECTIO_CONFIG"),
                resource: raw("resource"),
            },
            upload_queue,
            tile_size,
        })
    }

    /// The compact JSON for one tile: the `metadata` header value and the tile-index message.
    pub fn tile_metadata(&self, chunk_key: &str, tile_key: &str) -> String {
        to_compact_json(&TileMetadata {
            chunk_key: chunk_key.to_string(),
            tile_key: tile_key.to_string(),
            ingest_job: self.id,
            parameters: self.parameters.clone(),
            x_size: self.tile_size.0,
            y_size: self.tile_size.1,
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
    "the S3 user metadata of tile {tile_key} would be {size} bytes, over S3's limit of \
     {S3_METADATA_LIMIT} (the job's parameters from the Boss are too large); no tile of this job \
     can be uploaded, report this to the Boss administrators"
)]
pub struct MetadataTooLarge {
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
        assert_eq!(job.tile_index_queue, "http://q/index");
        assert_eq!(job.tile_bucket, "tiles.test");
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
