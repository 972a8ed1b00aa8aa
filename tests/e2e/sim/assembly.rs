//! The service side: tiles uploaded with the AWS SDK through the front door are indexed,
//! assembled into cuboids and read back exactly through the cutout API. What the lambdas do with
//! a client's slips is reproduced: a tile without `message_id`/`receipt_handle` aborts its chunk,
//! a chunk none of whose tiles was indexed is never seen by the completion scan (counted as lost
//! on BossDB), undecodable tiles become black with a tile-error message, and volumetric cuboids
//! are checked for size.

use super::{moto_sqs, tile_config, volumetric_config, Api};
use crate::support::data::{voxel, Dtype};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::Message;
use boss_protocol::api::Credentials;
use boss_protocol::cuboid;
use boss_protocol::keys::TileKey;
use boss_protocol::messages::{to_compact_json, TileMetadata, TileUploadMessage, UploadParameters};
use serde_json::json;
use std::io::Cursor;
use std::time::Duration;

/// How a test uploads one tile.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Upload {
    /// As the protocol says: metadata, index message, delete.
    Proper,
    /// Without the `message_id`/`receipt_handle` metadata the service needs.
    NoMessageMetadata,
    /// Stored, but the upload message is deleted without a tile-index message.
    NotIndexed,
    /// Bytes no decoder reads.
    Garbage,
}

/// A PNG of tile (x, y) of slice z with the data-set voxel pattern.
pub fn tile_png(dtype: Dtype, tile: u64, x: u64, y: u64, z: u64) -> Vec<u8> {
    let (ox, oy) = (x * tile, y * tile);
    let mut out = Cursor::new(Vec::new());
    match dtype {
        Dtype::U8 => image::GrayImage::from_fn(tile as u32, tile as u32, |px, py| {
            image::Luma([voxel(dtype, ox + px as u64, oy + py as u64, z) as u8])
        })
        .write_to(&mut out, image::ImageFormat::Png),
        Dtype::U16 => image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(
            tile as u32,
            tile as u32,
            |px, py| image::Luma([voxel(dtype, ox + px as u64, oy + py as u64, z) as u16]),
        )
        .write_to(&mut out, image::ImageFormat::Png),
        other => unreachable!("test tiles are uint8 or uint16, not {other}"),
    }
    .expect("encode PNG");
    out.into_inner()
}

/// A tile job's client side driven with the AWS SDK: its queues, bucket and parameters from a
/// join, and the steps of protocol §4.1 one by one, so a test can leave one out or change it.
pub struct TileClient {
    pub job: u64,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub upload: String,
    pub index: String,
    pub bucket: String,
    pub parameters: UploadParameters,
}

impl TileClient {
    pub fn new(sim: &SimHandle, join: &super::SimJoin, creds: &Credentials) -> TileClient {
        let upload = join.ingest_job.upload_queue.clone().unwrap();
        TileClient {
            job: join.ingest_job.id,
            sqs: sim.sqs(&creds.access_key, &creds.secret_key),
            s3: sim.s3(&creds.access_key, &creds.secret_key),
            index: join.ingest_job.tile_index_queue.clone().unwrap(),
            bucket: join.tile_bucket_name.clone().unwrap(),
            parameters: UploadParameters {
                upload_queue: upload.clone(),
                ingest_queue: join.ingest_job.ingest_queue.clone(),
                KVIO_SETTINGS: join.raw["KVIO_SETTINGS"].clone(),
                STATEIO_CONFIG: join.raw["STATEIO_CONFIG"].clone(),
                OBJECTIO_CONFIG: join.raw["OBJECTIO_CONFIG"].clone(),
                resource: join.raw["resource"].clone(),
            },
            upload,
        }
    }

