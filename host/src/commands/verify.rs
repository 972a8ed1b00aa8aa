//! `boss-ingest verify <config> [-j ID]`: reads the job's extent back through the cutout API and
//! compares it, tile by tile, with what the configured plugins produce from the source. It is the
//! proof a user can run after an ingest that the Boss holds exactly their data. One tile and one
//! cutout are held at a time, so memory does not grow with the volume.
//!
//! Only the part of each tile inside the extent is compared (edge tiles are padded to full size on
//! upload). Cutouts read time point 0; a job with more time points is refused for now.
//!
//! A volumetric job is compared chunk by chunk: the chunk processor's array (checked as an upload
//! checks it) against the cutout of the chunk's box clipped to the extent, voxel by voxel, with
//! zeros where the chunk ends early. One chunk and its cutout are held at a time.

use anyhow::{anyhow, Context};

use boss_protocol::config::IngestType;
use boss_protocol::cutout::Region;

use crate::backend::{token, Backend, Joined};
use crate::chunk::{Chunk, Xyz};
use crate::cli::VerifySettings;
use crate::commands::chunks::PluginChunks;
use crate::commands::ingest::PluginTiles;
use crate::config;
use crate::engine::TileSource;
use crate::exit::{with_code, Code, ResultExt};
use crate::progress;

/// Runs the verify command.
pub fn run(s: &VerifySettings) -> anyhow::Result<Code> {
    progress::init_logging(s.log_file.as_deref(), s.log_level)
        .context("cannot open the log file")
        .exit_code(Code::Usage)?;
    let job_cfg = config::load(&s.config)?;
    let ij = &job_cfg.config.ingest_job;
    let volumetric = ij.ingest_type == IngestType::Volumetric;
    // A volumetric job has no tile size and needs none.
    let ts = match (volumetric, ij.tile_size) {
        (true, _) => (0, 0),
        (false, Some(ts)) => (ts.x, ts.y),
        (false, None) => {
            return Err(with_code(
                Code::Usage,
                anyhow!(
                    "{}: verify needs a tile job with tile_size",
                    s.config.display()
                ),
            ))
        }
    };
    if ij.extent.t.len() > 1 || ij.extent.t.start != 0 {
        return Err(with_code(
            Code::Usage,
            anyhow!(
                "{}: verify reads time point 0 only, and this job's t extent is [{}, {})",
                s.config.display(),
                ij.extent.t.start,
                ij.extent.t.stop
            ),
        ));
    }
    let token = token::lookup(s.api_token.as_deref()).exit_code(Code::Usage)?;
    let backend = Backend::new(&job_cfg.api_base_url(), &token.value)
        .context("cannot set up the HTTP client")?;
    let processors = if volumetric {
        Err(PluginChunks::new(&job_cfg).exit_code(Code::Usage)?)
    } else {
        Ok(PluginTiles::new(&job_cfg).exit_code(Code::Usage)?)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // With a job id, the channel's dtype is known from the join; it is also a check that the
        // job belongs to this config's channel.
        let dtype = match s.job_id {
            Some(id) => match backend.join(id).await {
                Ok(Joined::Ready(join)) => join
                    .response
                    .datatype()
                    .and_then(crate::commands::ingest::dtype_of),
                Ok(Joined::Preparing) => None,
                // A COMPLETE job joins without keys; its data is what we came to read.
                Err(crate::backend::BackendError::AlreadyComplete { .. }) => None,
                Err(e) => return Err(e).context(format!("cannot join job {id}")),
            },
            None => None,
        };
        match processors {
            Ok(tiles) => compare(&job_cfg, &backend, tiles.with_dtype(dtype), ts).await,
            Err(chunks) => compare_chunks(&job_cfg, &backend, chunks.with_dtype(dtype)).await,
        }
    })
}

