//! The fields the Boss lambdas read from what a client sends, checked as the simulator checks
//! them: a tile-index message or tile object that lacks one, or has a wrong one, is counted and
//! its chunk is not ingested, as BossDB would lose or stall it. Each chunk of one job here gets
//! one such slip, crafted with the AWS SDK.

use super::assembly::{tile_png, wait_for_stat, TileClient};
use super::{tile_config, Api};
use crate::support::data::{voxel, Dtype};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use boss_protocol::keys::TileKey;
use boss_protocol::messages::TileUploadMessage;
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
    let client = TileClient::new(&sim, &join, &creds);

    // Take the upload messages first, as a client that then works on them.
    let messages = client.receive().await;
    assert_eq!(messages.len(), SLIPS.len());
    for m in &messages {
        let message: TileUploadMessage = serde_json::from_str(m.body().unwrap()).unwrap();
        let tile = TileKey::parse(&message.tile_key).unwrap();
        let slip = SLIPS[tile.x as usize];
        let mut metadata: Value = serde_json::from_str(&client.metadata(&message, 512)).unwrap();
        let mut index_body = metadata.clone();
        let object = metadata.as_object_mut().unwrap();
        let index = index_body.as_object_mut().unwrap();
        match slip {
            Slip::None | Slip::TileWithoutReceipt => {}
            Slip::IndexWithoutIngestJob => {
                index.remove("ingest_job");
            }
            Slip::IndexForAnotherJob => {
                index.insert("ingest_job".into(), json!(id + 100));
            }
            Slip::IndexWithoutParameters => {
                index.remove("parameters");
            }
            Slip::IndexForAnotherChannel => {
                index["parameters"]["resource"]["lookup_key"] = json!("7&12&34");
            }
            Slip::TileWithoutSizes => {
                object.remove("x_size");
                object.remove("y_size");
            }
            Slip::TileWithWrongSizes => {
                object.insert("x_size".into(), json!(1024));
            }
        }
        let body = tile_png(Dtype::U8, 512, tile.x, 0, 0);
        let receipt = (slip != Slip::TileWithoutReceipt).then_some(m);
        client
            .put(&message.tile_key, body, &metadata.to_string(), receipt)
            .await;
        client.index(&index_body.to_string()).await;
        client.delete(m).await;
    }
    assert!(client.receive().await.is_empty());

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