    /// Up to 10 upload messages (no wait).
    pub async fn receive(&self) -> Vec<Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.upload)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive upload messages")
            .messages
            .unwrap_or_default()
    }

    /// The compact JSON of a tile's `metadata`, as a client sends it.
    pub fn metadata(&self, message: &TileUploadMessage, tile: u64) -> String {
        to_compact_json(&TileMetadata {
            chunk_key: message.chunk_key.clone(),
            tile_key: message.tile_key.clone(),
            ingest_job: self.job,
            parameters: self.parameters.clone(),
            x_size: tile,
            y_size: tile,
        })
    }

    /// PutObject of a tile with `metadata`, and `message_id`/`receipt_handle` of `receipt`.
    pub async fn put(&self, key: &str, body: Vec<u8>, metadata: &str, receipt: Option<&Message>) {
        let mut put = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body))
            .metadata("metadata", metadata);
        if let Some(m) = receipt {
            put = put
                .metadata("message_id", m.message_id().unwrap())
                .metadata("receipt_handle", m.receipt_handle().unwrap());
        }
        put.send().await.expect("put tile");
    }

    pub async fn index(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.index)
            .message_body(body)
            .send()
            .await
            .expect("index tile");
    }

    pub async fn delete(&self, m: &Message) {
        self.sqs
            .delete_message()
            .queue_url(&self.upload)
            .receipt_handle(m.receipt_handle().unwrap())
            .send()
            .await
            .expect("delete upload message");
    }
}

/// Works through the whole upload queue as a client would; `how` decides per tile key.
pub async fn upload_all(
    sim: &SimHandle,
    join: &super::SimJoin,
    creds: &Credentials,
    dtype: Dtype,
    tile: u64,
    how: impl Fn(&TileKey) -> Upload,
) -> usize {
    let client = TileClient::new(sim, join, creds);
    let mut done = 0;
    loop {
        let messages = client.receive().await;
        if messages.is_empty() {
            return done;
        }
        for m in messages {
            let msg: TileUploadMessage = serde_json::from_str(m.body().unwrap()).unwrap();
            let key = TileKey::parse(&msg.tile_key).unwrap();
            let mode = how(&key);
            let body = match mode {
                Upload::Garbage => b"not an image".to_vec(),
                _ => tile_png(dtype, tile, key.x, key.y, key.z),
            };
            let text = client.metadata(&msg, tile);
            let receipt = (mode != Upload::NoMessageMetadata).then_some(&m);
            client.put(&msg.tile_key, body, &text, receipt).await;
            if mode != Upload::NotIndexed {
                client.index(&text).await;
            }
            client.delete(&m).await;
            done += 1;
        }
    }
}

