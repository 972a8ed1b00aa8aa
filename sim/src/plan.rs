//! What a job's upload queue holds: the service's message generators (protocol §3.2, §3.3),
//! as boss-manage `ingest_queue_upload.py` and boss-tools `ingest_queue_upload_volumetric_lambda.py`
//! write them.
//!
//! The service fills the upload queue in a fixed order — t, then z in chunk steps, then y, then x,
//! then each slice of the chunk — and clients and tests depend on the exact key strings and
//! counts. Tile jobs step t by 1 whatever `tile_size.t` says; volumetric jobs get messages for
//! t = 0 only, though their `tile_count` multiplies by the number of time points. These generators are lazy iterators so a job of millions of tiles never sits in memory;
//! the completion scan walks the same chunks again to find missing tiles.

use boss_protocol::cuboid::{CUBOID_X, CUBOID_Y, CUBOID_Z};
use boss_protocol::keys::{CuboidKey, LookupIds, TileChunkKey, TileKey, VolumetricChunkKey};
use boss_protocol::messages::{CuboidRef, TileUploadMessage, VolumetricUploadMessage};
use boss_protocol::status::IngestType;

/// `[start, stop)` along one axis: the client's own type, so both walk the axes the same way.
pub use boss_protocol::config::Span;

/// The geometry of a job, as the service reads it from the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub ingest_type: IngestType,
    pub ids: LookupIds,
    /// The channel's base resolution (keys never use `ingest_job.resolution`).
    pub resolution: u64,
    pub x: Span,
    pub y: Span,
    pub z: Span,
    pub t: Span,
    /// Tile jobs: tile size (z forced to 1; `step_t` only enters `tile_count`). Volumetric jobs:
    /// chunk size (t unused).
    pub step_x: u64,
    pub step_y: u64,
    pub step_z: u64,
    pub step_t: u64,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

impl JobPlan {
    /// The number of upload messages: `tile_count` of the create and join answers.
    pub fn message_count(&self) -> u64 {
        match self.ingest_type {
            IngestType::Tile => {
                ceil_div(self.x.len(), self.step_x)
                    * ceil_div(self.y.len(), self.step_y)
                    * self.z.len()
                    * ceil_div(self.t.len(), self.step_t)
            }
            IngestType::Volumetric => {
                ceil_div(self.x.len(), self.step_x)
                    * ceil_div(self.y.len(), self.step_y)
                    * ceil_div(self.z.len(), self.step_z)
                    * self.t.len()
            }
        }
    }

    /// How many messages the service's count check (`VerifyCount`) expects in the upload queue
    /// before the job may leave PREPARING: `tile_count` with t stepped by 1.
    pub fn expected_messages(&self) -> u64 {
        ceil_div(self.x.len(), self.step_x)
            * ceil_div(self.y.len(), self.step_y)
            * ceil_div(self.z.len(), self.step_z)
            * self.t.len()
    }

