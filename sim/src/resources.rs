//! The users and channels the simulated Boss knows: API tokens and the collection/experiment/
//! channel names a config may name, with their numeric ids and voxel types.
//!
//! `--resources FILE` reads them from JSON:
//! ```json
//! {"tokens": {"<token>": "<user name>"},
//!  "channels": [{"collection": "col", "collection_id": 7, "experiment": "exp",
//!                "experiment_id": 12, "channel": "ch", "channel_id": 33,
//!                "datatype": "uint8", "base_resolution": 0}]}
//! ```
//! Without it, [`Resources::builtin`] is used: tokens `boss-sim-token` (user `alice`) and
//! `boss-sim-token-other` (user `bob`, for "not the job's creator" cases), and channels `ch`
//! (uint8, ids 7/12/33), `ch16` (uint16, 7/12/34) and `ch64` (uint64, 7/12/35), all in `col`/`exp`,
//! base resolution 0.

use boss_protocol::cuboid::Dtype;
use boss_protocol::keys::LookupIds;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::path::Path;

/// Why a resources file cannot be used. Each names the file and the line or entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    #[error("cannot read resources file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "resources file {path}: {source} (fix that line; see `boss-sim --help` for the format)"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("resources file {path}: {problem}")]
    Invalid { path: String, problem: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    pub collection: String,
    pub collection_id: u64,
    pub experiment: String,
    pub experiment_id: u64,
    pub channel: String,
    pub channel_id: u64,
    #[serde(deserialize_with = "datatype")]
    pub datatype: Dtype,
    pub base_resolution: u64,
}

impl Channel {
    pub fn ids(&self) -> LookupIds {
        LookupIds {
            collection: self.collection_id,
            experiment: self.experiment_id,
            channel: self.channel_id,
        }
    }
}

/// Reads `"uint8"`/`"uint16"`/`"uint64"` so a bad datatype is reported at its line.
fn datatype<'de, D: Deserializer<'de>>(d: D) -> Result<Dtype, D::Error> {
    let name = String::deserialize(d)?;
    match boss_protocol::cuboid::parse_dtype(&name) {
        Ok(Dtype::U32) | Err(_) => Err(serde::de::Error::custom(format!(
            "datatype {name:?} is not one of uint8, uint16, uint64"
        ))),
        Ok(dtype) => Ok(dtype),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// API token → user name.
    pub tokens: BTreeMap<String, String>,
    pub channels: Vec<Channel>,
}

/// Why a name in a config does not resolve: which level is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Collection(String),
    Experiment(String),
    Channel(String),
}

impl Resources {
    pub fn builtin() -> Resources {
        let channel = |name: &str, id, datatype| Channel {
            collection: "col".into(),
            collection_id: 7,
            experiment: "exp".into(),
            experiment_id: 12,
            channel: name.into(),
            channel_id: id,
            datatype,
            base_resolution: 0,
        };
        Resources {
            tokens: BTreeMap::from([
                ("boss-sim-token".to_string(), "alice".to_string()),
                ("boss-sim-token-other".to_string(), "bob".to_string()),
            ]),
            channels: vec![
                channel("ch", 33, Dtype::U8),
                channel("ch16", 34, Dtype::U16),
                channel("ch64", 35, Dtype::U64),
            ],
        }
    }

    pub fn load(path: &Path) -> Result<Resources, ResourcesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ResourcesError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses and checks resources; `path` is only used in messages.
    pub fn parse(text: &str, path: &str) -> Result<Resources, ResourcesError> {
        let resources: Resources =
            serde_json::from_str(text).map_err(|source| ResourcesError::Parse {
                path: path.to_string(),
                source,
            })?;
        let invalid = |problem: String| ResourcesError::Invalid {
            path: path.to_string(),
            problem,
        };
        if resources.tokens.is_empty() {
            return Err(invalid(
                "\"tokens\" is empty: add at least one \"<token>\": \"<user>\" pair".into(),
            ));
        }
        for (i, a) in resources.channels.iter().enumerate() {
            for (j, b) in resources.channels.iter().enumerate().skip(i + 1) {
                if (&a.collection, &a.experiment, &a.channel)
                    == (&b.collection, &b.experiment, &b.channel)
                {
                    return Err(invalid(format!(
                        "channels[{i}] and channels[{j}] both name {}/{}/{}",
                        a.collection, a.experiment, a.channel
                    )));
                }
                if a.ids() == b.ids() {
                    return Err(invalid(format!(
                        "channels[{i}] and channels[{j}] both have ids {}",
                        a.ids()
                    )));
                }
            }
        }
        Ok(resources)
    }

    /// The user a token belongs to.
    pub fn user(&self, token: &str) -> Option<&str> {
        self.tokens.get(token).map(String::as_str)
    }

    /// A token to print at startup: the first in sorted order.
    pub fn first_token(&self) -> &str {
        // `parse` and `builtin` guarantee at least one token.
        self.tokens.keys().next().map(String::as_str).unwrap_or("")
    }

    /// Resolves names to a channel, naming the first level that does not exist.
    pub fn channel(&self, col: &str, exp: &str, ch: &str) -> Result<&Channel, Missing> {
        if !self.channels.iter().any(|c| c.collection == col) {
            return Err(Missing::Collection(col.to_string()));
        }
        if !self
            .channels
            .iter()
            .any(|c| c.collection == col && c.experiment == exp)
        {
            return Err(Missing::Experiment(exp.to_string()));
        }
        self.channels
            .iter()
            .find(|c| c.collection == col && c.experiment == exp && c.channel == ch)
            .ok_or_else(|| Missing::Channel(ch.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_resolves() {
        let r = Resources::builtin();
        assert_eq!(
            r.channel("col", "exp", "ch16").unwrap().datatype,
            Dtype::U16
        );
        assert_eq!(
            r.channel("col", "nope", "ch"),
            Err(Missing::Experiment("nope".into()))
        );
        assert_eq!(r.user("boss-sim-token"), Some("alice"));
    }

    #[test]
    fn errors_name_line_and_field() {
        let text = "{\"tokens\": {\"t\": \"u\"},\n \"channels\": [{\"collection\": \"c\", \"collection_id\": 1,\n \"experiment\": \"e\", \"experiment_id\": 2, \"channel\": \"h\", \"channel_id\": 3,\n \"datatype\": \"float32\", \"base_resolution\": 0}]}";
        let err = Resources::parse(text, "r.json").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "resources file r.json: datatype \"float32\" is not one of uint8, uint16, uint64 at line 4"
            ),
            "{err}"
        );
        let missing = "{\"tokens\": {\"t\": \"u\"},\n \"channels\": [{\"collection\": \"c\"}]}";
        let err = Resources::parse(missing, "r.json").unwrap_err().to_string();
        assert!(
            err.starts_with("resources file r.json: missing field `collection_id` at line 2"),
            "{err}"
        );
    }
}
