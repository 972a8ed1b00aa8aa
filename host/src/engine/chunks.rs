//! Volumetric jobs (spec §4.3): each upload message names one chunk and the cuboids it covers.
//! The chunk is read, every cuboid the message lists is cut from it and compressed as the
//! service expects ([`boss_protocol::cuboid::compress`]), and each goes to the ingest bucket with
//! the chunk's `metadata`. Nothing is indexed; the message is deleted once every cuboid is
//! stored. The chunk's array is dropped as soon as its cuboids are compressed, so what waits for
//! upload is the compressed cuboids only.

use std::sync::Arc;

use boss_protocol::cuboid;
use boss_protocol::keys::VolumetricChunkKey;
use boss_protocol::messages::{VolumetricUploadMessage, META_METADATA};

use super::job::{IncompleteJoin, Job, MetadataTooLarge, ObjectMetadata};
use super::kind::{Delivery, Kind, Object, Upload};
use super::quarantine::FailedTile;
use super::source::{ChunkSource, Failure};
use super::Options;
use crate::backend::Join;

/// A volumetric job's messages, uploaded from a chunk source.
pub struct Chunks {
    job: Job,
    source: Arc<dyn ChunkSource>,
    ingest_bucket: Arc<str>,
}

/// One chunk's upload message.
pub struct ChunkItem {
    pub message: VolumetricUploadMessage,
    pub chunk: VolumetricChunkKey,
}

/// A chunk's compressed cuboids, in the message's order.
pub struct Cuboids {
    cuboids: Vec<Object>,
    file: Option<String>,
    /// The chunk was smaller than the extent covers (zero-filled).
    short: bool,
}

impl Chunks {
    /// A volumetric job from its join answer.
    pub fn from_join(join: &Join, source: Arc<dyn ChunkSource>) -> Result<Chunks, IncompleteJoin> {
        let ingest_bucket = Job::need(
            join,
            &join.response.ingest_bucket_name,
            "ingest bucket name",
            "volumetric",
        )?;
        Ok(Chunks {
            job: Job::from_join(join, "volumetric")?,
            source,
            ingest_bucket: ingest_bucket.into(),
        })
    }
}

impl Kind for Chunks {
    type Item = ChunkItem;
    type Payload = Cuboids;

    const NOUN: &'static str = "chunk";
    const OBJECT: &'static str = "cuboid";
    const PRODUCER: &'static str = "the chunk processor";

    fn job(&self) -> &Job {
        &self.job
    }

    /// A chunk is far larger than a tile: chunks are bounded by their own setting, and a receive
    /// takes whatever room there is (one chunk at a time if need be) instead of waiting for 10.
    fn pipeline(&self, options: &Options) -> (usize, usize) {
        (options.chunks_in_flight.max(1), 1)
    }

    fn parse(
        &self,
        body: &str,
        message_id: &str,
        receives: u32,
    ) -> Result<ChunkItem, Box<FailedTile>> {
        let message: VolumetricUploadMessage = serde_json::from_str(body).map_err(|e| {
            Box::new(FailedTile::chunk(
                &format!("(message {message_id})"),
                None,
                None,
                format!("the upload message is not a volumetric chunk message ({e}): {body}"),
                receives,
            ))
        })?;
        match VolumetricChunkKey::parse(&message.chunk_key) {
            Ok(chunk) => Ok(ChunkItem { message, chunk }),
            Err(e) => Err(Box::new(FailedTile::chunk(
                &message.chunk_key,
                None,
                None,
                format!("the chunk key cannot be read: {e}"),
                receives,
            ))),
        }
    }

    fn key(item: &ChunkItem) -> &str {
        &item.message.chunk_key
    }

    fn describe(item: &ChunkItem) -> String {
        let c = &item.chunk;
        format!("chunk x{} y{} z{}", c.x, c.y, c.z)
    }

    fn failed(item: &ChunkItem, file: Option<String>, error: String, receives: u32) -> FailedTile {
        FailedTile::chunk(
            &item.message.chunk_key,
            Some(&item.chunk),
            file,
            error,
            receives,
        )
    }

    fn produce(&self, item: &ChunkItem) -> Result<Cuboids, Failure> {
        let c = &item.chunk;
        let produced = self.source.chunk(c.x, c.y, c.z)?;
        let chunk = produced.chunk;
        let cuboids = item
            .message
            .cuboids
            .iter()
            .map(|at| Object {
                key: at.key.clone(),
                bytes: cuboid::compress(&chunk.cuboid(at.x, at.y, at.z), chunk.dtype()),
            })
            .collect();
        Ok(Cuboids {
            cuboids,
            file: produced.file,
            short: produced.short,
        })
    }

    fn upload(
        &self,
        item: &ChunkItem,
        _: &Delivery,
        payload: Cuboids,
    ) -> Result<Upload, MetadataTooLarge> {
        let first_key = payload.cuboids.first().map_or("", |c| c.key.as_str());
        let metadata =
            ObjectMetadata::cuboid(self.job.cuboid_metadata(&item.message.chunk_key), first_key)?;
        Ok(Upload {
            bucket: self.ingest_bucket.clone(),
            metadata: Arc::new(vec![(META_METADATA, metadata)]),
            cuboids: payload.cuboids.len() as u64,
            objects: payload.cuboids,
            index: None,
            file: payload.file,
            black: payload.short,
        })
    }
}
