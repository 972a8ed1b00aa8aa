//! Tile jobs (spec §4.1): each upload message names one tile; its encoded image goes to the tile
//! bucket under the tile key, with `message_id`, `receipt_handle` and `metadata` as S3 user
//! metadata, and the same metadata JSON is then sent to the tile-index queue.

use std::sync::Arc;

use boss_protocol::keys::TileKey;
use boss_protocol::messages::{
    TileUploadMessage, META_MESSAGE_ID, META_METADATA, META_RECEIPT_HANDLE,
};

use super::job::{IncompleteJoin, Job, MetadataTooLarge, ObjectMetadata};
use super::kind::{Delivery, Index, Kind, Object, Upload};
use super::quarantine::FailedTile;
use super::source::{Failure, Produced, TileSource};
use super::{receive, Options};
use crate::backend::Join;

/// A tile job's messages, uploaded from a tile source.
pub struct Tiles {
    job: Job,
    source: Arc<dyn TileSource>,
    tile_bucket: Arc<str>,
    tile_index_queue: Arc<str>,
    /// Tile width and height in voxels (`x_size`/`y_size` of the metadata).
    tile_size: (u64, u64),
}

/// One tile's upload message.
pub struct TileItem {
    pub message: TileUploadMessage,
    pub tile: TileKey,
}

impl Tiles {
    /// A tile job from its join answer.
    pub fn from_join(
        join: &Join,
        tile_size: (u64, u64),
        source: Arc<dyn TileSource>,
    ) -> Result<Tiles, IncompleteJoin> {
        let r = &join.response;
        let tile_index_queue = Job::need(
            join,
            &r.ingest_job.tile_index_queue,
            "tile index queue",
            "tile",
        )?;
        let tile_bucket = Job::need(join, &r.tile_bucket_name, "tile bucket name", "tile")?;
        Ok(Tiles {
            job: Job::from_join(join, "tile")?,
            source,
            tile_bucket: tile_bucket.into(),
            tile_index_queue: tile_index_queue.into(),
            tile_size,
        })
    }
}

impl Kind for Tiles {
    type Item = TileItem;
    type Payload = Produced;

    const NOUN: &'static str = "tile";
    const OBJECT: &'static str = "tile";
    const PRODUCER: &'static str = "the tile processor";

    fn job(&self) -> &Job {
        &self.job
    }

    /// Enough tiles to keep every worker and upload busy while a receive of 10 is under way,
    /// few enough that all finish well inside the 120 s visibility timeout.
    fn pipeline(&self, options: &Options) -> (usize, usize) {
        let capacity = options.workers * 4 + 20;
        (capacity, receive::BATCH.min(capacity))
    }

    fn parse(
        &self,
        body: &str,
        message_id: &str,
        receives: u32,
    ) -> Result<TileItem, Box<FailedTile>> {
        let message: TileUploadMessage = serde_json::from_str(body).map_err(|e| {
            Box::new(FailedTile::tile(
                &format!("(message {message_id})"),
                "",
                None,
                None,
                format!("the upload message is not a tile message ({e}): {body}"),
                receives,
            ))
        })?;
        match TileKey::parse(&message.tile_key) {
            Ok(tile) => Ok(TileItem { message, tile }),
            Err(e) => Err(Box::new(FailedTile::tile(
                &message.tile_key,
                &message.chunk_key,
                None,
                None,
                format!("the tile key cannot be read: {e}"),
                receives,
            ))),
        }
    }

    fn key(item: &TileItem) -> &str {
        &item.message.tile_key
    }

    fn describe(item: &TileItem) -> String {
        let t = &item.tile;
        format!("tile x{} y{} z{} t{}", t.x, t.y, t.z, t.t)
    }

    fn failed(item: &TileItem, file: Option<String>, error: String, receives: u32) -> FailedTile {
        FailedTile::tile(
            &item.message.tile_key,
            &item.message.chunk_key,
            Some(&item.tile),
            file,
            error,
            receives,
        )
    }

    fn produce(&self, item: &TileItem) -> Result<Produced, Failure> {
        let t = &item.tile;
        self.source.tile(t.x, t.y, t.z, t.t)
    }

    fn upload(
        &self,
        item: &TileItem,
        delivery: &Delivery,
        produced: Produced,
    ) -> Result<Upload, MetadataTooLarge> {
        let (chunk_key, tile_key) = (&item.message.chunk_key, &item.message.tile_key);
        let body = self.job.tile_metadata(chunk_key, tile_key, self.tile_size);
        let meta = ObjectMetadata::new(
            &delivery.message_id,
            &delivery.receipt_handle,
            body.clone(),
            tile_key,
        )?;
        Ok(Upload {
            bucket: self.tile_bucket.clone(),
            metadata: Arc::new(vec![
                (META_MESSAGE_ID, meta.message_id),
                (META_RECEIPT_HANDLE, meta.receipt_handle),
                (META_METADATA, meta.metadata),
            ]),
            objects: vec![Object {
                key: tile_key.clone(),
                bytes: produced.bytes,
            }],
            index: Some(Index {
                queue: self.tile_index_queue.clone(),
                body,
            }),
            file: produced.file,
            black: produced.black,
            cuboids: 0,
        })
    }
}