async fn compare(
    job: &config::JobConfig,
    backend: &Backend,
    tiles: PluginTiles,
    (tx, ty): (u64, u64),
) -> anyhow::Result<Code> {
    let ij = &job.config.ingest_job;
    let db = &job.config.database;
    let res = u64::try_from(ij.resolution).unwrap_or(0);
    let tiles = std::sync::Arc::new(tiles);
    let (mut checked, mut bad) = (0u64, 0u64);
    for idx in ij.tiles() {
        let x0 = idx.x * tx;
        let y0 = idx.y * ty;
        let x1 = (x0 + tx).min(ij.extent.x.stop);
        let y1 = (y0 + ty).min(ij.extent.y.stop);
        let source = {
            let tiles = tiles.clone();
            tokio::task::spawn_blocking(move || tiles.tile(idx.x, idx.y, idx.z, idx.t))
                .await
                .context("a plugin call ended abnormally")?
        };
        let stored = backend
            .cutout(
                &db.collection,
                &db.experiment,
                &db.channel,
                res,
                Region {
                    x: (x0, x1),
                    y: (y0, y1),
                    z: (idx.z, idx.z + 1),
                },
            )
            .await
            .context(format!(
                "reading tile x{} y{} z{} back",
                idx.x, idx.y, idx.z
            ))?;
        checked += 1;
        let where_ = format!("tile x{} y{} z{} t{}", idx.x, idx.y, idx.z, idx.t);
        let produced = match source {
            Ok(p) => p,
            Err(f) => {
                bad += 1;
                println!("{where_}: the source cannot be read: {f}");
                continue;
            }
        };
        let file = produced.file.clone().unwrap_or_default();
        match differing_voxels(&produced.bytes, &stored.bytes, (x1 - x0, y1 - y0)) {
            Ok(0) => {}
            Ok(n) => {
                bad += 1;
                println!(
                    "{where_} ({file}): {n} of {} voxels differ",
                    (x1 - x0) * (y1 - y0)
                );
            }
            Err(why) => {
                bad += 1;
                println!("{where_} ({file}): {why}");
            }
        }
        if checked % 500 == 0 {
            log::info!("verified {checked} tiles, {bad} differ");
        }
    }
    if bad == 0 {
        println!("All {checked} tiles are identical to the source.");
        Ok(Code::Ok)
    } else {
        println!("{bad} of {checked} tiles differ from the source.");
        Ok(Code::Quarantined)
    }
}

/// The volumetric twin of [`compare`]: every chunk against the cutout of its box.
async fn compare_chunks(
    job: &config::JobConfig,
    backend: &Backend,
    chunks: PluginChunks,
) -> anyhow::Result<Code> {
    let ij = &job.config.ingest_job;
    let db = &job.config.database;
    let res = u64::try_from(ij.resolution).unwrap_or(0);
    let chunks = std::sync::Arc::new(chunks);
    let (mut checked, mut bad) = (0u64, 0u64);
    for c in ij.volumetric_chunks() {
        let read = {
            let chunks = chunks.clone();
            tokio::task::spawn_blocking(move || chunks.read(c.x, c.y, c.z))
                .await
                .context("a plugin call ended abnormally")?
        };
        checked += 1;
        let read = match read {
            Ok(r) => r,
            Err(f) => {
                bad += 1;
                println!("{}", f.message);
                continue;
            }
        };
        let g = read.geometry;
        let stored = backend
            .cutout(
                &db.collection,
                &db.experiment,
                &db.channel,
                res,
                Region {
                    x: (g.origin.x, g.origin.x + g.max.x),
                    y: (g.origin.y, g.origin.y + g.max.y),
                    z: (g.origin.z, g.origin.z + g.max.z),
                },
            )
            .await
            .context(format!("reading chunk x{} y{} z{} back", c.x, c.y, c.z))?;
        let name = crate::commands::chunks::describe(&g);
        let name = if read.file.is_empty() {
            name
        } else {
            format!("{name} from {}", read.file)
        };
        match differing_chunk_voxels(&read.chunk, &stored.bytes, g.max) {
            Ok(0) => {}
            Ok(n) => {
                bad += 1;
                println!(
                    "{name}: {n} of {} voxels differ",
                    g.max.x * g.max.y * g.max.z
                );
            }
            Err(why) => {
                bad += 1;
                println!("{name}: {why}");
            }
        }
    }
    if bad == 0 {
        println!("All {checked} chunks are identical to the source.");
        Ok(Code::Ok)
    } else {
        println!("{bad} of {checked} chunks differ from the source.");
        Ok(Code::Quarantined)
    }
}

