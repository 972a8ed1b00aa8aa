//! Validation, warnings and geometry on configs as users write them.

use super::validate::{v01_schema, v02_schema};
use super::*;
use serde_json::json;
use serde_json::Value;

/// The zStack example of the Python client's documentation, as users have it on disk.
fn v01_example() -> Value {
    json!({
      "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                    "protocol": "https"},
        "path_processor": {
          "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
          "params": {"root_dir": "", "extension": "png",
                     "base_filename": "<o:3253>_my_stack_section<p:3>"}
        },
        "tile_processor": {
          "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
          "params": {"filesystem": "local", "extension": "png"}
        }
      },
      "database": {"collection": "my_col_1", "experiment": "my_exp_1", "channel": "my_ch_1"},
      "ingest_job": {
        "resolution": 0,
        "extent": {"x": [0, 8192], "y": [0, 8192], "z": [0, 500], "t": [0, 1]},
        "tile_size": {"x": 1024, "y": 1024, "z": 1, "t": 1}
      }
    })
}

/// A v0.2 skeleton without ingest type, sizes or tile/chunk processor.
fn v02_skeleton() -> Value {
    json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                    "protocol": "https"},
        "path_processor": {"class": "ingestclient.plugins.cloudvolume.CloudVolumePathProcessor",
                           "params": {}}
      },
      "database": {"collection": "my_col_1", "experiment": "my_exp_1", "channel": "my_ch_1"},
      "ingest_job": {
        "resolution": 0,
        "extent": {"x": [0, 8192], "y": [0, 8192], "z": [0, 500], "t": [0, 1]}
      }
    })
}

fn volumetric() -> Value {
    let mut c = v02_skeleton();
    c["ingest_job"]["ingest_type"] = json!("volumetric");
    c["ingest_job"]["chunk_size"] = json!({"x": 1024, "y": 1024, "z": 64});
    c["client"]["chunk_processor"] = json!({
        "class": "ingestclient.plugins.cloudvolume.CloudVolumeChunkProcessor",
        "params": {"cloudpath": "file:///tmp/vol"}});
    c
}

fn problems(v: &Value) -> Vec<String> {
    validate(v).expect_err("config should be refused").problems
}

#[test]
fn embedded_schemas_compile() {
    let _ = v01_schema();
    let _ = v02_schema();
}

#[test]
fn python_example_is_valid_without_warnings() {
    let v = validate(&v01_example()).unwrap();
    assert_eq!(v.warnings, Vec::<String>::new());
    let job = &v.config.ingest_job;
    assert_eq!(job.ingest_type, IngestType::Tile);
    assert_eq!(
        job.extent.z,
        Span {
            start: 0,
            stop: 500
        }
    );
    assert_eq!(v.config.database.channel, "my_ch_1");
    assert_eq!(
        v.config.client.path_processor.class,
        "ingestclient.plugins.stack.ZindexStackPathProcessor"
    );
}

#[test]
fn estimate_of_the_documented_example() {
    let job = validate(&v01_example()).unwrap().config.ingest_job;
    assert_eq!(job.legacy_estimate().tiles, Some(32000));
    assert_eq!(job.legacy_estimate().chunks, None);
    assert_eq!(job.tile_count(), 32000);
    assert_eq!(job.chunk_count(), 64 * 32);
}

#[test]
fn exact_count_exceeds_the_legacy_estimate_on_ragged_extents() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] = json!({"x": [0, 2500], "y": [0, 1500], "z": [0, 37], "t": [0, 1]});
    let job = validate(&c).unwrap().config.ingest_job;
    // floor(2500*1500 / 1024²) = 3 per slice, but the service makes 3 × 2 tiles per slice.
    assert_eq!(job.legacy_estimate().tiles, Some(3 * 37));
    assert_eq!(job.tile_count(), 6 * 37);
    assert_eq!(job.chunk_count(), 6 * 3);
    assert_eq!(job.tiles().count() as u64, job.tile_count());
}

