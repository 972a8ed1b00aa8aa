//! A job's geometry: how many tiles or chunks the service generates, and which, in the order it
//! puts them on the upload queue (protocol §3.2, §3.3), plus the Python client's estimate.

use serde::{Deserialize, Serialize};

use super::model::{IngestJob, IngestType};
use super::CUBOID;

/// One tile of a tile job: x/y are tile indices, z the absolute slice, t the time point — the
/// numbers that go into the tile key (spec §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TileIndex {
    pub x: u64,
    pub y: u64,
    pub z: u64,
    pub t: u64,
}

/// What the Python client printed before creating a job (spec §5). Both formulas floor, so they
/// undercount extents that are not multiples of the tile or chunk size; use
/// [`IngestJob::tile_count`] / [`IngestJob::chunk_count`] for the numbers the service generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyEstimate {
    /// `floor(nx*ny/(tx*ty)) * nz * nt`; `None` without `tile_size`.
    pub tiles: Option<u64>,
    /// `floor(nx*ny*nz*nt/(cx*cy*cz))`; `None` without `chunk_size`.
    pub chunks: Option<u64>,
}

fn ceil_div(a: u64, b: u64) -> u64 {
    // Sizes are validated positive; a zero divisor can only come from a hand-built struct.
    if b == 0 {
        0
    } else {
        a.div_ceil(b)
    }
}

impl IngestJob {
    /// Number of tile upload messages the service generates for a tile job (spec §3.2):
    /// `ceil(dx/tx) * ceil(dy/ty) * dz * dt` (t steps by 1 whatever `tile_size.t` says). 0 for volumetric jobs.
    pub fn tile_count(&self) -> u64 {
        match (self.ingest_type, self.tile_size) {
            (IngestType::Tile, Some(ts)) => {
                let e = &self.extent;
                ceil_div(e.x.len(), ts.x)
                    .saturating_mul(ceil_div(e.y.len(), ts.y))
                    .saturating_mul(e.z.len())
                    .saturating_mul(e.t.len())
            }
            _ => 0,
        }
    }

    /// Number of chunks: for volumetric jobs the upload messages of spec §3.3,
    /// `ceil(dx/cx) * ceil(dy/cy) * ceil(dz/cz) * dt`; for tile jobs the chunk keys (one tile
    /// footprint × up to 16 slices), `ceil(dx/tx) * ceil(dy/ty) * ceil(dz/16) * dt`.
    pub fn chunk_count(&self) -> u64 {
        let e = &self.extent;
        match self.ingest_type {
            IngestType::Volumetric => match self.chunk_size {
                Some(cs) => ceil_div(e.x.len(), cs.x)
                    .saturating_mul(ceil_div(e.y.len(), cs.y))
                    .saturating_mul(ceil_div(e.z.len(), cs.z))
                    .saturating_mul(e.t.len()),
                None => 0,
            },
            IngestType::Tile => match self.tile_size {
                Some(ts) => ceil_div(e.x.len(), ts.x)
                    .saturating_mul(ceil_div(e.y.len(), ts.y))
                    .saturating_mul(ceil_div(e.z.len(), CUBOID[2]))
                    .saturating_mul(e.t.len()),
                None => 0,
            },
        }
    }

    /// Number of messages the service puts on the upload queue: tiles for tile jobs, chunks for
    /// volumetric jobs. This is the job's `tile_count` on the wire.
    pub fn upload_message_count(&self) -> u64 {
        match self.ingest_type {
            IngestType::Tile => self.tile_count(),
            IngestType::Volumetric => self.chunk_count(),
        }
    }

    /// The estimate the Python client printed, formulas kept exactly (spec §5).
    pub fn legacy_estimate(&self) -> LegacyEstimate {
        let e = &self.extent;
        let (nx, ny, nz, nt) = (e.x.len(), e.y.len(), e.z.len(), e.t.len());
        let tiles = self.tile_size.map(|ts| {
            (nx.saturating_mul(ny) / ts.x.saturating_mul(ts.y).max(1))
                .saturating_mul(nz)
                .saturating_mul(nt)
        });
        let chunks = self.chunk_size.map(|cs| {
            nx.saturating_mul(ny).saturating_mul(nz).saturating_mul(nt)
                / cs.x.saturating_mul(cs.y).saturating_mul(cs.z).max(1)
        });
        LegacyEstimate { tiles, chunks }
    }

    /// Every tile of a tile job in the order the service enqueues them (spec §3.2): t, then
    /// chunks of 16 slices from the z start, then y, then x, then each slice of the chunk. Tile
    /// indices are the voxel position divided by the tile size. Empty for volumetric jobs.
    /// Lazy: a job of millions of tiles costs nothing to walk.
    pub fn tiles(&self) -> impl Iterator<Item = TileIndex> + Send + 'static {
        let ts = match (self.ingest_type, self.tile_size) {
            (IngestType::Tile, Some(ts)) if ts.x > 0 && ts.y > 0 => Some(ts),
            _ => None,
        };
        let e = self.extent;
        ts.into_iter().flat_map(move |ts| {
            // The service steps t by 1 whatever tile_size.t says (protocol errata 6).
            e.t.steps(1).flat_map(move |t| {
                e.z.steps(CUBOID[2]).flat_map(move |z0| {
                    let z1 = (z0 + CUBOID[2]).min(e.z.stop);
                    e.y.steps(ts.y).flat_map(move |y| {
                        e.x.steps(ts.x).flat_map(move |x| {
                            (z0..z1).map(move |z| TileIndex {
                                x: x / ts.x,
                                y: y / ts.y,
                                z,
                                t,
                            })
                        })
                    })
                })
            })
        })
    }
}

impl IngestJob {
    /// Every chunk of a volumetric job in the order the service enqueues them (spec §3.3):
    /// z, then y, then x in steps of the chunk size from the extent's start; each as chunk
    /// indices (voxel position / chunk size) with t = 0, the numbers in the chunk key. Empty for
    /// tile jobs. Lazy, like [`IngestJob::tiles`].
    pub fn volumetric_chunks(&self) -> impl Iterator<Item = TileIndex> + Send + 'static {
        let cs = match (self.ingest_type, self.chunk_size) {
            (IngestType::Volumetric, Some(cs)) if cs.x > 0 && cs.y > 0 && cs.z > 0 => Some(cs),
            _ => None,
        };
        let e = self.extent;
        cs.into_iter().flat_map(move |cs| {
            e.z.steps(cs.z).flat_map(move |z| {
                e.y.steps(cs.y).flat_map(move |y| {
                    e.x.steps(cs.x).map(move |x| TileIndex {
                        x: x / cs.x,
                        y: y / cs.y,
                        z: z / cs.z,
                        t: 0,
                    })
                })
            })
        })
    }
}
