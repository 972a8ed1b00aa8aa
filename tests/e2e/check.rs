//! `boss-ingest check`: the preflight run on real generated stacks with the real binary and the
//! built-in stack plugin. Each test states the exact counts, files, z slices and messages the
//! report must contain.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::support::cmd::{temp_dir, Cmd, Output};
use crate::support::data::{Dtype, Format, Stack};
use crate::support::job::write_config;

/// The acceptance stack of the issue: 2048×2048×40 uint16 TIFF slices, checked with 1024² tiles
/// (4 tiles per slice, 160 in all). Written once and shared read-only; tests that need a broken
/// variant link to these slices from a directory of their own.
fn shared_stack() -> &'static Stack {
    static STACK: OnceLock<(tempfile::TempDir, Stack)> = OnceLock::new();
    &STACK
        .get_or_init(|| {
            let dir = temp_dir();
            let stack = Stack::write(
                &dir.path().join("slices"),
                "slice",
                Format::Tiff,
                Dtype::U16,
                (2048, 2048),
                0..40,
            );
            (dir, stack)
        })
        .1
}

/// A copy of the shared stack in `dir` made of symlinks (cheap), without the slices in `skip`.
fn linked_stack(dir: &Path, skip: &[u64]) -> Stack {
    let shared = shared_stack();
    let slices = dir.join("slices");
    std::fs::create_dir_all(&slices).unwrap();
    for z in (0..40).filter(|z| !skip.contains(z)) {
        let from = shared.slice_path(z);
        std::os::unix::fs::symlink(&from, slices.join(from.file_name().unwrap())).unwrap();
    }
    Stack {
        dir: slices,
        prefix: shared.prefix.clone(),
        format: shared.format,
        dtype: shared.dtype,
        width: shared.width,
        height: shared.height,
    }
}

/// A v0.1 config for `stack` with the Python client's legacy class names.
fn stack_config(stack: &Stack, z: (u64, u64), tile: u64) -> Value {
    json!({
      "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
      "client": {
        "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io",
                    "protocol": "https"},
        "path_processor": {
          "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
          "params": {"root_dir": stack.dir, "extension": stack.format.extension(),
                     "base_filename": format!("{}<>", stack.prefix)}
        },
        "tile_processor": {
          "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
          "params": {"filesystem": "local", "extension": stack.format.extension()}
        }
      },
      "database": {"collection": "col", "experiment": "exp", "channel": "ch"},
      "ingest_job": {
        "resolution": 0,
        "extent": {"x": [0, stack.width], "y": [0, stack.height], "z": [z.0, z.1], "t": [0, 1]},
        "tile_size": {"x": tile, "y": tile, "z": 1, "t": 1}
      }
    })
}

fn check(config: &Path, extra: &[&str]) -> Output {
    Cmd::boss_ingest()
        .arg("check")
        .arg(config)
        .args(extra)
        .run()
}

fn json_report(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("JSON report: {e}\n{}", out.both()))
}

#[test]
fn check_logs_through_the_boss_ingest_log_filter_like_every_command() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &stack_config(shared_stack(), (0, 40), 1024));
    let line = "INFO  boss_ingest::commands::check] checking 160 tiles on 2 workers\n";
    let quiet = check(&config, &["-p", "2"]);
    assert_eq!(quiet.code, Some(0), "{}", quiet.both());
    assert!(!quiet.stderr.contains(line), "{}", quiet.both());
    let loud = Cmd::boss_ingest()
        .env("BOSS_INGEST_LOG", "boss_ingest::commands::check=info")
        .arg("check")
        .arg(&config)
        .args(["-p", "2"])
        .run();
    assert_eq!(loud.code, Some(0), "{}", loud.both());
    assert!(loud.stderr.contains(line), "{}", loud.both());
}

