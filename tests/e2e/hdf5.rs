//! The optional HDF5 plugin through the real binary: `libboss_ingest_plugin_hdf5.so` (built by
//! `cargo test` as a dependency of this crate's `hdf5` feature, which gates this module) found on
//! BOSS_INGEST_PLUGIN_PATH under the Python class names; a chunk tile job with one chunk file
//! missing uploads black tiles of the tile size for it, reports them in the run summary, and
//! stores every other chunk exactly. Without the library, the legacy names give one error with
//! the install command.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::cmd::{bin_dir, temp_dir, Cmd};
use crate::support::data::{voxel, Dtype};
use crate::support::job::{cutout, ingest, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};

/// x is not a multiple of the 512 tile: the x=1 chunks are 488 wide and padded.
const WIDTH: u64 = 1000;
const HEIGHT: u64 = 512;
const Z_CHUNK: u64 = 4;
const DEPTH: u64 = 8;

/// `boss-ingest` able to find the built HDF5 plugin: `cargo build` leaves it next to the binary
/// (on the search path already), `cargo test` in `deps/`, which is then put on
/// BOSS_INGEST_PLUGIN_PATH. Never both: one library in two places is an ambiguity error.
fn with_plugin(cmd: Cmd) -> Cmd {
    let file = format!("{DLL_PREFIX}boss_ingest_plugin_hdf5{DLL_SUFFIX}");
    if bin_dir().join(&file).is_file() {
        return cmd;
    }
    let exe = std::env::current_exe().expect("path of the test executable");
    let deps = exe.parent().expect("test executable has a directory");
    assert!(
        deps.join(&file).is_file(),
        "{file} is neither next to boss-ingest nor in {}; the `hdf5` feature of \
         boss-ingest-tests depends on it, so `cargo test -p boss-ingest-tests --features hdf5` \
         builds it",
        deps.display()
    );
    cmd.env("BOSS_INGEST_PLUGIN_PATH", deps)
}

/// A `boss-ingest` whose own directory holds no plugin library: a hard link (or copy) of the
/// binary in a fresh directory, so "not installed" can be tested whatever was built.
fn bare_boss_ingest(dir: &Path) -> PathBuf {
    let name = format!("boss-ingest{}", std::env::consts::EXE_SUFFIX);
    let to = dir.join(&name);
    let from = bin_dir().join(&name);
    if std::fs::hard_link(&from, &to).is_err() {
        std::fs::copy(&from, &to).expect("copy boss-ingest");
    }
    to
}

/// Writes chunk (cx, cz) as `c_{x0}-{x1}_0-512_{z0}-{z1}.h5`, dataset "data" (z, y, x) of the
/// shared uint16 voxel pattern, clipped to the extent.
fn write_chunk(dir: &Path, cx: u64, cz: u64) {
    let (x0, z0) = (cx * 512, cz * Z_CHUNK);
    let width = (x0 + 512).min(WIDTH) - x0;
    let name = format!("c_{x0}-{}_0-512_{z0}-{}.h5", x0 + 512, z0 + Z_CHUNK);
    let mut data = Vec::with_capacity((Z_CHUNK * HEIGHT * width) as usize);
    for z in z0..z0 + Z_CHUNK {
        for y in 0..HEIGHT {
            for x in x0..x0 + width {
                data.push(voxel(Dtype::U16, x, y, z) as u16);
            }
        }
    }
    let file = ::hdf5::File::create(dir.join(name)).expect("create a chunk file");
    file.new_dataset::<u16>()
        .shape([Z_CHUNK as usize, HEIGHT as usize, width as usize])
        .create("data")
        .expect("create the dataset")
        .write_raw(&data)
        .expect("write the chunk");
}