/// Drives complete until the job is COMPLETE or back to UPLOADING; returns the final state.
pub async fn finish(api: &Api<'_>, id: u64) -> String {
    for _ in 0..600 {
        let (status, body) = api.complete(id).await;
        if status == 204 {
            return "COMPLETE".into();
        }
        if status == 400 && body["message"] == "Upload queue is not empty" {
            return "UPLOADING".into();
        }
        if body["job_status"] == json!(5) {
            let stats = api.sim.stats(id).await;
            if stats["state"] == "UPLOADING" {
                return "UPLOADING".into();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} never finished: {}", api.sim.stats(id).await);
}

/// Polls the job's counters until `field` is `want`.
pub async fn wait_for_stat(sim: &SimHandle, id: u64, field: &str, want: u64) -> serde_json::Value {
    for _ in 0..100 {
        let stats = sim.stats(id).await;
        if stats[field] == json!(want) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{field} of job {id} never became {want}: {}",
        sim.stats(id).await
    );
}

async fn tiles_assemble_into_cuboids_that_read_back_exactly(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 0.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    // 2 x-tiles of 512, 20 slices: chunks of 16 + 4 slices, uint16 channel.
    let id = api
        .create_ok(&tile_config(
            &sim,
            "ch16",
            [0, 1024],
            [0, 512],
            [0, 20],
            512,
        ))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    // One tile is stored without the metadata the tile-ingest lambda needs: its chunk is
    // abandoned (no write, the tile index keeps it), as on BossDB.
    let retried = TileKey {
        ids: "7&12&34".parse().unwrap(),
        resolution: 0,
        x: 1,
        y: 0,
        z: 17,
        t: 0,
    };
    let skipped = |k: &TileKey| {
        if *k == retried {
            Upload::NoMessageMetadata
        } else {
            Upload::Proper
        }
    };
    assert_eq!(
        upload_all(&sim, &join, &creds, Dtype::U16, 512, skipped).await,
        40
    );
    wait_for_stat(&sim, id, "chunks_aborted", 1).await;
    let stats = wait_for_stat(&sim, id, "chunks_assembled", 3).await;
    assert_eq!(stats["tiles_stored"], json!(39));
    assert_eq!(stats["tiles_missing_metadata"], json!(1));

    // Storing the tile again with its metadata lets the scan's re-sent chunk through.
    let metadata = json!({"chunk_key": "", "tile_key": retried.key(), "ingest_job": id,
                          "x_size": 512, "y_size": 512});
    sim.s3(&creds.access_key, &creds.secret_key)
        .put_object()
        .bucket(join.tile_bucket_name.as_deref().unwrap())
        .key(retried.key())
        .body(ByteStream::from(tile_png(Dtype::U16, 512, 1, 0, 17)))
        .metadata("metadata", metadata.to_string())
        .metadata("message_id", "re-sent")
        .metadata("receipt_handle", "re-sent")
        .send()
        .await
        .expect("put tile again");
    assert_eq!(finish(&api, id).await, "COMPLETE");
    let stats = sim.stats(id).await;
    assert_eq!(stats["chunks_aborted"], json!(1));
    assert_eq!(stats["tiles_reenqueued"], json!(0));
    assert_eq!(stats["chunks_aborted"], json!(1));
    assert_eq!(stats["chunks_lost_on_bossdb"], json!(0));
    let retried = retried.key();
    let puts = sim.tile_puts(id).await;
    assert_eq!(puts.len(), 40);
    assert!(
        puts.iter()
            .all(|(k, n)| *n == if *k == retried { 2 } else { 1 }),
        "{puts:?}"
    );
    let stats = sim.stats(id).await;
    assert_eq!(stats["chunks_assembled"], json!(4));
    assert_eq!(stats["cuboids_stored"], json!(4));
    assert_eq!(stats["tile_errors"], json!(0));
    assert_eq!(stats["duplicate_tiles"], json!(0));

    let stack = crate::support::data::Stack {
        dir: std::path::PathBuf::new(),
        prefix: String::new(),
        format: crate::support::data::Format::Png,
        dtype: Dtype::U16,
        width: 1024,
        height: 512,
    };
    let (x, y, z) = ((0, 1024), (0, 512), (0, 20));
    assert!(
        api.cutout_raw("ch16", x, y, z).await == stack.expected_box(x, y, z),
        "cutout differs from the uploaded tiles"
    );
    // Never-written voxels are 0; the blosc answer decompresses to the same bytes.
    let beyond = api.cutout_raw("ch16", (1000, 1030), (0, 2), (19, 21)).await;
    let expected: Vec<u8> = (19..21u64)
        .flat_map(|zz| (0..2u64).flat_map(move |yy| (1000..1030u64).map(move |xx| (xx, yy, zz))))
        .flat_map(|(xx, yy, zz)| {
            let v = if xx < 1024 && zz < 20 {
                voxel(Dtype::U16, xx, yy, zz)
            } else {
                0
            };
            (v as u16).to_le_bytes()
        })
        .collect();
    assert_eq!(beyond, expected);
    let blosc = reqwest::Client::new()
        .get(format!(
            "{}/v1/cutout/col/exp/ch16/0/0:1024/0:512/0:20/",
            sim.api
        ))
        .header("Authorization", format!("Token {}", sim.token))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(cuboid::decompress(&blosc).unwrap() == stack.expected_box(x, y, z));
}

/// A client that deletes upload messages without indexing their tiles: the completion scan only
/// looks at chunks in the tile index, so a chunk none of whose tiles was indexed is never
/// noticed and the job completes without it — counted here as lost on BossDB.
async fn a_chunk_never_indexed_is_lost_and_counted(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 0.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 1024], [0, 512], [0, 16], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let unindexed = |k: &TileKey| {
        if k.x == 1 {
            Upload::NotIndexed
        } else {
            Upload::Proper
        }
    };
    assert_eq!(
        upload_all(&sim, &join, &creds, Dtype::U8, 512, unindexed).await,
        32
    );
    assert_eq!(finish(&api, id).await, "COMPLETE");
    let stats = sim.stats(id).await;
    assert_eq!(stats["tiles_stored"], json!(32), "{stats}");
    assert_eq!(stats["chunks_assembled"], json!(1), "{stats}");
    assert_eq!(stats["tiles_reenqueued"], json!(0), "{stats}");
    assert_eq!(stats["chunks_lost_on_bossdb"], json!(1), "{stats}");
    let lost = api.cutout_raw("ch", (512, 1024), (0, 512), (0, 16)).await;
    assert!(
        lost.iter().all(|&v| v == 0),
        "the lost chunk reads as zeros"
    );
}

async fn an_undecodable_tile_is_stored_black_and_reported(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 0.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 2], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let bad = |k: &TileKey| {
        if k.z == 1 {
            Upload::Garbage
        } else {
            Upload::Proper
        }
    };
    upload_all(&sim, &join, &creds, Dtype::U8, 512, bad).await;
    assert_eq!(finish(&api, id).await, "COMPLETE");
    assert_eq!(sim.stats(id).await["tile_errors"], json!(1));
    let slice1 = api.cutout_raw("ch", (0, 512), (0, 512), (1, 2)).await;
    assert!(slice1.iter().all(|&v| v == 0), "the bad slice is black");
    let slice0 = api.cutout_raw("ch", (0, 4), (0, 1), (0, 1)).await;
    assert_eq!(
        slice0,
        (0..4)
            .map(|x| voxel(Dtype::U8, x, 0, 0) as u8)
            .collect::<Vec<_>>()
    );

    let moto_url = api.moto_url().await;
    let moto = moto_sqs(&moto_url);
    let queues = moto
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    let errors = queues
        .iter()
        .find(|q| q.ends_with(&format!("-{id}-tile-error")))
        .expect("tile-error queue stays after COMPLETE");
    let bodies = super::drain(&moto, errors).await;
    assert_eq!(bodies.len(), 1);
    let error: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    let tile_key = TileKey {
        ids: "7&12&33".parse().unwrap(),
        resolution: 0,
        x: 0,
        y: 0,
        z: 1,
        t: 0,
    }
    .key();
    assert_eq!(error["tile_key"], json!(tile_key));
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot decode tile"),
        "{error}"
    );
}

