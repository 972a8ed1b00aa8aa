//! Upload queues hold exactly the service's messages (spec §3): bodies, key strings and counts.

use super::{drain, tile_config, volumetric_config, Api};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use boss_protocol::keys::{CuboidKey, LookupIds, TileChunkKey, TileKey, VolumetricChunkKey};

const IDS: LookupIds = LookupIds {
    collection: 7,
    experiment: 12,
    channel: 33,
};

async fn a_tile_job_queue_holds_one_message_per_tile(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    // 2 × 1 tiles of 1024, z = [0, 40): chunks of 16, 16 and 8 slices.
    let config = tile_config(&sim, "ch", [0, 2048], [0, 1024], [0, 40], 1024);
    let id = api.create_ok(&config).await;
    let (join, creds) = api.join_uploading(id).await;
    assert_eq!(join.ingest_job.tile_count, Some(80));
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let ingest = join.ingest_job.ingest_queue.clone().unwrap();
    let mut bodies = drain(&sim.sqs(&creds.access_key, &creds.secret_key), &upload).await;
    bodies.sort();

    let mut expected = Vec::new();
    for z0 in [0u64, 16, 32] {
        let num_tiles = 16.min(40 - z0);
        for x in 0..2 {
            let chunk = TileChunkKey {
                num_tiles,
                ids: IDS,
                resolution: 0,
                x,
                y: 0,
                z: z0 / 16,
                t: 0,
            }
            .key();
            for z in z0..z0 + num_tiles {
                let tile = TileKey {
                    ids: IDS,
                    resolution: 0,
                    x,
                    y: 0,
                    z,
                    t: 0,
                }
                .key();
                expected.push(format!(
                    "{{\"job_id\": {id}, \"upload_queue_arn\": \"{upload}\", \"ingest_queue_arn\": \"{ingest}\", \"chunk_key\": \"{chunk}\", \"tile_key\": \"{tile}\"}}"
                ));
            }
        }
    }
    expected.sort();
    assert_eq!(bodies.len(), 80);
    assert_eq!(bodies, expected);
    // The spec's own vector is among them: tile (1, 0, 5) in chunk 0 of x tile 1.
    assert!(bodies.iter().any(|b| b.contains("\"tile_key\": \"")
        && b.contains(
            &TileKey {
                ids: IDS,
                resolution: 0,
                x: 1,
                y: 0,
                z: 5,
                t: 0
            }
            .key()
        )));
    let last_chunk = TileChunkKey {
        num_tiles: 8,
        ids: IDS,
        resolution: 0,
        x: 1,
        y: 0,
        z: 2,
        t: 0,
    }
    .key();
    assert_eq!(bodies.iter().filter(|b| b.contains(&last_chunk)).count(), 8);
}

async fn a_volumetric_job_queue_holds_one_message_per_chunk(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    // Chunks of 1024 × 1024 × 64 over x = [0, 1500): two chunks, the second partial.
    let config = volumetric_config(&sim, "ch", [0, 1500], [0, 1024], [0, 64], [1024, 1024, 64]);
    let id = api.create_ok(&config).await;
    let (join, creds) = api.join_uploading(id).await;
    assert_eq!(join.ingest_job.tile_count, Some(2));
    assert_eq!(join.ingest_job.ingest_type.map(|t| t.code()), Some(1));
    let mut bodies = drain(
        &sim.sqs(&creds.access_key, &creds.secret_key),
        join.ingest_job.upload_queue.as_deref().unwrap(),
    )
    .await;
    bodies.sort();
    let mut expected = Vec::new();
    for chunk_x in 0..2u64 {
        let chunk = VolumetricChunkKey {
            ids: IDS,
            resolution: 0,
            x: chunk_x,
            y: 0,
            z: 0,
        }
        .key();
        let mut cuboids = Vec::new();
        for cz in (0..64).step_by(16) {
            for cy in (0..1024).step_by(512) {
                for cx in (0..1024).step_by(512) {
                    let key = CuboidKey {
                        ids: IDS,
                        resolution: 0,
                        t: 0,
                        x: (chunk_x * 1024 + cx) / 512,
                        y: cy / 512,
                        z: cz / 16,
                    }
                    .key();
                    cuboids.push(format!(
                        "{{\"x\": {cx}, \"y\": {cy}, \"z\": {cz}, \"key\": \"{key}\"}}"
                    ));
                }
            }
        }
        expected.push(format!(
            "{{\"chunk_key\": \"{chunk}\", \"cuboids\": [{}]}}",
            cuboids.join(", ")
        ));
    }
    expected.sort();
    assert_eq!(bodies, expected);
    assert!(bodies
        .iter()
        .any(|b| b
            .contains("\"chunk_key\": \"82b790a738e8771cded25e06d53c16a9&1&7&12&33&0&1&0&0&0\"")));
    assert!(bodies.iter().any(|b| b.contains("{\"x\": 0, \"y\": 0, \"z\": 16, \"key\": \"4799502c516102c9ff62aa7e7a637b63&7&12&33&0&0&12\"}")));
}

/// Tile jobs step t by 1 whatever `tile_size.t` says (`tile_count` still divides by it);
/// volumetric jobs get messages for t = 0 only, so a volumetric job over two time points fails
/// the service's count check and never leaves PREPARING.
async fn time_points_as_the_service_generates_them(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let mut tiles = tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512);
    tiles["ingest_job"]["extent"]["t"] = serde_json::json!([0, 2]);
    tiles["ingest_job"]["tile_size"]["t"] = serde_json::json!(2);
    let (status, created) = api.create(&tiles).await;
    assert_eq!(
        (status, created["tile_count"].clone()),
        (201, 1.into()),
        "{created}"
    );
    let id = created["id"].as_u64().unwrap();
    let (join, creds) = api.join_uploading(id).await;
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let bodies = drain(&sim.sqs(&creds.access_key, &creds.secret_key), &upload).await;
    let mut ts: Vec<u64> = bodies
        .iter()
        .map(|b| {
            let m: serde_json::Value = serde_json::from_str(b).unwrap();
            TileKey::parse(m["tile_key"].as_str().unwrap()).unwrap().t
        })
        .collect();
    ts.sort();
    assert_eq!(ts, [0, 1]);

    let mut volume = volumetric_config(&sim, "ch", [0, 512], [0, 512], [0, 16], [512, 512, 16]);
    volume["ingest_job"]["extent"]["t"] = serde_json::json!([0, 2]);
    let (status, created) = api.create(&volume).await;
    assert_eq!(
        (status, created["tile_count"].clone()),
        (201, 2.into()),
        "{created}"
    );
    let id = created["id"].as_u64().unwrap();
    let refused = serde_json::json!({"status": 400, "code": 9001, "message": format!(
        "Error generating ingest job messages Delete the ingest job with id {id} and try again."
    )});
    let mut answer = api.join(id).await;
    for _ in 0..100 {
        if answer.0 != 200 {
            break;
        }
        assert_eq!(answer.1["ingest_job"]["status"], 0, "{}", answer.1);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        answer = api.join(id).await;
    }
    assert_eq!(answer, (400, refused));
}

on_both_backends!(
    a_tile_job_queue_holds_one_message_per_tile,
    a_volumetric_job_queue_holds_one_message_per_chunk,
    time_points_as_the_service_generates_them,
);