#[test]
fn good_stack_has_160_good_tiles() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &stack_config(shared_stack(), (0, 40), 1024));
    let report = dir.path().join("report.json");
    let out = check(&config, &["--json", report.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    for line in [
        "  destination:   col/exp/ch (resolution 0) on https://api.theboss.io\n",
        "  tiles:         160\n",
        "Checked 160 of 160 tiles",
        "  dtypes:       uint16 ×160\n",
        "Result: 160 good tiles, 0 bad tiles.\n",
    ] {
        assert!(out.stdout.contains(line), "no {line:?} in\n{}", out.both());
    }
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["tiles_in_job"], 160);
    assert_eq!(r["tiles_checked"], 160);
    assert_eq!(r["good_tiles"], 160);
    assert_eq!(r["bad_tiles"], 0);
    assert_eq!(r["sampled"], false);
    assert_eq!(r["dtypes"], json!({"uint16": 160}));
    assert_eq!(r["expected_dtype"], "uint16");
    assert_eq!(r["problems"], json!([]));
    assert_eq!(r["problems_by_kind"], json!({}));
    // Each tile is a PNG of 1024² 16-bit samples: more than a header, less than raw plus slack.
    let bytes = r["upload_bytes"].as_u64().unwrap();
    assert!(
        bytes > 160 * 1000 && bytes < 160 * (2 * 1024 * 1024 + 4096),
        "{bytes}"
    );
}

#[test]
fn missing_slice_is_named_with_its_z() {
    let dir = temp_dir();
    let stack = linked_stack(dir.path(), &[17]);
    let config = write_config(dir.path(), &stack_config(&stack, (0, 40), 1024));
    let out = check(&config, &[]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    let missing = stack.slice_path(17).display().to_string();
    for (x, y) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
        let line = format!("  tile x={x} y={y} z=17 t=0: missing file: {missing}: file not found");
        assert!(
            out.stdout.contains(&line),
            "no line {line:?} in\n{}",
            out.both()
        );
    }
    assert!(out.stdout.contains("  missing file: 4\n"), "{}", out.both());
    assert!(
        out.stdout.contains("Result: 156 good tiles, 4 bad tiles."),
        "{}",
        out.both()
    );
}

#[test]
fn slice_of_the_wrong_size_names_expected_and_actual_size() {
    let dir = temp_dir();
    let stack = linked_stack(dir.path(), &[5]);
    stack.write_slice(5, 2048, 1000);
    let config = write_config(dir.path(), &stack_config(&stack, (0, 40), 1024));
    let out = check(&config, &["--json", "-"]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["good_tiles"], 156);
    assert_eq!(r["bad_tiles"], 4);
    let file = stack.slice_path(5).display().to_string();
    let problems = r["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 4, "{}", out.both());
    for p in problems {
        assert_eq!(p["z"], 5);
        assert_eq!(p["file"], json!(file));
        let message = p["message"].as_str().unwrap();
        assert!(
            message.contains("2048×1000"),
            "actual size missing: {message}"
        );
        let (x, y) = (p["x"].as_u64().unwrap(), p["y"].as_u64().unwrap());
        let need = format!("needs at least {}×{}", 1024 * (x + 1), 1024 * (y + 1));
        assert!(message.contains(&need), "expected size missing: {message}");
    }
}

/// Written the way the Python client's documentation writes its z-stack example, with only the
/// paths and extents changed to this data: legacy class names, boss-v0.1-schema, the same keys.
#[test]
fn python_client_config_passes_unchanged() {
    let dir = temp_dir();
    let stack = Stack::write(
        &dir.path().join("data"),
        "stack_",
        Format::Png,
        Dtype::U8,
        (2048, 1024),
        0..16,
    );
    // The documented base filename pattern, `<o:3253>_my_stack_section<p:3>`, as symlinks.
    for z in 0..16 {
        let name = format!("{}_my_stack_section{z:03}.png", 3253 + z);
        std::os::unix::fs::symlink(stack.slice_path(z), dir.path().join(name)).unwrap();
    }
    let text = format!(
        r#"{{
  "schema": {{
      "name": "boss-v0.1-schema",
      "validator": "BossValidatorV01"
  }},
  "client": {{
    "backend": {{
      "name": "boss",
      "class": "BossBackend",
      "host": "api.theboss.io",
      "protocol": "https"
    }},
    "path_processor": {{
      "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
      "params": {{
        "root_dir": "{root}",
        "extension": "png",
        "base_filename": "<o:3253>_my_stack_section<p:3>"
      }}
    }},
    "tile_processor": {{
      "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
      "params": {{
        "filesystem": "local",
        "extension": "png"
      }}
    }}
  }},
  "database": {{
    "collection": "my_col_1",
    "experiment": "my_exp_1",
    "channel": "my_ch_1"
  }},
  "ingest_job": {{
    "resolution": 0,
    "extent": {{
      "x": [0, 2048],
      "y": [0, 1024],
      "z": [0, 16],
      "t": [0, 1]
    }},
    "tile_size": {{
      "x": 1024,
      "y": 1024,
      "z": 1,
      "t": 1
    }}
  }}
}}
"#,
        root = dir.path().display()
    );
    let config = dir.path().join("boss-v0.1-zStack-example.json");
    std::fs::write(&config, text).unwrap();
    let out = check(&config, &["--json", "-"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["good_tiles"], 32);
    assert_eq!(r["dtypes"], json!({"uint8": 32}));
    assert_eq!(r["warnings"], json!([]));
    assert!(
        out.stderr.contains("my_col_1/my_exp_1/my_ch_1"),
        "{}",
        out.both()
    );
}