fn chunk_config(sim: &SimHandle, root: &Path) -> Value {
    json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
        "path_processor": {
          "class": "ingestclient.plugins.hdf5.Hdf5ChunkPathProcessor",
          "params": {"root_dir": root, "prefix": "c", "extension": "h5",
                     "x_chunk_size": 512, "y_chunk_size": 512, "z_chunk_size": Z_CHUNK,
                     "x_offset": 0, "y_offset": 0, "z_offset": 0, "use_python_convention": true}
        },
        "tile_processor": {
          "class": "ingestclient.plugins.hdf5.Hdf5ChunkTileProcessor",
          "params": {"data_name": "data", "z_chunk_size": Z_CHUNK, "datatype": "uint16",
                     "upload_format": "png", "filesystem": "local"}
        }
      },
      "database": {"collection": "col", "experiment": "exp", "channel": "ch16"},
      "ingest_job": {
        "ingest_type": "tile", "resolution": 0,
        "extent": {"x": [0, WIDTH], "y": [0, HEIGHT], "z": [0, DEPTH], "t": [0, 1]},
        "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}
      }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chunk_job_with_a_missing_chunk_reports_black_tiles_and_stores_the_rest_exactly() {
    let dir = temp_dir();
    let root = dir.path().join("chunks");
    std::fs::create_dir_all(&root).expect("chunk dir");
    // Chunk x=1, z 4..8 is missing.
    for (cx, cz) in [(0, 0), (1, 0), (0, 1)] {
        write_chunk(&root, cx, cz);
    }
    let sim = SimHandle::start(SimOptions::default());
    let config = write_config(dir.path(), &chunk_config(&sim, &root));
    let out = run(with_plugin(ingest(&sim, &config))).await;
    // Black tiles are reported, not failures: the job completes.
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout.contains("Uploaded 16 tiles") && out.stdout.contains(" 4 black tiles,"),
        "{}",
        out.both()
    );

    for z in 0..DEPTH {
        let got = cutout(&sim, "ch16", (0, WIDTH), (0, HEIGHT), (z, z + 1)).await;
        let missing = |x: u64| x >= 512 && z >= Z_CHUNK;
        let want: Vec<u8> = (0..HEIGHT)
            .flat_map(|y| {
                (0..WIDTH).map(move |x| {
                    if missing(x) {
                        0
                    } else {
                        voxel(Dtype::U16, x, y, z) as u16
                    }
                })
            })
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(got.len(), want.len(), "slice {z}: cutout size");
        let differing = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "slice {z}: {differing} bytes differ");
    }
}

#[test]
fn the_plugin_is_listed_when_present_and_named_with_its_install_command_when_absent() {
    let out = with_plugin(Cmd::boss_ingest()).arg("plugins").run();
    assert_eq!(out.code, Some(0), "{}", out.both());
    // Listed under its library name, `hdf5`, from its file.
    let file = format!("{DLL_PREFIX}boss_ingest_plugin_hdf5{DLL_SUFFIX}");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("  hdf5  ") && l.contains(&file))
            && out.stdout.contains("Hdf5ChunkTileProcessor"),
        "{}",
        out.both()
    );

    // Without the library on the search path, `check` names the class and the command. The
    // binary runs from a directory of its own (next to target/, for a hard link to work).
    let dir = tempfile::Builder::new()
        .prefix("boss-ingest-bare-")
        .tempdir_in(bin_dir().parent().unwrap_or(&bin_dir()))
        .expect("a temp dir in the target directory");
    let empty = dir.path().join("no-plugins");
    std::fs::create_dir_all(&empty).expect("empty plugin dir");
    let bare = bare_boss_ingest(dir.path());
    let config = json!({
      "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": "localhost:1", "protocol": "http"},
        "path_processor": {"class": "ingestclient.plugins.hdf5.Hdf5ChunkPathProcessor",
                           "params": {}},
        "tile_processor": {"class": "ingestclient.plugins.hdf5.Hdf5ChunkTileProcessor",
                           "params": {}}
      },
      "database": {"collection": "col", "experiment": "exp", "channel": "ch16"},
      "ingest_job": {"ingest_type": "tile", "resolution": 0,
        "extent": {"x": [0, 512], "y": [0, 512], "z": [0, 1], "t": [0, 1]},
        "tile_size": {"x": 512, "y": 512, "z": 1, "t": 1}}
    });
    let path = dir.path().join("job.json");
    std::fs::write(&path, config.to_string()).expect("write the config");
    let out = Cmd::new(&bare)
        .env("BOSS_INGEST_PLUGIN_PATH", &empty)
        .arg("check")
        .arg(&path)
        .run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr.contains(
            "the path processor class \"ingestclient.plugins.hdf5.Hdf5ChunkPathProcessor\" \
             lives in the optional HDF5 plugin, which is not installed"
        ) && out.stderr.contains("`scripts/install-plugin hdf5`"),
        "{}",
        out.both()
    );
}
