//! The command line around the upload: where the API token comes from (the Python developers'
//! `./token.json`).

use serde_json::json;

use crate::support::boss::{create_job, tile_config};
use crate::support::cmd::{temp_dir, Cmd};
use crate::support::sim::{SimHandle, SimOptions};
use crate::support::volumetric::{run, write_config};

#[test]
fn a_malformed_token_json_is_a_usage_error_naming_the_file() {
    let cwd = temp_dir();
    let token_json = cwd.path().join("token.json");
    std::fs::write(&token_json, "{\"token\": 12345}").unwrap();
    // A config-less cancel would talk to the production Boss; the token is looked up first.
    let out = Cmd::boss_ingest()
        .current_dir(cwd.path())
        .args(["-c", "-j", "5", "-f"])
        .run();
    assert_eq!(out.code, Some(2), "{}", out.both());
    assert_eq!(
        out.stderr,
        format!(
            "error: the token file {} cannot be used: its \"token\" is a number, not a string; \
             write it as {{\"token\": \"<your API token>\"}}, or remove it\n",
            token_json.display()
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_in_token_json_of_the_current_directory_is_used_last() {
    let sim = SimHandle::start(SimOptions::default());
    let cwd = temp_dir();
    let stack = |class: &str| {
        json!({"class": format!("ingestclient.plugins.stack.ZindexStack{class}Processor"),
               "params": {"root_dir": "/nonexistent", "extension": "png",
                          "base_filename": "<p:4>", "filesystem": "local"}})
    };
    let config = tile_config(
        &sim,
        "ch",
        (stack("Path"), stack("Tile")),
        (512, 512, (0, 1)),
    );
    let config_path = write_config(cwd.path(), &config);
    let job = create_job(&sim, &config).await;
    // Its `host` names another Boss: ignored, the config's backend is where the token goes.
    let token = json!({"token": sim.token, "host": "api.elsewhere.example"});
    std::fs::write(cwd.path().join("token.json"), token.to_string()).unwrap();

    let out = run(Cmd::boss_ingest()
        .current_dir(cwd.path())
        .arg(&config_path)
        .args(["-c", "-j", &job.to_string(), "-f", "-v", "debug"]))
    .await;

    assert_eq!(out.code, Some(0), "{}", out.both());
    assert!(
        out.stdout
            .contains(&format!("Job {job} is cancelled (DELETED).")),
        "{}",
        out.both()
    );
    assert!(
        out.stderr.contains("API token from ./token.json"),
        "{}",
        out.stderr
    );
    assert!(!out.both().contains(&sim.token), "the token was printed");
    assert_eq!(sim.stats(job).await["state"], "DELETED");
}
