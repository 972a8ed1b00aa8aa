//! Job states and ingest types as the wire spells them (protocol §1).
//!
//! The REST API sends both as bare integers; config files spell the ingest type as a word. Keeping
//! the numbers in one place stops the client and the simulator from disagreeing on, say, whether
//! 5 means COMPLETING or WAIT_ON_QUEUES.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Why a wire integer is not a known state or type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("{0} is not a Boss ingest job status (0-6)")]
    Status(i64),
    #[error("{0} is not a Boss ingest type (0 = tile, 1 = volumetric)")]
    IngestType(i64),
    #[error("ingest_type {0:?} is neither \"tile\" nor \"volumetric\"")]
    IngestTypeName(String),
}

/// The state of an ingest job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// The service is still filling the upload queue; no credentials yet.
    Preparing,
    Uploading,
    Complete,
    Deleted,
    /// Defined by the service but never set by it.
    Failed,
    /// The service scans for missing tiles.
    Completing,
    /// The upload queue is empty; the service waits for its internal queues to drain.
    WaitOnQueues,
}

impl JobStatus {
    pub fn code(self) -> i64 {
        match self {
            JobStatus::Preparing => 0,
            JobStatus::Uploading => 1,
            JobStatus::Complete => 2,
            JobStatus::Deleted => 3,
            JobStatus::Failed => 4,
            JobStatus::Completing => 5,
            JobStatus::WaitOnQueues => 6,
        }
    }

    pub fn from_code(code: i64) -> Result<JobStatus, StatusError> {
        Ok(match code {
            0 => JobStatus::Preparing,
            1 => JobStatus::Uploading,
            2 => JobStatus::Complete,
            3 => JobStatus::Deleted,
            4 => JobStatus::Failed,
            5 => JobStatus::Completing,
            6 => JobStatus::WaitOnQueues,
            other => return Err(StatusError::Status(other)),
        })
    }

    /// States in which a join hands out credentials.
    pub fn has_credentials(self) -> bool {
        matches!(
            self,
            JobStatus::Uploading | JobStatus::Completing | JobStatus::WaitOnQueues
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JobStatus::Preparing => "PREPARING",
            JobStatus::Uploading => "UPLOADING",
            JobStatus::Complete => "COMPLETE",
            JobStatus::Deleted => "DELETED",
            JobStatus::Failed => "FAILED",
            JobStatus::Completing => "COMPLETING",
            JobStatus::WaitOnQueues => "WAIT_ON_QUEUES",
        })
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JobStatus::from_code(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// Tile or volumetric ingest: 0/1 on the wire, `"tile"`/`"volumetric"` in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IngestType {
    #[default]
    Tile,
    Volumetric,
}

impl IngestType {
    pub fn code(self) -> i64 {
        match self {
            IngestType::Tile => 0,
            IngestType::Volumetric => 1,
        }
    }

    pub fn from_code(code: i64) -> Result<IngestType, StatusError> {
        match code {
            0 => Ok(IngestType::Tile),
            1 => Ok(IngestType::Volumetric),
            other => Err(StatusError::IngestType(other)),
        }
    }

    /// The config file spelling.
    pub fn name(self) -> &'static str {
        match self {
            IngestType::Tile => "tile",
            IngestType::Volumetric => "volumetric",
        }
    }

    /// Reads the config file spelling; absent means tile (handled by the caller).
    pub fn from_name(name: &str) -> Result<IngestType, StatusError> {
        match name {
            "tile" => Ok(IngestType::Tile),
            "volumetric" => Ok(IngestType::Volumetric),
            other => Err(StatusError::IngestTypeName(other.to_string())),
        }
    }
}

impl fmt::Display for IngestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// On the wire (REST bodies) the ingest type is the integer.
impl Serialize for IngestType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.code())
    }
}

impl<'de> Deserialize<'de> for IngestType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IngestType::from_code(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// The config-file spelling of [`IngestType`] (`"tile"`/`"volumetric"`), for
/// `#[serde(with = "ingest_type_name")]` on a config field; on the wire it is the integer.
pub mod ingest_type_name {
    use super::IngestType;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &IngestType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.name())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IngestType, D::Error> {
        let name = String::deserialize(d)?;
        IngestType::from_name(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_match_the_wire() {
        let all = [
            (JobStatus::Preparing, 0),
            (JobStatus::Uploading, 1),
            (JobStatus::Complete, 2),
            (JobStatus::Deleted, 3),
            (JobStatus::Failed, 4),
            (JobStatus::Completing, 5),
            (JobStatus::WaitOnQueues, 6),
        ];
        for (status, code) in all {
            assert_eq!(serde_json::to_string(&status).unwrap(), code.to_string());
            assert_eq!(
                serde_json::from_str::<JobStatus>(&code.to_string()).unwrap(),
                status
            );
        }
        let err = serde_json::from_str::<JobStatus>("7").unwrap_err();
        assert!(err
            .to_string()
            .contains("7 is not a Boss ingest job status"));
    }

    #[test]
    fn ingest_types() {
        assert_eq!(serde_json::to_string(&IngestType::Volumetric).unwrap(), "1");
        assert_eq!(
            serde_json::from_str::<IngestType>("0").unwrap(),
            IngestType::Tile
        );
        assert_eq!(
            IngestType::from_name("volumetric").unwrap(),
            IngestType::Volumetric
        );
        assert_eq!(
            IngestType::from_name("Tile").unwrap_err().to_string(),
            "ingest_type \"Tile\" is neither \"tile\" nor \"volumetric\""
        );
    }
}
