//! The configuration blocks the service hands every client in a join — `KVIO_SETTINGS`,
//! `STATEIO_CONFIG`, `OBJECTIO_CONFIG` and the channel's `resource` — which the client copies
//! into every upload's `parameters` and the tile-ingest lambda reads back to know where a chunk
//! goes. One definition serves the join answer, the completion scan's re-sent chunks and the
//! check of what a client sent.
//!
//! Shapes follow the production service: boss `settings/production.py` (the three settings
//! blocks; the join drops `index_deadletter_queue` and `index_cuboids_keys_queue`), boss
//! `IngestManager._get_resource_data` (`resource`), with names built as boss-manage
//! `lib/names.py` builds them, on the simulator's domain instead of `production.boss` — so the
//! values have the length real ones have, and the 2 KiB of S3 metadata a tile carries is as
//! full here as on BossDB.

use crate::resources::Channel;
use serde::Serialize;
use serde_json::Value;

/// The simulator's stand-in for the production internal domain (`production.boss`).
pub const DOMAIN: &str = "boss-sim.local";
/// The account id in AWS ARNs and queue URLs.
const ACCOUNT: &str = "123456789012";

/// `KVIO_SETTINGS`: the cuboid cache (Redis).
#[derive(Debug, Clone, Serialize)]
pub struct KvioSettings {
    pub cache_host: String,
    pub cache_db: u32,
    pub read_timeout: u64,
}

/// `STATEIO_CONFIG`: the cache state store (Redis).
#[derive(Debug, Clone, Serialize)]
pub struct StateioConfig {
    pub cache_state_host: String,
    pub cache_state_db: u32,
}

/// `OBJECTIO_CONFIG` as the join sends it: ten keys, all strings.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectioConfig {
    pub s3_flush_queue: String,
    pub cuboid_bucket: String,
    pub page_in_lambda_function: String,
    pub page_out_lambda_function: String,
    pub ingest_lambda_function: String,
    pub s3_index_table: String,
    pub id_index_table: String,
    pub id_count_table: String,
    pub prod_mailing_list: String,
    pub id_index_new_chunk_threshold: String,
}

/// `resource`: only what the S3 metadata limit leaves; the lambda fills in the rest.
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub boss_key: String,
    pub lookup_key: String,
    pub channel: ResourceChannel,
    pub experiment: ResourceExperiment,
    pub coord_frame: ResourceCoordFrame,
}

/// `resource.channel`: no `name` (the lambda takes it from `boss_key`).
#[derive(Debug, Clone, Serialize)]
pub struct ResourceChannel {
    #[serde(rename = "type")]
    pub kind: String,
    pub datatype: String,
    pub base_resolution: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceExperiment {
    pub num_hierarchy_levels: u64,
    pub hierarchy_method: String,
}

/// Voxel sizes are a Django `FloatField`: always JSON floats.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceCoordFrame {
    pub x_voxel_size: f64,
    pub y_voxel_size: f64,
    pub z_voxel_size: f64,
}

/// boss-manage `names.py`: an SQS name capitalises each dotted part and joins them.
fn sqs_name(name: &str) -> String {
    format!("{name}.{DOMAIN}")
        .split('.')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect()
}

/// boss-manage `names.py`: a lambda name has dashes for dots.
fn lambda_name(name: &str) -> String {
    format!("{name}.{DOMAIN}").replace('.', "-")
}

pub fn kvio_settings() -> KvioSettings {
    KvioSettings {
        cache_host: format!("cache.{DOMAIN}"),
        cache_db: 0,
        // Two weeks, a literal in production.py.
        read_timeout: 1_209_600,
    }
}

pub fn stateio_config() -> StateioConfig {
    StateioConfig {
        cache_state_host: format!("cache-state.{DOMAIN}"),
        cache_state_db: 0,
    }
}

