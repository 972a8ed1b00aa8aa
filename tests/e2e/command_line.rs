//! The command line around the upload: shell completions, man pages, the environment listed in
//! `--help`, and where the API token comes from (the Python developers' `./token.json`).

use serde_json::json;

use crate::support::boss::tile_config;
use crate::support::cmd::{temp_dir, Cmd};
use crate::support::job::{create_job, run, write_config};
use crate::support::sim::{SimHandle, SimOptions};

#[test]
fn completions_bash_prints_a_script_that_completes_every_subcommand() {
    let out = Cmd::boss_ingest().args(["completions", "bash"]).run();
    assert_eq!(out.code, Some(0), "{}", out.both());
    assert_eq!(out.stderr, "");
    // clap_complete registers its function for the program name, with bash's default fallbacks.
    assert!(
        out.stdout
            .contains("complete -F _boss__ingest -o nosort -o bashdefault -o default boss-ingest"),
        "{}",
        out.stdout
    );
    // Its list of words after `boss-ingest`, subcommands included.
    assert!(
        out.stdout
            .contains("opts=\"check verify plugins completions man help\""),
        "{}",
        out.stdout
    );
}

#[test]
fn completions_zsh_and_fish_are_scripts_for_those_shells() {
    let zsh = Cmd::boss_ingest().args(["completions", "zsh"]).run();
    assert_eq!(zsh.code, Some(0), "{}", zsh.both());
    assert!(
        zsh.stdout.starts_with("#compdef boss-ingest\n"),
        "{}",
        zsh.stdout
    );
    let fish = Cmd::boss_ingest().args(["completions", "fish"]).run();
    assert_eq!(fish.code, Some(0), "{}", fish.both());
    assert!(
        fish.stdout.contains(
            "complete -c boss-ingest -n \"__fish_boss_ingest_needs_command\" -a \"check\" \
             -d 'Check a config and its source data"
        ),
        "{}",
        fish.stdout
    );
    let bad = Cmd::boss_ingest().args(["completions", "tcsh"]).run();
    assert_eq!(bad.code, Some(2), "{}", bad.both());
    assert!(
        bad.stderr.contains("invalid value 'tcsh' for '<SHELL>'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn help_lists_every_environment_variable() {
    let out = Cmd::boss_ingest().arg("--help").run();
    assert_eq!(out.code, Some(0), "{}", out.both());
    let lines: Vec<&str> = out.stdout.lines().collect();
    for line in [
        "Environment:",
        "  INTERN_TOKEN                     the Boss API token when -a is not given (also the intern",
        "  BOSS_INGEST_LOG                  log filter over -v, in env_logger syntax: boss_ingest=debug",
        "  BOSS_INGEST_PROGRESS_SECS        seconds between progress updates (default: bar 2, log/json 30)",
        "  BOSS_INGEST_PLUGIN_PATH          directories searched first for plugin libraries, split like PATH",
        "  AWS_ENDPOINT_URL                 S3 and SQS endpoint instead of AWS (how a local Boss is reached)",
        "  AWS_ENDPOINT_URL_S3              S3 endpoint, over AWS_ENDPOINT_URL",
        "  AWS_ENDPOINT_URL_SQS             SQS endpoint, over AWS_ENDPOINT_URL",
        "  BOSS_INGEST_SOURCE_ENDPOINT_URL  endpoint for s3:// sources only, over the AWS_ENDPOINT_URL* ones",
    ] {
        assert!(lines.contains(&line), "no line {line:?} in:\n{}", out.stdout);
    }
    assert!(
        out.stdout.contains(
            "Boss API token (default: $INTERN_TOKEN, then ~/.intern/intern.cfg, then ./token.json)"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn man_writes_a_page_per_command_into_the_directory() {
    let dir = temp_dir();
    let out_dir = dir.path().join("man1");
    let out = Cmd::boss_ingest().arg("man").arg(&out_dir).run();
    assert_eq!(out.code, Some(0), "{}", out.both());
    let expected: Vec<String> = [
        "boss-ingest-check.1",
        "boss-ingest-completions.1",
        "boss-ingest-man.1",
        "boss-ingest-plugins.1",
        "boss-ingest-verify.1",
        "boss-ingest.1",
    ]
    .iter()
    .map(|name| format!("{}\n", out_dir.join(name).display()))
    .collect();
    assert_eq!(out.stdout, expected.concat());
    let page = std::fs::read_to_string(out_dir.join("boss-ingest.1")).unwrap();
    assert!(page.contains(".TH boss-ingest 1"), "{page}");
    assert!(page.contains("BOSS_INGEST_SOURCE_ENDPOINT_URL"), "{page}");
}

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