    /// Every chunk of a tile job in the service's order: (t, z start, y, x) outer to inner.
    /// t steps by 1: the service's `t_tile_size` is fixed at 1.
    pub fn tile_chunks(&self) -> impl Iterator<Item = TileChunkKey> + '_ {
        let (xs, ys) = (self.x.steps(self.step_x), self.y.steps(self.step_y));
        self.t.steps(1).flat_map(move |t| {
            let (xs, ys) = (xs.clone(), ys.clone());
            self.z.steps(CUBOID_Z).flat_map(move |z| {
                let xs = xs.clone();
                ys.clone().flat_map(move |y| {
                    xs.clone().map(move |x| TileChunkKey {
                        num_tiles: CUBOID_Z.min(self.z.stop - z),
                        ids: self.ids,
                        resolution: self.resolution,
                        x: x / self.step_x,
                        y: y / self.step_y,
                        z: z / CUBOID_Z,
                        t,
                    })
                })
            })
        })
    }

    /// The tiles of a chunk. Chunks start at `z.start + 16k` (the service steps from the extent's
    /// start), so a z start that is not a multiple of 16 still yields the tiles it enqueued.
    pub fn chunk_tiles(&self, chunk: &TileChunkKey) -> impl Iterator<Item = TileKey> + 'static {
        let first = self.z.start + CUBOID_Z * chunk.z.saturating_sub(self.z.start / CUBOID_Z);
        let chunk = *chunk;
        (first..first + chunk.num_tiles).map(move |z| tile_at(&chunk, z))
    }

    /// The tiles the completion scan expects in a chunk (boss-tools `ChunkScanner.check_tiles`):
    /// z from `16 * chunk.z`, whatever the extent's z start.
    pub fn scanned_tiles(chunk: &TileChunkKey) -> impl Iterator<Item = TileKey> + 'static {
        let chunk = *chunk;
        let first = chunk.z * CUBOID_Z;
        (first..first + chunk.num_tiles).map(move |z| tile_at(&chunk, z))
    }

    /// The upload messages of a tile job, in queue order.
    pub fn tile_messages<'a>(
        &'a self,
        job_id: u64,
        upload_queue: &'a str,
        ingest_queue: &'a str,
    ) -> impl Iterator<Item = TileUploadMessage> + 'a {
        self.tile_chunks().flat_map(move |chunk| {
            let chunk_key = chunk.key();
            self.chunk_tiles(&chunk).map(move |tile| TileUploadMessage {
                job_id,
                upload_queue_arn: upload_queue.to_string(),
                ingest_queue_arn: ingest_queue.to_string(),
                chunk_key: chunk_key.clone(),
                tile_key: tile.key(),
            })
        })
    }

    /// The upload messages of a volumetric job, in queue order: t = 0 only ("Currently, only
    /// allow ingest for time sample 0."). Each lists every cuboid of the full chunk size, even
    /// past the extent.
    pub fn volumetric_messages(&self) -> impl Iterator<Item = VolumetricUploadMessage> + '_ {
        let (xs, ys) = (self.x.steps(self.step_x), self.y.steps(self.step_y));
        self.z.steps(self.step_z).flat_map(move |z| {
            let xs = xs.clone();
            ys.clone()
                .flat_map(move |y| xs.clone().map(move |x| self.volumetric_message(x, y, z)))
        })
    }

    fn volumetric_message(&self, x: u64, y: u64, z: u64) -> VolumetricUploadMessage {
        let chunk_key = VolumetricChunkKey {
            ids: self.ids,
            resolution: self.resolution,
            x: x / self.step_x,
            y: y / self.step_y,
            z: z / self.step_z,
        }
        .key();
        let mut cuboids = Vec::new();
        for cz in (0..self.step_z).step_by(CUBOID_Z as usize) {
            for cy in (0..self.step_y).step_by(CUBOID_Y as usize) {
                for cx in (0..self.step_x).step_by(CUBOID_X as usize) {
                    let key = CuboidKey {
                        ids: self.ids,
                        resolution: self.resolution,
                        t: 0,
                        x: (x + cx) / CUBOID_X,
                        y: (y + cy) / CUBOID_Y,
                        z: (z + cz) / CUBOID_Z,
                    }
                    .key();
                    cuboids.push(CuboidRef {
                        x: cx,
                        y: cy,
                        z: cz,
                        key,
                    });
                }
            }
        }
        VolumetricUploadMessage { chunk_key, cuboids }
    }
}