pub fn objectio_config() -> ObjectioConfig {
    ObjectioConfig {
        s3_flush_queue: format!(
            "https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{}",
            sqs_name("S3flush")
        ),
        cuboid_bucket: format!("cuboids.{DOMAIN}"),
        page_in_lambda_function: lambda_name("multiLambda"),
        page_out_lambda_function: lambda_name("multiLambda"),
        ingest_lambda_function: lambda_name("tileIngestLambda"),
        s3_index_table: format!("s3index.{DOMAIN}"),
        id_index_table: format!("idIndex.{DOMAIN}"),
        id_count_table: format!("idCount.{DOMAIN}"),
        prod_mailing_list: format!("arn:aws:sns:us-east-1:{ACCOUNT}:BossMailingList"),
        id_index_new_chunk_threshold: "100".into(),
    }
}

pub fn resource(channel: &Channel) -> Resource {
    Resource {
        boss_key: format!(
            "{}&{}&{}",
            channel.collection, channel.experiment, channel.channel
        ),
        lookup_key: channel.ids().to_string(),
        channel: ResourceChannel {
            kind: "image".into(),
            datatype: channel.datatype.name().into(),
            base_resolution: channel.base_resolution,
        },
        experiment: ResourceExperiment {
            num_hierarchy_levels: 1,
            hierarchy_method: "anisotropic".into(),
        },
        coord_frame: ResourceCoordFrame {
            x_voxel_size: 4.0,
            y_voxel_size: 4.0,
            z_voxel_size: 40.0,
        },
    }
}

/// The service's own `parameters`: what the join hands out and the completion scan puts in a
/// re-sent chunk's message (boss-tools `ChunkScanner.enqueue_chunk`).
#[derive(Debug, Clone, Serialize)]
pub struct Parameters {
    #[serde(rename = "KVIO_SETTINGS")]
    pub kvio_settings: KvioSettings,
    #[serde(rename = "STATEIO_CONFIG")]
    pub stateio_config: StateioConfig,
    #[serde(rename = "OBJECTIO_CONFIG")]
    pub objectio_config: ObjectioConfig,
    pub resource: Resource,
}

pub fn service_parameters(channel: &Channel) -> Parameters {
    Parameters {
        kvio_settings: kvio_settings(),
        stateio_config: stateio_config(),
        objectio_config: objectio_config(),
        resource: resource(channel),
    }
}

/// What is wrong with the `parameters` of an ingest message, as the tile-ingest lambda finds it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParametersProblem {
    /// A field the lambda reads is absent or of the wrong kind: it raises and the message is
    /// retried.
    #[error("parameters lack {0}")]
    Missing(&'static str),
    /// A field that decides where the data goes differs from the job's: the chunk is written
    /// somewhere else.
    #[error("parameters.{field} is {got}, not {want}: the chunk would be written elsewhere")]
    Elsewhere {
        field: &'static str,
        got: String,
        want: String,
    },
}

/// Fields the tile-ingest lambda reads (`SpatialDB(...)`, `BossResourceBasic`), by JSON pointer
/// under `parameters`.
const READ: [(&str, &str); 16] = [
    ("/KVIO_SETTINGS/cache_host", "KVIO_SETTINGS.cache_host"),
    ("/KVIO_SETTINGS/cache_db", "KVIO_SETTINGS.cache_db"),
    (
        "/STATEIO_CONFIG/cache_state_host",
        "STATEIO_CONFIG.cache_state_host",
    ),
    (
        "/STATEIO_CONFIG/cache_state_db",
        "STATEIO_CONFIG.cache_state_db",
    ),
    (
        "/OBJECTIO_CONFIG/cuboid_bucket",
        "OBJECTIO_CONFIG.cuboid_bucket",
    ),
    (
        "/OBJECTIO_CONFIG/s3_index_table",
        "OBJECTIO_CONFIG.s3_index_table",
    ),
    ("/resource/boss_key", "resource.boss_key"),
    ("/resource/lookup_key", "resource.lookup_key"),
    ("/resource/channel/type", "resource.channel.type"),
    ("/resource/channel/datatype", "resource.channel.datatype"),
    (
        "/resource/channel/base_resolution",
        "resource.channel.base_resolution",
    ),
    (
        "/resource/experiment/num_hierarchy_levels",
        "resource.experiment.num_hierarchy_levels",
    ),
    (
        "/resource/experiment/hierarchy_method",
        "resource.experiment.hierarchy_method",
    ),
    (
        "/resource/coord_frame/x_voxel_size",
        "resource.coord_frame.x_voxel_size",
    ),
    (
        "/resource/coord_frame/y_voxel_size",
        "resource.coord_frame.y_voxel_size",
    ),
    (
        "/resource/coord_frame/z_voxel_size",
        "resource.coord_frame.z_voxel_size",
    ),
];

