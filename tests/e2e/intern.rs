//! Boss-to-Boss copies end to end: a channel is first ingested into `boss-sim` from a generated
//! stack, then a second job whose intern processor reads that channel back through the same
//! simulator's cutout API (with the token, over real HTTP) writes it into another channel. The
//! copy's cutout must equal the source's voxel for voxel.

use serde_json::{json, Value};

use crate::support::boss::{stack_config, tile_config};
use crate::support::cmd::temp_dir;
use crate::support::data::{Dtype, Format, Stack};
use crate::support::job::{cutout, ingest, job_id, run, write_config};
use crate::support::sim::SimHandle;
use crate::support::volumetric::sim_with_channels;

const WIDTH: u32 = 700;
const HEIGHT: u32 = 600;
const Z: (u64, u64) = (0, 5);

/// A simulator with the uint16 channels `src` and its copies `copy` (tile job) and `vcopy`
/// (volumetric job); the dir holds its resources file.
fn sim() -> (SimHandle, tempfile::TempDir) {
    sim_with_channels(&[("src", "uint16"), ("copy", "uint16"), ("vcopy", "uint16")])
}

/// A simulator holding channel `src`, filled from a generated uint16 stack by a stack job.
async fn sim_with_source(dir: &std::path::Path) -> (SimHandle, tempfile::TempDir) {
    let (sim, resources) = sim();
    let stack = Stack::write(
        &dir.join("stack"),
        "s",
        Format::Png,
        Dtype::U16,
        (WIDTH, HEIGHT),
        Z.0..Z.1,
    );
    let config = stack_config(&sim.host(), &stack, "src", Z);
    let out = run(ingest(&sim, &write_config(dir, &config))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    let want = stack.expected_box((0, WIDTH.into()), (0, HEIGHT.into()), Z);
    let got = cutout(&sim, "src", (0, WIDTH.into()), (0, HEIGHT.into()), Z).await;
    assert!(got == want, "the source channel differs from its stack");
    (sim, resources)
}

/// The intern params reading `col/exp/src` from `sim`.
fn source_params(sim: &SimHandle) -> Value {
    json!({"uri": "bossdb://col/exp/src", "host": sim.host(), "protocol": "http",
           "token": sim.token})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_is_copied_tile_by_tile_exactly() {
    let dir = temp_dir();
    let (sim, _resources) = sim_with_source(dir.path()).await;
    let processors = (
        json!({"class": "ingestclient.plugins.intern.InternPathProcessor",
               "params": source_params(&sim)}),
        json!({"class": "ingestclient.plugins.intern.InternTileProcessor",
               "params": source_params(&sim)}),
    );
    let config = tile_config(&sim, "copy", processors, (WIDTH.into(), HEIGHT.into(), Z));
    let out = run(ingest(&sim, &write_config(dir.path(), &config))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(out.stdout.contains("Uploaded 20 tiles"), "{}", out.both());
    let stats = sim.assert_completed_cleanly(job_id(&out)).await;
    assert_eq!(stats["tile_errors"], 0, "{stats}");
    let source = cutout(&sim, "src", (0, WIDTH.into()), (0, HEIGHT.into()), Z).await;
    let copy = cutout(&sim, "copy", (0, WIDTH.into()), (0, HEIGHT.into()), Z).await;
    assert_eq!(copy.len(), source.len());
    assert!(copy == source, "the copy differs from the source channel");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_channel_is_copied_chunk_by_chunk_exactly() {
    let dir = temp_dir();
    let (sim, _resources) = sim_with_source(dir.path()).await;
    // 512 × 512 × 16 chunks over 700 × 600 × 5: four chunks, three of them partial in x or y,
    // all partial in z.
    let config = crate::support::volumetric::config(
        &sim,
        "vcopy",
        [WIDTH.into(), HEIGHT.into(), Z.1],
        [512, 512, 16],
        json!({"class": "ingestclient.plugins.intern.InternPathProcessor",
               "params": source_params(&sim)}),
        json!({"class": "ingestclient.plugins.intern.InternChunkProcessor",
               "params": source_params(&sim)}),
    );
    let out = run(ingest(&sim, &write_config(dir.path(), &config))).await;
    assert_eq!(out.code, Some(0), "{}", out.both());
    sim.assert_completed_cleanly(job_id(&out)).await;
    let source = cutout(&sim, "src", (0, WIDTH.into()), (0, HEIGHT.into()), Z).await;
    let copy = cutout(&sim, "vcopy", (0, WIDTH.into()), (0, HEIGHT.into()), Z).await;
    assert_eq!(copy.len(), source.len());
    assert!(
        copy == source,
        "the volumetric copy differs from the source channel"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_fails_the_tiles_with_the_sources_answer() {
    let dir = temp_dir();
    let (sim, _resources) = sim();
    let mut params = source_params(&sim);
    params["token"] = json!("not-a-token");
    let processors = (
        json!({"class": "InternPathProcessor", "params": params.clone()}),
        json!({"class": "InternTileProcessor", "params": params}),
    );
    let config = tile_config(&sim, "copy", processors, (512, 512, (0, 1)));
    let out = run(crate::support::cmd::Cmd::boss_ingest()
        .env("INTERN_TOKEN", &sim.token)
        .arg("check")
        .arg(write_config(dir.path(), &config)))
    .await;
    assert_ne!(out.code, Some(0), "{}", out.both());
    let url = format!("{}/v1/cutout/col/exp/src/0/0:512/0:512/0:1/", sim.api);
    assert!(
        out.both().contains(&format!(
            "{url}: HTTP 401 Unauthorized; the server refuses to send it"
        )),
        "{}",
        out.both()
    );
}