/// The tile of `chunk`'s footprint at absolute slice `z`.
pub fn tile_at(chunk: &TileChunkKey, z: u64) -> TileKey {
    TileKey {
        ids: chunk.ids,
        resolution: chunk.resolution,
        x: chunk.x,
        y: chunk.y,
        z,
        t: chunk.t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> LookupIds {
        LookupIds {
            collection: 7,
            experiment: 12,
            channel: 33,
        }
    }

    fn tile_plan(x: (u64, u64), z: (u64, u64), tile: u64) -> JobPlan {
        JobPlan {
            ingest_type: IngestType::Tile,
            ids: ids(),
            resolution: 0,
            x: Span {
                start: x.0,
                stop: x.1,
            },
            y: Span {
                start: 0,
                stop: tile,
            },
            z: Span {
                start: z.0,
                stop: z.1,
            },
            t: Span { start: 0, stop: 1 },
            step_x: tile,
            step_y: tile,
            step_z: 1,
            step_t: 1,
        }
    }

    #[test]
    fn tile_messages_follow_the_service_order_and_count() {
        let plan = tile_plan((0, 2048), (0, 40), 1024);
        let msgs: Vec<_> = plan.tile_messages(5, "up", "in").collect();
        assert_eq!(plan.message_count(), 80);
        assert_eq!(msgs.len(), 80);
        // First chunk: x tile 0, slices 0..16; then x tile 1.
        assert_eq!(
            msgs[0].tile_key,
            TileKey::parse(&msgs[0].tile_key).unwrap().key()
        );
        let first = TileKey::parse(&msgs[0].tile_key).unwrap();
        let seventeenth = TileKey::parse(&msgs[16].tile_key).unwrap();
        assert_eq!((first.x, first.z), (0, 0));
        assert_eq!((seventeenth.x, seventeenth.z), (1, 0));
        // The last chunk holds the 8 slices 32..40.
        let last = msgs.last().unwrap();
        assert_eq!(
            last.chunk_key,
            TileChunkKey {
                num_tiles: 8,
                ids: ids(),
                resolution: 0,
                x: 1,
                y: 0,
                z: 2,
                t: 0
            }
            .key()
        );
        assert_eq!(TileKey::parse(&last.tile_key).unwrap().z, 39);
        assert_eq!(plan.tile_chunks().count(), 6);
    }

    #[test]
    fn tile_jobs_step_t_by_one_and_volumetric_jobs_send_t_0_only() {
        let mut tiles = tile_plan((0, 512), (0, 16), 512);
        tiles.t = Span { start: 0, stop: 4 };
        tiles.step_t = 2;
        assert_eq!(
            tiles.message_count(),
            16 * 2,
            "tile_count divides t by tile_size.t"
        );
        assert_eq!(tiles.tile_messages(1, "u", "i").count(), 16 * 4);
        assert_eq!(tiles.expected_messages(), 16 * 4);
        let ts: Vec<u64> = tiles.tile_chunks().map(|c| c.t).collect();
        assert_eq!(ts, [0, 1, 2, 3]);

        let mut volume = tile_plan((0, 1024), (0, 16), 512);
        volume.ingest_type = IngestType::Volumetric;
        volume.step_z = 16;
        volume.t = Span { start: 0, stop: 3 };
        assert_eq!(volume.message_count(), 2 * 3);
        assert_eq!(volume.expected_messages(), 2 * 3);
        assert_eq!(volume.volumetric_messages().count(), 2);
    }

    #[test]
    fn the_scan_expects_tiles_from_sixteen_times_the_chunk_z() {
        let plan = tile_plan((0, 512), (5, 21), 512);
        let chunk = plan.tile_chunks().next().unwrap();
        assert_eq!(chunk.num_tiles, 16);
        let sent: Vec<u64> = plan.chunk_tiles(&chunk).map(|t| t.z).collect();
        let scanned: Vec<u64> = JobPlan::scanned_tiles(&chunk).map(|t| t.z).collect();
        assert_eq!((sent[0], scanned[0]), (5, 0));
    }

    #[test]
    fn partial_tiles_count_as_whole_tiles() {
        let plan = tile_plan((0, 1500), (0, 3), 1024);
        assert_eq!(plan.message_count(), 2 * 3);
        assert_eq!(plan.tile_messages(1, "u", "i").count(), 6);
    }

    #[test]
    fn volumetric_messages_cover_the_full_chunk() {
        let plan = JobPlan {
            ingest_type: IngestType::Volumetric,
            ids: ids(),
            resolution: 0,
            x: Span {
                start: 0,
                stop: 1500,
            },
            y: Span {
                start: 0,
                stop: 1024,
            },
            z: Span { start: 0, stop: 64 },
            t: Span { start: 0, stop: 1 },
            step_x: 1024,
            step_y: 1024,
            step_z: 64,
            step_t: 1,
        };
        let msgs: Vec<_> = plan.volumetric_messages().collect();
        assert_eq!(plan.message_count(), 2);
        assert_eq!(msgs.len(), 2);
        assert_eq!(
            msgs[1].chunk_key,
            "82b790a738e8771cded25e06d53c16a9&1&7&12&33&0&1&0&0&0"
        );
        // 2 × 2 × 4 cuboids, x fastest, then y, then z.
        assert_eq!(msgs[1].cuboids.len(), 16);
        let c = &msgs[1].cuboids;
        assert_eq!((c[0].x, c[0].y, c[0].z), (0, 0, 0));
        assert_eq!(c[0].key, "e39b326eefd5a0c95d929925d7e2e0af&7&12&33&0&0&8");
        assert_eq!((c[1].x, c[1].y, c[1].z), (512, 0, 0));
        assert_eq!(c[1].key, "da455f6e36e15a9b08feffaac007a8a0&7&12&33&0&0&9");
        assert_eq!((c[2].x, c[2].y, c[2].z), (0, 512, 0));
        assert_eq!(c[2].key, "615b7e12d27e390dcb9eab69adfe40ae&7&12&33&0&0&10");
        assert_eq!((c[4].x, c[4].y, c[4].z), (0, 0, 16));
        assert_eq!(c[4].key, "4799502c516102c9ff62aa7e7a637b63&7&12&33&0&0&12");
    }
}