#[test]
fn volumetric_chunks_come_in_the_service_order_as_indices() {
    let mut c = volumetric();
    c["ingest_job"]["extent"] =
        json!({"x": [0, 1500], "y": [1024, 2048], "z": [0, 65], "t": [0, 1]});
    let job = validate(&c).unwrap().config.ingest_job;
    let chunks: Vec<(u64, u64, u64)> = job.volumetric_chunks().map(|c| (c.x, c.y, c.z)).collect();
    assert_eq!(chunks, vec![(0, 1, 0), (1, 1, 0), (0, 1, 1), (1, 1, 1)]);
    assert_eq!(job.chunk_count(), 4);
    assert_eq!(v01_example_job().volumetric_chunks().count(), 0);
}

fn v01_example_job() -> IngestJob {
    validate(&v01_example()).unwrap().config.ingest_job
}

#[test]
fn tiles_come_in_the_service_order() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] = json!({"x": [0, 2048], "y": [0, 1024], "z": [0, 18], "t": [0, 1]});
    let job = validate(&c).unwrap().config.ingest_job;
    let tiles: Vec<_> = job.tiles().map(|t| (t.x, t.y, t.z, t.t)).collect();
    let mut expected = Vec::new();
    for (z0, z1) in [(0, 16), (16, 18)] {
        for x in 0..2 {
            for z in z0..z1 {
                expected.push((x, 0, z, 0));
            }
        }
    }
    assert_eq!(tiles, expected);
}

#[test]
fn tile_indices_of_an_offset_extent() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] =
        json!({"x": [1024, 3072], "y": [2048, 3072], "z": [32, 33], "t": [0, 1]});
    let job = validate(&c).unwrap().config.ingest_job;
    let tiles: Vec<_> = job.tiles().collect();
    assert_eq!(
        tiles,
        vec![
            TileIndex {
                x: 1,
                y: 2,
                z: 32,
                t: 0
            },
            TileIndex {
                x: 2,
                y: 2,
                z: 32,
                t: 0
            }
        ]
    );
}

#[test]
fn volumetric_counts() {
    let mut c = volumetric();
    c["ingest_job"]["extent"] = json!({"x": [0, 2500], "y": [0, 1024], "z": [0, 100], "t": [0, 1]});
    let job = validate(&c).unwrap().config.ingest_job;
    assert_eq!(job.chunk_count(), 3 * 2);
    assert_eq!(job.upload_message_count(), 6);
    assert_eq!(job.tile_count(), 0);
    assert_eq!(job.tiles().count(), 0);
    assert_eq!(
        job.legacy_estimate().chunks,
        Some(2500 * 1024 * 100 / (1024 * 1024 * 64))
    );
}

#[test]
fn v02_volumetric_needs_chunk_processor() {
    let mut c = volumetric();
    c["client"]
        .as_object_mut()
        .unwrap()
        .remove("chunk_processor");
    assert_eq!(
        problems(&c),
        ["\"client\": \"chunk_processor\" required for volumetric ingest jobs."]
    );
}

#[test]
fn v02_volumetric_needs_chunk_size() {
    let mut c = volumetric();
    c["ingest_job"]
        .as_object_mut()
        .unwrap()
        .remove("chunk_size");
    assert_eq!(
        problems(&c),
        ["\"ingest_job\": \"chunk_size\" required for volumetric ingest jobs."]
    );
}

#[test]
fn v02_chunk_size_multiples() {
    let mut c = volumetric();
    c["ingest_job"]["chunk_size"] = json!({"x": 1000, "y": 1024, "z": 60});
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"chunk_size\": \"x\" must be a multiple of 512.",
            "\"ingest_job\": \"chunk_size\": \"z\" must be a multiple of 16."
        ]
    );
    c["ingest_job"]["chunk_size"] = json!({"x": 512, "y": 100, "z": 16});
    assert_eq!(
        problems(&c),
        ["\"ingest_job\": \"chunk_size\": \"y\" must be a multiple of 512."]
    );
}

#[test]
fn v02_tile_jobs_need_tile_size_and_tile_processor() {
    let mut c = v02_skeleton();
    c["ingest_job"]["ingest_type"] = json!("tile");
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"tile_size\" required for tile ingest jobs.",
            "\"client\": \"tile_processor\" required for tile ingest jobs."
        ]
    );
}

#[test]
fn v02_schema_requires_ingest_type() {
    assert_eq!(
        problems(&v02_skeleton()),
        ["\"ingest_job\": \"ingest_type\" is a required property."]
    );
}