/// Checks `parameters` of an ingest message against the job's channel, in the lambda's terms.
pub fn check(parameters: &Value, channel: &Channel) -> Result<(), ParametersProblem> {
    for (pointer, name) in READ {
        if parameters.pointer(pointer).is_none_or(Value::is_null) {
            return Err(ParametersProblem::Missing(name));
        }
    }
    // `_, exp_name, ch_name = boss_key.split("&")`
    let boss_key = parameters["resource"]["boss_key"].as_str().unwrap_or("");
    if boss_key.split('&').count() != 3 {
        return Err(ParametersProblem::Missing(
            "resource.boss_key of the form collection&experiment&channel",
        ));
    }
    let want_objectio = objectio_config();
    let want_resource = resource(channel);
    let placement = [
        (
            "resource.lookup_key",
            "/resource/lookup_key",
            want_resource.lookup_key,
        ),
        (
            "resource.channel.datatype",
            "/resource/channel/datatype",
            want_resource.channel.datatype,
        ),
        (
            "OBJECTIO_CONFIG.cuboid_bucket",
            "/OBJECTIO_CONFIG/cuboid_bucket",
            want_objectio.cuboid_bucket,
        ),
        (
            "OBJECTIO_CONFIG.s3_index_table",
            "/OBJECTIO_CONFIG/s3_index_table",
            want_objectio.s3_index_table,
        ),
    ];
    for (field, pointer, want) in placement {
        let got = parameters.pointer(pointer).unwrap_or(&Value::Null);
        if got.as_str() != Some(want.as_str()) {
            return Err(ParametersProblem::Elsewhere {
                field,
                got: got.to_string(),
                want,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Resources;
    use serde_json::json;

    fn channel() -> Channel {
        Resources::builtin().channels[1].clone()
    }

    #[test]
    fn names_follow_boss_manage() {
        assert_eq!(sqs_name("S3flush"), "S3flushBoss-simLocal");
        assert_eq!(lambda_name("multiLambda"), "multiLambda-boss-sim-local");
        let value = serde_json::to_value(objectio_config()).unwrap();
        assert_eq!(value.as_object().unwrap().len(), 10);
        assert_eq!(value["id_index_new_chunk_threshold"], json!("100"));
    }

    #[test]
    fn the_service_parameters_pass_and_a_client_slip_is_named() {
        let good = serde_json::to_value(service_parameters(&channel())).unwrap();
        assert_eq!(check(&good, &channel()), Ok(()));
        let mut no_kvio = good.clone();
        no_kvio.as_object_mut().unwrap().remove("KVIO_SETTINGS");
        assert_eq!(
            check(&no_kvio, &channel()),
            Err(ParametersProblem::Missing("KVIO_SETTINGS.cache_host"))
        );
        let mut other = good.clone();
        other["resource"]["lookup_key"] = json!("7&12&33");
        assert_eq!(
            check(&other, &channel()).unwrap_err().to_string(),
            "parameters.resource.lookup_key is \"7&12&33\", not 7&12&34: the chunk would be written elsewhere"
        );
    }
}