#[test]
fn malformed_json_names_line_and_column() {
    let dir = temp_dir();
    let config = dir.path().join("broken.json");
    std::fs::write(
        &config,
        "{\n  \"schema\": {\"name\": \"boss-v0.1-schema\"}\n  \"client\": {}\n}\n",
    )
    .unwrap();
    let out = check(&config, &[]);
    assert_eq!(out.code, Some(2), "{}", out.both());
    let expected = format!(
        "error: the config file {} is not valid JSON: expected `,` or `}}` at line 3, column 3:\n     3 |   \"client\": {{}}\n       |   ^\n",
        config.display()
    );
    assert_eq!(out.stderr, expected, "{}", out.both());
}

#[test]
fn schema_failures_give_the_exact_messages() {
    let dir = temp_dir();
    let mut config = stack_config(shared_stack(), (0, 40), 1024);
    config["ingest_job"]
        .as_object_mut()
        .unwrap()
        .remove("tile_size");
    config["database"]["channel"] = json!(33);
    let path = write_config(dir.path(), &config);
    let out = check(&path, &[]);
    assert_eq!(out.code, Some(2), "{}", out.both());
    let expected = format!(
        "error: the config file {} is not a valid ingest job configuration:\n  - \"database\": \
         \"channel\": 33 is not of type \"string\".\n  - \"ingest_job\": \"tile_size\" is a \
         required property.\n",
        path.display()
    );
    assert_eq!(out.stderr, expected, "{}", out.both());
}

#[test]
fn v02_validator_rules_give_the_exact_messages() {
    let dir = temp_dir();
    let mut config = stack_config(shared_stack(), (0, 40), 1024);
    config["schema"] = json!({"name": "boss-v0.2-schema", "validator": "BossValidatorV02"});
    config["ingest_job"]["ingest_type"] = json!("volumetric");
    config["ingest_job"]["chunk_size"] = json!({"x": 1000, "y": 1024, "z": 64});
    let path = write_config(dir.path(), &config);
    let out = check(&path, &[]);
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr.contains(
            "  - \"ingest_job\": \"chunk_size\": \"x\" must be a multiple of 512.\n  - \
             \"client\": \"chunk_processor\" required for volumetric ingest jobs.\n"
        ),
        "{}",
        out.both()
    );
}

#[test]
fn sample_checks_that_many_tiles() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &stack_config(shared_stack(), (0, 40), 1024));
    let out = check(&config, &["--sample", "12", "--seed", "7", "--json", "-"]);
    assert_eq!(out.code, Some(0), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["tiles_checked"], 12);
    assert_eq!(r["good_tiles"], 12);
    assert_eq!(r["sampled"], true);
    assert!(r["estimated_job_bytes"].as_u64().unwrap() > r["upload_bytes"].as_u64().unwrap());
    assert!(
        out.stderr
            .contains("Checked a random sample of 12 of the job's 160 tiles"),
        "{}",
        out.both()
    );
}