#[test]
fn v02_ingest_type_enum() {
    let mut c = volumetric();
    c["ingest_job"]["ingest_type"] = json!("cubes");
    assert_eq!(
        problems(&c),
        ["\"ingest_job\": \"ingest_type\": \"cubes\" is not one of \"tile\" or \"volumetric\"."]
    );
}

#[test]
fn v01_schema_requires_tile_processor_and_tile_size() {
    let mut c = v01_example();
    c["client"]
        .as_object_mut()
        .unwrap()
        .remove("tile_processor");
    c["ingest_job"].as_object_mut().unwrap().remove("tile_size");
    assert_eq!(
        problems(&c),
        [
            "\"client\": \"tile_processor\" is a required property.",
            "\"ingest_job\": \"tile_size\" is a required property."
        ]
    );
}

#[test]
fn schema_type_errors_name_the_key() {
    let mut c = v01_example();
    c["ingest_job"]["extent"]["x"] = json!([0, "8192"]);
    c["database"]["channel"] = json!(7);
    assert_eq!(
        problems(&c),
        [
            "\"database\": \"channel\": 7 is not of type \"string\".",
            "\"ingest_job\": \"extent\": \"x\"[1]: \"8192\" is not of type \"integer\"."
        ]
    );
}

#[test]
fn missing_top_level_section() {
    let mut c = v01_example();
    c.as_object_mut().unwrap().remove("database");
    assert_eq!(problems(&c), ["\"database\" is a required property."]);
}

#[test]
fn unknown_schema_and_validator() {
    let mut c = v01_example();
    c["schema"]["name"] = json!("boss-v9-schema");
    assert_eq!(
        problems(&c),
        [
            "\"schema\": \"name\" must be \"boss-v0.1-schema\" or \"boss-v0.2-schema\", got \
          \"boss-v9-schema\"."
        ]
    );
    let mut c = v01_example();
    c["schema"]["validator"] = json!("Nope");
    assert_eq!(
        problems(&c),
        [
            "\"schema\": \"validator\" must be \"BossValidatorV01\" or \"BossValidatorV02\", got \
          \"Nope\"."
        ]
    );
    assert_eq!(
        problems(&json!([1, 2])),
        [
            "\"schema\": \"name\" must be \"boss-v0.1-schema\" or \"boss-v0.2-schema\", got \
          nothing."
        ]
    );
}

#[test]
fn v01_validator_has_no_type_rules() {
    // A v0.2 config naming BossValidatorV01 is checked by the schema alone, as the service does.
    let mut c = v02_skeleton();
    c["schema"]["validator"] = json!("BossValidatorV01");
    c["ingest_job"]["ingest_type"] = json!("volumetric");
    c["ingest_job"]["chunk_size"] = json!({"x": 1000, "y": 1024, "z": 64});
    assert!(validate(&c).is_ok());
}

#[test]
fn impossible_geometry_is_refused() {
    let mut c = v01_example();
    c["ingest_job"]["extent"]["x"] = json!([5]);
    c["ingest_job"]["extent"]["y"] = json!([-1, 10]);
    c["ingest_job"]["tile_size"]["x"] = json!(0);
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"extent\": \"x\" must be [start, stop], got [5].",
            "\"ingest_job\": \"extent\": \"y\" is [-1,10]: coordinates cannot be negative.",
            "\"ingest_job\": \"tile_size\": \"x\" must be positive, got 0."
        ]
    );
}

#[test]
fn extent_warnings() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] =
        json!({"x": [0, 2048], "y": [0, 2048, 7], "z": [0, 40], "t": [0, 0]});
    c["ingest_job"]["tile_size"] = json!({"x": 1024, "y": 1024, "z": 16, "t": 2});
    assert_eq!(
        validate(&c).unwrap().warnings,
        [
            "\"ingest_job\": \"extent\": \"y\" has 3 values; the service uses the first two \
             as [start, stop] and ignores the rest.",
            "\"ingest_job\": \"extent\": \"t\" is [0, 0]: start must be less than stop, or \
             the job has nothing to upload (use [0, 1] for data without time points).",
            "\"ingest_job\": \"tile_size\": \"z\" is 16; tiles are single slices and the \
             service uses 1.",
            "\"ingest_job\": \"tile_size\": \"t\" is 2; the service makes one tile per time \
             point and uses 1.",
        ]
    );
}

