//! Which tiles (or volumetric chunks) `check` looks at: the whole job in service order, or a
//! seeded random sample of it.

use boss_protocol::config::{IngestType, TileIndex};
use rand::{Rng, SeedableRng};

use crate::config::JobConfig;

/// The tiles to check and how many there are: every tile of the job in service order, walked
/// lazily (a job of millions of tiles costs no memory), or `sample` of them picked uniformly at
/// random (reservoir sampling: one pass, memory for the sample only). Each tile comes with its
/// position in the job, which orders the report. A volumetric job's items are its chunks.
pub fn select(
    job: &JobConfig,
    sample: Option<u64>,
    seed: Option<u64>,
) -> (u64, Box<dyn Iterator<Item = (u64, TileIndex)> + Send>) {
    let ingest_job = &job.config.ingest_job;
    let total = items_in_job(job);
    let all: Box<dyn Iterator<Item = TileIndex> + Send> = match ingest_job.ingest_type {
        IngestType::Tile => Box::new(ingest_job.tiles()),
        IngestType::Volumetric => Box::new(ingest_job.volumetric_chunks()),
    };
    let all = all.enumerate().map(|(i, t)| (i as u64, t));
    match sample {
        Some(n) if n < total => {
            let picked = reservoir(all, n, seed);
            (picked.len() as u64, Box::new(picked.into_iter()))
        }
        _ => (total, Box::new(all)),
    }
}

/// Tiles of a tile job, chunks (of time point 0) of a volumetric one.
pub(super) fn items_in_job(job: &JobConfig) -> u64 {
    let ij = &job.config.ingest_job;
    match ij.ingest_type {
        IngestType::Tile => ij.tile_count(),
        // Chunks are few (each is megabytes of voxels): counting them walks little.
        IngestType::Volumetric => ij.volumetric_chunks().count() as u64,
    }
}

fn reservoir(
    items: impl Iterator<Item = (u64, TileIndex)>,
    n: u64,
    seed: Option<u64>,
) -> Vec<(u64, TileIndex)> {
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let mut rng = match seed {
        Some(s) => rand::rngs::StdRng::seed_from_u64(s),
        None => rand::rngs::StdRng::from_os_rng(),
    };
    let mut reservoir: Vec<(u64, TileIndex)> = Vec::new();
    for (seen, item) in items.enumerate() {
        if reservoir.len() < n {
            reservoir.push(item);
        } else {
            let j = rng.random_range(0..=seen);
            if j < n {
                reservoir[j] = item;
            }
        }
    }
    reservoir.sort_by_key(|(i, _)| *i);
    reservoir
}
