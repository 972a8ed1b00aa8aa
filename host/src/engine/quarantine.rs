//! Tiles and chunks given up on. A tile or chunk that keeps failing would otherwise come back every
//! visibility timeout forever and keep the job from completing without anyone noticing. After a
//! bounded number of receives it is written to a JSON-lines failure report (one object per tile
//! or chunk: keys, indices, file, error, attempts) and this process skips it from then on. The
//! message itself stays in the queue, so nothing is lost: fixing the source and resuming the job
//! uploads it.
//!
//! A tile's line has its `tile_key` and the tile's indices; a volumetric chunk's line has no
//! `tile_key`, and its x/y/z are the chunk indices of its `chunk_key`.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One line of the failure report: a tile, or a chunk of a volumetric job.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FailedTile {
    /// `None` for a volumetric chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile_key: Option<String>,
    pub chunk_key: String,
    pub x: Option<u64>,
    pub y: Option<u64>,
    pub z: Option<u64>,
    pub t: Option<u64>,
    pub file: Option<String>,
    pub error: String,
    pub attempts: u32,
}

impl FailedTile {
    /// A tile's line (`tile` is `None` when its key could not be read).
    pub fn tile(
        tile_key: &str,
        chunk_key: &str,
        tile: Option<&boss_protocol::keys::TileKey>,
        file: Option<String>,
        error: String,
        attempts: u32,
    ) -> FailedTile {
        FailedTile {
            tile_key: Some(tile_key.to_string()),
            chunk_key: chunk_key.to_string(),
            x: tile.map(|t| t.x),
            y: tile.map(|t| t.y),
            z: tile.map(|t| t.z),
            t: tile.map(|t| t.t),
            file,
            error,
            attempts,
        }
    }

    /// A volumetric chunk's line (`chunk` is `None` when its key could not be read).
    pub fn chunk(
        chunk_key: &str,
        chunk: Option<&boss_protocol::keys::VolumetricChunkKey>,
        file: Option<String>,
        error: String,
        attempts: u32,
    ) -> FailedTile {
        FailedTile {
            tile_key: None,
            chunk_key: chunk_key.to_string(),
            x: chunk.map(|c| c.x),
            y: chunk.map(|c| c.y),
            z: chunk.map(|c| c.z),
            t: chunk.map(|_| 0),
            file,
            error,
            attempts,
        }
    }

    /// The key this process skips from now on: the tile key, else the chunk key.
    pub fn key(&self) -> &str {
        self.tile_key.as_deref().unwrap_or(&self.chunk_key)
    }

    /// "tile" or "chunk", for messages.
    pub fn what(&self) -> &'static str {
        if self.tile_key.is_some() {
            "tile"
        } else {
            "chunk"
        }
    }
}

/// The report file (created on the first quarantined tile or chunk) and the keys this process skips.
#[derive(Debug)]
pub struct Quarantine {
    path: PathBuf,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    file: Option<std::fs::File>,
    keys: HashSet<String>,
}

impl Quarantine {
    /// A quarantine that will write to `path` if it ever needs to.
    pub fn new(path: PathBuf) -> Quarantine {
        Quarantine {
            path,
            inner: Mutex::default(),
        }
    }

    /// The report's path (it exists only once a tile was quarantined).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process gave up on `key` (a tile key, or a volumetric chunk key).
    pub fn contains(&self, key: &str) -> bool {
        self.lock().keys.contains(key)
    }

    /// Records a tile or chunk; returns false if it was already quarantined. A report that cannot be
    /// written is an error: a quarantine nobody can read would hide the failure.
    pub fn add(&self, tile: &FailedTile) -> std::io::Result<bool> {
        let mut inner = self.lock();
        if inner.keys.contains(tile.key()) {
            return Ok(false);
        }
        if inner.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            inner.file = Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let mut line = serde_json::to_string(tile).map_err(std::io::Error::other)?;
        line.push('\n');
        let file = inner.file.as_mut().expect("opened just above");
        file.write_all(line.as_bytes())?;
        file.flush()?;
        inner.keys.insert(tile.key().to_string());
        Ok(true)
    }

    /// How many tiles or chunks were quarantined.
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether nothing was quarantined.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves only a set and a file handle behind, both
        // still usable; recover rather than poisoning every later tile.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(key: &str) -> FailedTile {
        FailedTile {
            tile_key: Some(key.into()),
            chunk_key: "ck".into(),
            x: Some(1),
            y: Some(2),
            z: Some(3),
            t: Some(0),
            file: Some("/data/slice3.png".into()),
            error: "No such file".into(),
            attempts: 5,
        }
    }

    #[test]
    fn report_is_json_lines_written_once_per_tile() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::new(dir.path().join("sub/failures.jsonl"));
        assert!(!q.path().exists());
        assert!(q.add(&failed("a")).unwrap());
        assert!(!q.add(&failed("a")).unwrap());
        assert!(q.add(&failed("b")).unwrap());
        assert!(q.contains("a") && q.contains("b") && !q.contains("c"));
        assert_eq!(q.len(), 2);
        let text = std::fs::read_to_string(q.path()).unwrap();
        let lines: Vec<FailedTile> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![failed("a"), failed("b")]);
        assert!(text.starts_with(
            r#"{"tile_key":"a","chunk_key":"ck","x":1,"y":2,"z":3,"t":0,"file":"/data/slice3.png","error":"No such file","attempts":5}"#
        ));
    }

    #[test]
    fn a_chunk_line_has_no_tile_key_and_is_known_by_its_chunk_key() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::new(dir.path().join("failures.jsonl"));
        let chunk = FailedTile::chunk("ck9", None, Some("/v".into()), "bad".into(), 3);
        assert!(q.add(&chunk).unwrap());
        assert!(q.contains("ck9"));
        assert_eq!((chunk.what(), chunk.key()), ("chunk", "ck9"));
        assert_eq!(
            std::fs::read_to_string(q.path()).unwrap(),
            "{\"chunk_key\":\"ck9\",\"x\":null,\"y\":null,\"z\":null,\"t\":null,\"file\":\"/v\",\
             \"error\":\"bad\",\"attempts\":3}\n"
        );
    }
}