/// Compares a chunk with the raw cutout of its box (`max` voxels, z, y, x order, little-endian);
/// voxels past the chunk's own data must be zero. Returns how many voxels differ.
pub fn differing_chunk_voxels(chunk: &Chunk, stored: &[u8], max: Xyz) -> Result<u64, String> {
    let size = chunk.dtype().size();
    let want_len = (max.x * max.y * max.z) as usize * size;
    if stored.len() != want_len {
        return Err(format!(
            "the cutout holds {} bytes, expected {want_len} ({max} voxels of {size} byte(s)): \
             the channel's dtype differs from the chunk's",
            stored.len()
        ));
    }
    let zero = vec![0u8; size];
    let mut differ = 0;
    let mut at = 0;
    for z in 0..max.z {
        for y in 0..max.y {
            for x in 0..max.x {
                let source = chunk.voxel(x, y, z).unwrap_or(&zero);
                if source != &stored[at..at + size] {
                    differ += 1;
                }
                at += size;
            }
        }
    }
    Ok(differ)
}

/// Compares the `w × h` top-left window of an encoded tile with raw cutout voxels (z, y, x order,
/// little-endian). Returns how many voxels differ.
pub fn differing_voxels(tile: &[u8], stored: &[u8], (w, h): (u64, u64)) -> Result<u64, String> {
    let image =
        image::load_from_memory(tile).map_err(|e| format!("cannot decode the tile: {e}"))?;
    let (tw, th) = (u64::from(image.width()), u64::from(image.height()));
    if tw < w || th < h {
        return Err(format!(
            "the tile is {tw}×{th}, smaller than the {w}×{h} it must cover"
        ));
    }
    let (pixels, size): (Vec<u64>, usize) = match image {
        image::DynamicImage::ImageLuma8(b) => {
            (b.into_raw().into_iter().map(u64::from).collect(), 1)
        }
        image::DynamicImage::ImageLuma16(b) => {
            (b.into_raw().into_iter().map(u64::from).collect(), 2)
        }
        other => {
            return Err(format!(
                "the tile is {:?}, not single-channel gray",
                other.color()
            ))
        }
    };
    let want_len = (w * h) as usize * size;
    if stored.len() != want_len {
        return Err(format!(
            "the cutout holds {} bytes, expected {want_len} ({w}×{h} voxels of {size} byte(s)): \
             the channel's dtype differs from the tile's",
            stored.len()
        ));
    }
    let mut differ = 0;
    for y in 0..h {
        for x in 0..w {
            let source = pixels[(y * tw + x) as usize];
            let at = ((y * w + x) as usize) * size;
            let mut value = 0u64;
            for (i, byte) in stored[at..at + size].iter().enumerate() {
                value |= u64::from(*byte) << (8 * i);
            }
            if value != source {
                differ += 1;
            }
        }
    }
    Ok(differ)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png8(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([f(x, y)]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn counts_differences_inside_the_window_only() {
        let tile = png8(4, 4, |x, y| (x + 10 * y) as u8);
        // The 3×2 window of the tile, with one voxel changed.
        let mut stored: Vec<u8> = vec![0, 1, 2, 10, 11, 12];
        assert_eq!(differing_voxels(&tile, &stored, (3, 2)), Ok(0));
        stored[4] = 99;
        assert_eq!(differing_voxels(&tile, &stored, (3, 2)), Ok(1));
    }

    #[test]
    fn a_dtype_mismatch_is_named() {
        let tile = png8(2, 2, |_, _| 1);
        let err = differing_voxels(&tile, &[1; 8], (2, 2)).unwrap_err();
        assert!(err.contains("the channel's dtype differs"), "{err}");
    }
}