#[test]
fn dtype_flag_and_odd_dtype_slices_are_mismatches() {
    let dir = temp_dir();
    let stack = linked_stack(dir.path(), &[3]);
    // Slice 3 as uint8 among uint16 slices (a new file: the link to the shared slice was skipped).
    let odd = Stack {
        dir: stack.dir.clone(),
        prefix: stack.prefix.clone(),
        format: stack.format,
        dtype: Dtype::U8,
        width: stack.width,
        height: stack.height,
    };
    odd.write_slice(3, 2048, 2048);
    let config = write_config(dir.path(), &stack_config(&stack, (0, 8), 1024));
    let out = check(&config, &["--json", "-"]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["good_tiles"], 28);
    assert_eq!(r["problems_by_kind"], json!({"dtype": 4}));
    assert_eq!(r["expected_dtype"], "uint16");
    let file = stack.slice_path(3).display().to_string();
    for p in r["problems"].as_array().unwrap() {
        assert_eq!(p["z"], 3);
        assert_eq!(
            p["message"],
            json!(format!("{file}: tile is uint8, but most tiles are uint16"))
        );
    }
    // With --dtype uint8, the uint16 slices are the mismatches.
    let out = check(&config, &["--dtype", "uint8", "--json", "-"]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["good_tiles"], 4);
    assert_eq!(r["problems_by_kind"], json!({"dtype": 28}));
}

#[test]
fn fail_gracefully_tiles_are_reported_black() {
    let dir = temp_dir();
    let stack = linked_stack(dir.path(), &[2]);
    let mut config = stack_config(&stack, (0, 4), 1024);
    config["client"]["tile_processor"]["params"]["fail_gracefully"] = json!(true);
    config["client"]["tile_processor"]["params"]["datatype"] = json!("uint16");
    let path = write_config(dir.path(), &config);
    let out = check(&path, &["--json", "-"]);
    assert_eq!(out.code, Some(1), "{}", out.both());
    let r = json_report(&out);
    assert_eq!(r["good_tiles"], 12);
    assert_eq!(r["problems_by_kind"], json!({"black_tile": 4}));
    for p in r["problems"].as_array().unwrap() {
        assert_eq!(p["z"], 2);
    }
}

/// The legacy command line takes the config as its first word, so a config file named like a
/// subcommand is reached through a path: `boss-ingest ./check` reads the file `check`.
#[test]
fn a_config_file_named_check_is_reached_as_dot_slash_check() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("check"), "{ not json").unwrap();
    let out = Cmd::boss_ingest()
        .arg("./check")
        .arg("-f")
        .current_dir(dir.path())
        .run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr
            .starts_with("error: the config file ./check is not valid JSON: key must be a string at line 1, column 3:"),
        "{}",
        out.both()
    );
}

#[test]
fn an_unwritable_json_report_is_a_usage_error_naming_the_file() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &stack_config(shared_stack(), (0, 1), 1024));
    let report = dir.path().join("no-such-dir").join("report.json");
    let out = check(&config, &["--json", report.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert_eq!(
        out.stderr,
        format!(
            "error: writing the JSON report to {}: No such file or directory (os error 2)\n",
            report.display()
        ),
        "{}",
        out.both()
    );
}

#[test]
fn a_job_without_tiles_is_refused_not_passed() {
    let dir = temp_dir();
    let config = write_config(dir.path(), &stack_config(shared_stack(), (16, 16), 1024));
    let out = check(&config, &[]);
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stdout.contains(
            "  warning: \"ingest_job\": \"extent\": \"z\" is [16, 16]: start must be less than \
             stop, or the job has nothing to upload.\n"
        ),
        "{}",
        out.both()
    );
    assert_eq!(
        out.stderr,
        format!(
            "error: the job in {} has no tiles; check \"ingest_job\": \"extent\" (see the \
             warnings above)\n",
            config.display()
        )
    );
}

/// Usage errors end with exit code 2 and one line saying what is missing.
#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    let out = Cmd::boss_ingest().run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert_eq!(
        out.stderr,
        "error: an ingest job configuration file is required: boss-ingest <config.json> (or -c \
         -j ID to cancel a job, or a subcommand: check, verify, plugins, completions, man; see \
         --help)\n"
    );
    let out = Cmd::boss_ingest().arg("-c").run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert_eq!(
        out.stderr,
        "error: you must provide an ingest job ID to cancel: boss-ingest [config.json] -c -j ID\n"
    );
    let out = Cmd::boss_ingest()
        .args(["check", "job.json", "--sample", "0"])
        .run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert!(
        out.stderr
            .starts_with("error: invalid value '0' for '--sample <N>': 0 is not in 1.."),
        "{}",
        out.both()
    );
}
