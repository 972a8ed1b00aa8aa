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

/// The `ingest_job` part of a join answer: the fields the client acts on.
///
/// The real view (`bossingest/views.py` `IngestJobView.get`, serializer
/// `IngestJobListSerializer`) sends `id, collection, experiment, channel, status, ingest_queue,
/// upload_queue, tile_count, ingest_type, tile_index_queue`. Only `id` and `status` must be
/// there; every other field is read leniently (absent, `null` or of an unexpected type reads as
/// `None`), so a field the client can do without never fails a join.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IngestJobInfo {
    pub id: u64,
    pub status: JobStatus,
    /// Null for volumetric jobs and once the job is finished.
    #[serde(default, deserialize_with = "lenient")]
    pub ingest_queue: Option<String>,
    /// Null once the job is finished.
    #[serde(default, deserialize_with = "lenient")]
    pub upload_queue: Option<String>,
    /// Null for volumetric jobs; looked up live by the real view on every join of a tile job.
    #[serde(default, deserialize_with = "lenient")]
    pub tile_index_queue: Option<String>,
    /// Upload messages the service generated (tiles, or chunks of a volumetric job).
    #[serde(default, deserialize_with = "lenient")]
    pub tile_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub ingest_type: Option<IngestType>,
    /// Names of the target channel, to check a job id against a config.
    #[serde(default, deserialize_with = "lenient")]
    pub collection: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub experiment: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub channel: Option<String>,
}

/// AWS keys minted for one join (an IAM user of its own on the real service). There is never a
/// session token; `security_token` is `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    #[serde(default, deserialize_with = "lenient")]
    pub security_token: Option<String>,
}

/// The parts of a join's `resource` the client reads: the channel's datatype. The whole
/// `resource` goes back to the service unchanged in every tile's metadata (the tile-ingest
/// lambda reads all of it), so the client keeps it as raw JSON, never re-serialised from here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Resource {
    #[serde(default, deserialize_with = "lenient")]
    pub channel: Option<ChannelInfo>,
}

/// `resource.channel`: `{type, datatype, base_resolution}` on the real service (boss
/// `IngestManager._get_resource_data`; no `name`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ChannelInfo {
    /// `uint8`, `uint16` or `uint64` (`uint32` exists, but storage does not support it).
    #[serde(default, deserialize_with = "lenient")]
    pub datatype: Option<String>,
}

/// What the client reads from a 200 answer to `GET /latest/ingest/{id}` (protocol §2.2).
///
/// The real answer (boss `IngestJobView.get`) carries every top-level key in every live state:
/// `ingest_job, credentials, tile_bucket_name, ingest_bucket_name, KVIO_SETTINGS,
/// STATEIO_CONFIG, OBJECTIO_CONFIG, resource, ingest_lambda`, with `credentials: null` while
/// PREPARING; a COMPLETE volumetric job answers `{ingest_job}` alone. Only what the client uses
/// is modelled; the settings blocks and `resource` are taken from the raw answer when a tile's
/// metadata is built, so whatever the service adds travels back to it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JoinResponse {
    pub ingest_job: IngestJobInfo,
    /// Present (non-null) only in states 1, 5 and 6.
    #[serde(default)]
    pub credentials: Option<Credentials>,
    #[serde(default, deserialize_with = "lenient")]
    pub tile_bucket_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub ingest_bucket_name: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub resource: Option<Resource>,
}

impl JoinResponse {
    /// The channel's datatype name, when the answer has one.
    pub fn datatype(&self) -> Option<&str> {
        self.resource
            .as_ref()?
            .channel
            .as_ref()?
            .datatype
            .as_deref()
    }
}

/// Reads an optional field that the client can do without: a value of an unexpected shape
/// reads as `None` instead of failing the whole answer.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
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
