//! The fields the Boss lambdas read from what a client sends, checked as the simulator checks
//! them: a tile-index message or tile object that lacks one, or has a wrong one, is counted and
//! its chunk is not ingested, as BossDB would lose or stall it. Each chunk of one job here gets
//! one such slip, crafted with the AWS SDK.

use super::assembly::{tile_png, wait_for_stat};
use super::{drain, tile_config, Api};
use crate::support::data::{voxel, Dtype};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use aws_sdk_s3::primitives::ByteStream;
use boss_protocol::keys::TileKey;
use serde_json::{json, Value};

/// What a chunk's one tile (x tile index = the slip's position) gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slip {
    None,
    IndexWithoutIngestJob,
    IndexForAnotherJob,
    IndexWithoutParameters,
    IndexForAnotherChannel,
    TileWithoutSizes,
    TileWithWrongSizes,
    TileWithoutReceipt,
}

const SLIPS: [Slip; 8] = [
    Slip::None,
    Slip::IndexWithoutIngestJob,
    Slip::IndexForAnotherJob,
    Slip::IndexWithoutParameters,
    Slip::IndexForAnotherChannel,
    Slip::TileWithoutSizes,
    Slip::TileWithWrongSizes,
    Slip::TileWithoutReceipt,
];

async fn what_the_lambdas_cannot_use_is_counted_and_not_ingested(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    // One slice of 8 tiles in x: 8 chunks of one tile each.
    let width = 512 * SLIPS.len() as u64;
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, width], [0, 512], [0, 1], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    let s3 = sim.s3(&creds.access_key, &creds.secret_key);
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let index = join.ingest_job.tile_index_queue.clone().unwrap();
    let parameters = json!({
        "upload_queue": upload,
        "ingest_queue": join.ingest_job.ingest_queue,
        "KVIO_SETTINGS": join.raw["KVIO_SETTINGS"],
        "STATEIO_CONFIG": join.raw["STATEIO_CONFIG"],
        "OBJECTIO_CONFIG": join.raw["OBJECTIO_CONFIG"],
        "resource": join.raw["resource"],
    });

    // Take the upload messages first, as a client that then works on them.
    let out = sqs
        .receive_message()
        .queue_url(&upload)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let messages = out.messages.unwrap_or_default();
    assert_eq!(messages.len(), SLIPS.len());
    for m in &messages {
        let body: Value = serde_json::from_str(m.body().unwrap()).unwrap();
        let tile_key = body["tile_key"].as_str().unwrap();
        let tile = TileKey::parse(tile_key).unwrap();
        let slip = SLIPS[tile.x as usize];
        let mut metadata = json!({
            "chunk_key": body["chunk_key"], "tile_key": tile_key, "ingest_job": id,
            "parameters": parameters, "x_size": 512, "y_size": 512,
        });
        let mut index_body = metadata.clone();
        let object = metadata.as_object_mut().unwrap();
        let message = index_body.as_object_mut().unwrap();
        match slip {
            Slip::None | Slip::TileWithoutReceipt => {}
            Slip::IndexWithoutIngestJob => {
                message.remove("ingest_job");
            }
            Slip::IndexForAnotherJob => {
                message.insert("ingest_job".into(), json!(id + 100));
            }
            Slip::IndexWithoutParameters => {
                message.remove("parameters");
            }
            Slip::IndexForAnotherChannel => {
                message["parameters"]["resource"]["lookup_key"] = json!("7&12&34");
            }
            Slip::TileWithoutSizes => {
                object.remove("x_size");
                object.remove("y_size");
            }
            Slip::TileWithWrongSizes => {
                object.insert("x_size".into(), json!(1024));
            }
        }
        let mut put = s3
            .put_object()
            .bucket(join.tile_bucket_name.as_deref().unwrap())
            .key(tile_key)
            .body(ByteStream::from(tile_png(Dtype::U8, 512, tile.x, 0, 0)))
            .metadata("metadata", metadata.to_string());
        if slip != Slip::TileWithoutReceipt {
            put = put
                .metadata("message_id", m.message_id().unwrap())
                .metadata("receipt_handle", m.receipt_handle().unwrap());
        }
        put.send().await.expect("put tile");
        sqs.send_message()
            .queue_url(&index)
            .message_body(index_body.to_string())
            .send()
            .await
            .expect("index tile");
        sqs.delete_message()
            .queue_url(&upload)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .expect("delete upload message");
    }
    assert!(drain(&sqs, &upload).await.is_empty());

    // Three chunks fail in the tile-ingest lambda (no parameters, no sizes, wrong sizes); each
    // is tried once within the queue's 120 s visibility timeout.
    for (name, want) in [
        ("chunk_ingest_errors", 3),
        ("chunks_aborted", 1),
        ("chunks_misdirected", 1),
        ("chunks_assembled", 1),
    ] {
        wait_for_stat(&sim, id, name, want).await;
    }
    let stats = sim.stats(id).await;
    let counters = [
        ("tiles_stored", 7),
        ("tiles_missing_metadata", 1),
        ("tiles_bad_metadata", 2),
        ("tile_index_rejected", 2),
        ("chunks_assembled", 1),
        ("chunk_ingest_errors", 3),
        ("chunks_aborted", 1),
        ("chunks_misdirected", 1),
        ("cuboids_stored", 1),
        // Rows stay for the chunks that failed or were abandoned.
        ("pending_chunks", 4),
    ];
    for (name, want) in counters {
        assert_eq!(stats[name], json!(want), "{name}: {stats}");
    }
    // Only the chunk without a slip holds data.
    let got = api.cutout_raw("ch", (0, width), (0, 1), (0, 1)).await;
    let want: Vec<u8> = (0..width)
        .map(|x| {
            if x < 512 {
                voxel(Dtype::U8, x, 0, 0) as u8
            } else {
                0
            }
        })
        .collect();
    assert!(got == want, "only chunk 0 was ingested into this channel");
}

on_both_backends!(what_the_lambdas_cannot_use_is_counted_and_not_ingested);
