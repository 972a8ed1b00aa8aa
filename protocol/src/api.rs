//! REST request and response bodies of the Boss ingest API (protocol §2).
//!
//! The client parses these and the simulator writes them; one definition keeps the field names,
//! the optional fields and the odd shapes (a join without credentials, a complete answer that is
//! only `wait_secs`) identical on both sides.

use crate::status::{IngestType, JobStatus};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Boss error codes used by the ingest API.
pub mod codes {
    /// 400: the config failed schema or validator checks.
    pub const SCHEMA_VALIDATION: u32 = 1004;
    /// 400: the request is not valid in the job's state.
    pub const BAD_REQUEST: u32 = 1006;
    /// 404: the job was deleted (cancelled).
    pub const JOB_DELETED: u32 = 2004;
    /// 403: the caller did not create the job.
    pub const NOT_CREATOR: u32 = 3003;
    /// 404: a collection, experiment or channel does not exist.
    pub const RESOURCE_NOT_FOUND: u32 = 4000;
    /// 404: no job with that id.
    pub const JOB_NOT_FOUND: u32 = 4004;
    /// 400: system error (e.g. cancelling twice).
    pub const SYSTEM_ERROR: u32 = 9001;
}

/// `{"status": 404, "code": 4004, "message": "..."}`: a Boss error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BossError {
    pub status: u16,
    pub code: u32,
    pub message: String,
}

/// `{"detail": "Invalid token."}`: an authentication error (HTTP 401).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthError {
    pub detail: String,
}

pub const INVALID_TOKEN: &str = "Invalid token.";
pub const NO_CREDENTIALS: &str = "Authentication credentials were not provided.";

/// Any error body the service sends; the client reports `detail`, else `message`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    pub detail: Option<String>,
    pub message: Option<String>,
    pub code: Option<u32>,
}

impl ErrorBody {
    /// The text to show a user, as the original client chooses it.
    pub fn text(&self) -> Option<&str> {
        self.detail.as_deref().or(self.message.as_deref())
    }
}

/// 201 answer to `POST /latest/ingest/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    pub id: u64,
    pub collection: String,
    pub experiment: String,
    pub channel: String,
    pub status: JobStatus,
    pub ingest_queue: Option<String>,
    pub upload_queue: Option<String>,
    pub tile_count: u64,
    pub ingest_type: IngestType,
}

/// The `ingest_job` part of a join answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestJobInfo {
    pub id: u64,
    pub collection: String,
    pub experiment: String,
    pub channel: String,
    pub status: JobStatus,
    /// Null for volumetric jobs.
    pub ingest_queue: Option<String>,
    pub upload_queue: Option<String>,
    pub tile_count: u64,
    pub ingest_type: IngestType,
    /// Null for volumetric jobs.
    pub tile_index_queue: Option<String>,
}

/// AWS keys minted for one join. There is never a session token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub security_token: Option<String>,
}

/// The channel part of `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `uint8`, `uint16` or `uint64`.
    pub datatype: String,
    pub base_resolution: u64,
}

/// The `resource` of a join answer: names and numeric ids of the target channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// `col&exp&ch` by name.
    pub boss_key: String,
    /// `7&12&33`: the numeric ids every key starts with.
    pub lookup_key: String,
    pub channel: ChannelInfo,
    #[serde(default)]
    pub experiment: Value,
    #[serde(default)]
    pub coord_frame: Value,
}

/// 200 answer to `GET /latest/ingest/{id}`. Only `ingest_job` is present while the job is
/// PREPARING or COMPLETE; the rest comes with credentials (states 1, 5, 6).
#[allow(non_snake_case)] // Field names are the wire's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JoinResponse {
    pub ingest_job: IngestJobInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_bucket_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub KVIO_SETTINGS: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub STATEIO_CONFIG: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub OBJECTIO_CONFIG: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_lambda: Option<String>,
}

/// 200 answer to `GET /latest/ingest/{id}/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    pub id: u64,
    pub status: JobStatus,
    pub total_message_count: u64,
    /// Visible upload-queue messages only.
    pub current_message_count: u64,
}

/// The non-error answers of `POST /latest/ingest/{id}/complete` (202, or 400 with `wait_secs`):
/// `{"job_status": 6, "wait_secs": 180}`, `{"wait_secs": 180, "info": "..."}`,
/// `{"job_status": 5}`, ... Which fields appear depends on the row of protocol §2.4.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CompleteBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<JobStatus>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "seconds"
    )]
    pub wait_secs: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<String>,
}

/// Whole seconds as an integer (`180`), fractions as a float (`0.75`), as the service writes them.
fn seconds<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) if v.fract() == 0.0 && *v >= 0.0 && *v < 1e15 => s.serialize_u64(*v as u64),
        Some(v) => s.serialize_f64(*v),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn complete_bodies() {
        let wait = CompleteBody {
            job_status: Some(JobStatus::WaitOnQueues),
            wait_secs: Some(180.0),
            info: None,
        };
        assert_eq!(
            serde_json::to_value(&wait).unwrap(),
            json!({"job_status": 6, "wait_secs": 180})
        );
        let remaining = CompleteBody {
            job_status: Some(JobStatus::WaitOnQueues),
            wait_secs: Some(0.5),
            info: None,
        };
        assert_eq!(
            serde_json::to_string(&remaining).unwrap(),
            r#"{"job_status":6,"wait_secs":0.5}"#
        );
        let parsed: CompleteBody =
            serde_json::from_str(r#"{"wait_secs": 180, "info": "Internal queues not empty yet"}"#)
                .unwrap();
        assert_eq!(parsed.wait_secs, Some(180.0));
        assert_eq!(parsed.job_status, None);
    }

    #[test]
    fn join_without_credentials_has_only_the_job() {
        let join = JoinResponse {
            ingest_job: IngestJobInfo {
                id: 1,
                collection: "c".into(),
                experiment: "e".into(),
                channel: "h".into(),
                status: JobStatus::Complete,
                ingest_queue: None,
                upload_queue: None,
                tile_count: 0,
                ingest_type: IngestType::Tile,
                tile_index_queue: None,
            },
            credentials: None,
            tile_bucket_name: None,
            ingest_bucket_name: None,
            KVIO_SETTINGS: None,
            STATEIO_CONFIG: None,
            OBJECTIO_CONFIG: None,
            resource: None,
            ingest_lambda: None,
        };
        let value = serde_json::to_value(&join).unwrap();
        assert_eq!(value.as_object().unwrap().len(), 1);
        assert_eq!(value["ingest_job"]["status"], json!(2));
        let back: JoinResponse = serde_json::from_value(value).unwrap();
        assert_eq!(back, join);
    }

    #[test]
    fn error_text_prefers_detail() {
        let auth: ErrorBody = serde_json::from_str(r#"{"detail": "Invalid token."}"#).unwrap();
        assert_eq!(auth.text(), Some("Invalid token."));
        let boss: ErrorBody =
            serde_json::from_str(r#"{"status": 404, "code": 4004, "message": "not found"}"#)
                .unwrap();
        assert_eq!(boss.text(), Some("not found"));
        assert_eq!(boss.code, Some(4004));
    }
}
