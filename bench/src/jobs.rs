//! The benchmark's cases and the ingest configs they hand to both clients.

use std::path::Path;

use serde_json::{json, Value};

/// What is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Case {
    /// 1024² uint8 PNG slices, tile = image: uploaded byte for byte.
    PassThrough,
    /// The same stack with the stack plugin's `reencode`: decode and encode every tile.
    Reencode,
    /// 2048² uint16 TIFF slices cut into four 1024² PNG tiles each.
    Crop,
    /// Many tiles (512², the smallest BossDB places right, from the test random tile processor),
    /// no source files.
    Scale,
    /// A one-tile pass-through job: what a process costs before and after its tiles (start,
    /// plugin load, create, join, complete), which every node of a cluster pays once.
    StartUp,
}

impl Case {
    pub const ALL: [Case; 5] = [
        Case::StartUp,
        Case::PassThrough,
        Case::Reencode,
        Case::Crop,
        Case::Scale,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::PassThrough => "pass-through",
            Case::Reencode => "re-encode",
            Case::Crop => "crop",
            Case::Scale => "scale",
            Case::StartUp => "start-up",
        }
    }

    pub fn parse(s: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Whether the Python reference client can do this case (its stack plugin cannot crop).
    pub fn python_can(self) -> bool {
        matches!(self, Case::PassThrough | Case::Reencode | Case::StartUp)
    }

    /// The tiles a run of this case has: `tiles` as asked, except the one-tile start-up job.
    pub fn tiles(self, tiles: u64) -> u64 {
        match self {
            Case::StartUp => 1,
            _ => tiles,
        }
    }
}

/// The extent of a job with `tiles` tiles (rounded as each case needs).
pub fn extent(case: Case, tiles: u64) -> (u64, u64, u64) {
    match case {
        Case::PassThrough | Case::Reencode | Case::StartUp => (1024, 1024, tiles),
        Case::Crop => (2048, 2048, tiles.div_ceil(4)),
        // 10 × 10 tiles of 512² per slice.
        Case::Scale => (5120, 5120, tiles.div_ceil(100)),
    }
}

/// The tile count of a case's job with `tiles` requested.
pub fn tile_count(case: Case, tiles: u64) -> u64 {
    let (x, y, z) = extent(case, tiles);
    let t = tile_size(case);
    x.div_ceil(t) * y.div_ceil(t) * z
}

fn tile_size(case: Case) -> u64 {
    match case {
        Case::Scale => 512,
        _ => 1024,
    }
}

/// The ingest config, identical for both clients. `stack` is the source directory (unused for
/// the scale case).
pub fn config(case: Case, tiles: u64, sim_host: &str, stack: &Path) -> Value {
    let (x, y, z) = extent(case, tiles);
    let t = tile_size(case);
    let stack_params = |extension: &str, reencode: bool| {
        let mut tile = json!({"filesystem": "local", "extension": extension});
        if reencode {
            tile["reencode"] = json!(true);
        }
        (
            json!({"class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
                   "params": {"root_dir": stack, "extension": extension,
                              "base_filename": "slice_<p:5>"}}),
            json!({"class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
                   "params": tile}),
        )
    };
    let (path, tile, channel) = match case {
        Case::PassThrough | Case::StartUp => {
            let (p, t) = stack_params("png", false);
            (p, t, "ch")
        }
        Case::Reencode => {
            let (p, t) = stack_params("png", true);
            (p, t, "ch")
        }
        Case::Crop => {
            let (p, t) = stack_params("tif", false);
            (p, t, "ch16")
        }
        Case::Scale => (
            json!({"class": "ingestclient.plugins.path.TestPassThroughPathProcessor",
                   "params": {}}),
            json!({"class": "ingestclient.plugins.tile.TestRandomTileProcessor",
                   "params": {}}),
            "ch",
        ),
    };
    json!({
        "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
        "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": sim_host,
                        "protocol": "http"},
            "path_processor": path,
            "tile_processor": tile
        },
        "database": {"collection": "col", "experiment": "exp", "channel": channel},
        "ingest_job": {
            "resolution": 0,
            "extent": {"x": [0, x], "y": [0, y], "z": [0, z], "t": [0, 1]},
            "tile_size": {"x": t, "y": t, "z": 1, "t": 1}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_counts_follow_the_extent() {
        assert_eq!(tile_count(Case::PassThrough, 512), 512);
        assert_eq!(tile_count(Case::Crop, 512), 512);
        assert_eq!(tile_count(Case::Crop, 10), 12);
        assert_eq!(tile_count(Case::Scale, 100_000), 100_000);
    }
}