async fn volumetric_cuboids_are_checked_and_stored(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let id = api
        .create_ok(&volumetric_config(
            &sim,
            "ch",
            [0, 512],
            [0, 512],
            [0, 16],
            [512, 512, 16],
        ))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    assert_eq!(join.ingest_job.tile_index_queue, None);
    assert_eq!(join.ingest_job.ingest_queue, None);
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    let bodies = super::drain(&sqs, join.ingest_job.upload_queue.as_deref().unwrap()).await;
    let msg: boss_protocol::messages::VolumetricUploadMessage =
        serde_json::from_str(&bodies[0]).unwrap();
    let key = &msg.cuboids[0].key;
    let s3 = sim.s3(&creds.access_key, &creds.secret_key);
    let bucket = join.ingest_bucket_name.clone().unwrap();
    let voxels: Vec<u8> = (0..cuboid::CUBOID_VOXELS)
        .map(|i| (i % 251) as u8)
        .collect();
    let metadata = json!({"ingest_job": id, "chunk_key": msg.chunk_key}).to_string();
    let put = |body: Vec<u8>, metadata: Option<&str>| {
        let request = s3
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(ByteStream::from(body));
        match metadata {
            Some(m) => request.metadata("metadata", m),
            None => request,
        }
        .send()
    };
    // First a cuboid of the wrong size (a client bug): rejected by the simulator's check.
    let short = cuboid::compress(&voxels[..1000], cuboid::Dtype::U8);
    put(short, Some(&metadata)).await.unwrap();
    let stats = sim.stats(id).await;
    assert_eq!(
        (
            stats["cuboid_errors"].clone(),
            stats["cuboids_stored"].clone()
        ),
        (json!(1), json!(0))
    );
    // A whole cuboid without `metadata.ingest_job`: cuboid_import_lambda fails on it.
    let good = cuboid::compress(&voxels, cuboid::Dtype::U8);
    put(good.clone(), None).await.unwrap();
    let stats = sim.stats(id).await;
    assert_eq!(
        (
            stats["cuboid_errors"].clone(),
            stats["cuboids_not_imported"].clone(),
            stats["cuboids_stored"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    put(good, Some(&metadata)).await.unwrap();
    assert_eq!(sim.stats(id).await["cuboids_stored"], json!(1));
    let back = api.cutout_raw("ch", (0, 512), (0, 512), (0, 16)).await;
    assert!(back == voxels, "cutout returns the uploaded cuboid");
}

on_both_backends!(
    tiles_assemble_into_cuboids_that_read_back_exactly,
    a_chunk_never_indexed_is_lost_and_counted,
    an_undecodable_tile_is_stored_black_and_reported,
    volumetric_cuboids_are_checked_and_stored,
);