#[test]
fn tile_jobs_bossdb_would_misplace_are_refused_but_the_service_accepts_them() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] =
        json!({"x": [100, 2048], "y": [0, 2048], "z": [5, 40], "t": [0, 1]});
    c["ingest_job"]["tile_size"] = json!({"x": 1000, "y": 1024, "z": 1, "t": 1});
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"extent\": \"z\" starts at 5, which is not a multiple of 16: BossDB \
             stores slices in blocks of 16 from z = 0 and would put slice 5 at z = 0. Start the \
             extent at a multiple of 16.",
            "\"ingest_job\": \"extent\": \"x\" starts at 100, which is not a multiple of \
             \"tile_size\": \"x\" (1000): BossDB places tile i at x = i × 1000, so the data would \
             move by 100 voxels. Start the extent at a multiple of the tile size.",
            "\"ingest_job\": \"tile_size\": \"x\" is 1000, which is not a multiple of 512: BossDB \
             places tile i at x = i × 1024 (whole 512-voxel cuboids), which would leave gaps of 24 \
             voxels between tiles. Use a tile size that is a multiple of 512.",
        ]
    );
    // The real service takes the job (and then scrambles it): the simulator must too.
    assert!(service_rules(&c).is_ok());
}

#[test]
fn a_single_tile_of_any_size_is_placed_right() {
    let mut c = v01_example();
    c["ingest_job"]["extent"] = json!({"x": [0, 700], "y": [0, 300], "z": [0, 16], "t": [0, 1]});
    c["ingest_job"]["tile_size"] = json!({"x": 700, "y": 300, "z": 1, "t": 1});
    assert_eq!(validate(&c).unwrap().warnings, Vec::<String>::new());
    c["ingest_job"]["extent"]["y"] = json!([0, 301]);
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"tile_size\": \"y\" is 300, which is not a multiple of 512: BossDB \
             places tile i at y = i × 512 (whole 512-voxel cuboids), which would leave gaps of 212 \
             voxels between tiles. Use a tile size that is a multiple of 512."
        ]
    );
}

#[test]
fn volumetric_jobs_bossdb_would_misplace_are_refused() {
    let mut c = volumetric();
    c["ingest_job"]["extent"] =
        json!({"x": [256, 2048], "y": [0, 2048], "z": [8, 64], "t": [0, 2]});
    assert_eq!(
        problems(&c),
        [
            "\"ingest_job\": \"extent\": \"x\" starts at 256, which is not a multiple of \
             \"chunk_size\": \"x\" (1024): the Boss files chunk i under the cuboids of x = 256 + i \
             × 1024 while its voxels are read from x = i × 1024, so the data would move by 256 \
             voxels. Start the extent at a multiple of the chunk size.",
            "\"ingest_job\": \"extent\": \"z\" starts at 8, which is not a multiple of \
             \"chunk_size\": \"z\" (64): the Boss files chunk i under the cuboids of z = 8 + i × \
             64 while its voxels are read from z = i × 64, so the data would move by 8 voxels. \
             Start the extent at a multiple of the chunk size.",
            "\"ingest_job\": \"extent\": \"t\" is [0, 2]: the Boss makes volumetric upload \
             messages for t = 0 only, and a job with more time points fails while it is \
             prepared. Use [0, 1].",
        ]
    );
    assert!(service_rules(&c).is_ok());
}

#[test]
fn plugin_key_and_unknown_keys_are_kept_or_ignored() {
    let mut c = v01_example();
    c["client"]["tile_processor"]["plugin"] = json!("mylib");
    c["client"]["tile_processor"]["comment"] = json!("ignored");
    let v = validate(&c).unwrap();
    let tp = v.config.client.tile_processor.unwrap();
    assert_eq!(tp.plugin.as_deref(), Some("mylib"));
}

#[test]
fn invalid_displays_one_problem_per_line() {
    let e = Invalid {
        problems: vec!["a.".into(), "b.".into()],
    };
    assert_eq!(e.to_string(), "a.\nb.");
}
