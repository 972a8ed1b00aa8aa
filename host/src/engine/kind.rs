//! What differs between a tile job and a volumetric job, and nothing else: how an upload message
//! reads, what the plugin stage makes of it, and which objects (and tile-index message) that
//! becomes. The stages — receive, produce, store, finish — are written once against [`Kind`];
//! [`Tiles`](super::tiles::Tiles) and [`Chunks`](super::chunks::Chunks) are its two
//! implementations, so no stage can meet a tile in a volumetric job.

use std::sync::Arc;

use super::job::{Job, MetadataTooLarge};
use super::quarantine::FailedTile;
use super::source::Failure;
use super::Options;

/// A kind of upload message and how its work is uploaded.
pub trait Kind: Send + Sync + 'static {
    /// A parsed upload message.
    type Item: Send + Sync + 'static;
    /// What the plugin stage made of an item (an encoded tile, a chunk's compressed cuboids).
    type Payload: Send + 'static;

    /// "tile" or "chunk", for messages.
    const NOUN: &'static str;
    /// What each stored object is, for messages ("tile", "cuboid").
    const OBJECT: &'static str;
    /// Who produces the payload, for messages ("the tile processor").
    const PRODUCER: &'static str;

    /// The job the messages belong to.
    fn job(&self) -> &Job;

    /// Messages held in the pipeline at once, and the fewest free slots worth a receive.
    fn pipeline(&self, options: &Options) -> (usize, usize);

    /// Reads a message body (`message_id` names it when it cannot be read: the line to
    /// quarantine it with).
    fn parse(
        &self,
        body: &str,
        message_id: &str,
        receives: u32,
    ) -> Result<Self::Item, Box<FailedTile>>;

    /// The key retries and the quarantine know an item by.
    fn key(item: &Self::Item) -> &str;

    /// "tile x1 y2 z3 t0", for logs.
    fn describe(item: &Self::Item) -> String;

    /// The failure report's line for an item given up on.
    fn failed(item: &Self::Item, file: Option<String>, error: String, receives: u32) -> FailedTile;

    /// Runs the plugins (on a blocking thread).
    fn produce(&self, item: &Self::Item) -> Result<Self::Payload, Failure>;

    /// The objects to store for an item and what to announce once they are stored.
    fn upload(
        &self,
        item: &Self::Item,
        message: &Delivery,
        payload: Self::Payload,
    ) -> Result<Upload, MetadataTooLarge>;
}

/// The SQS identity of a received message, which tile objects carry as metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    pub receipt_handle: String,
}

/// Everything one message uploads.
#[derive(Debug)]
pub struct Upload {
    pub bucket: Arc<str>,
    /// S3 user metadata, the same for every object of the message.
    pub metadata: Arc<Vec<(&'static str, String)>>,
    pub objects: Vec<Object>,
    /// The tile-index message sent once every object is stored; `None` for a volumetric chunk,
    /// which has nothing to index.
    pub index: Option<Index>,
    /// Where it came from, for reports.
    pub file: Option<String>,
    /// A black tile, or a chunk partly filled with zeros.
    pub black: bool,
    /// Cuboids among the objects (0 for a tile).
    pub cuboids: u64,
}

/// One object to store.
#[derive(Debug)]
pub struct Object {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// A tile-index message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Index {
    pub queue: Arc<str>,
    pub body: String,
}

/// What a job's upload messages are, in the words of the summary and the names of the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Tiles,
    Chunks,
}

impl Unit {
    pub fn plural(self) -> &'static str {
        match self {
            Unit::Tiles => "tiles",
            Unit::Chunks => "chunks",
        }
    }

    pub fn capitalised(self) -> &'static str {
        match self {
            Unit::Tiles => "Tiles",
            Unit::Chunks => "Chunks",
        }
    }
}
