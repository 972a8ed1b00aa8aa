//! Loading an ingest job config file for the client: read it, parse it (a syntax error names the
//! file, line and column and shows the line), validate it with the code the service shares
//! (`boss_protocol::config`), hand each processor its params with the job's `ingest_job` section
//! added (spec §5), and describe the job for a person before anything is created.
//!
//! The raw JSON is kept next to the typed view: job creation posts the file's content unchanged,
//! and plugins receive the `ingest_job` section exactly as written, including keys we do not know.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use boss_protocol::config::{Config, IngestType, Invalid, Processor, Validated};
use serde_json::Value;

/// Why a config file cannot be used. Each message names the file and says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the config file {} is not valid JSON: {message} at line {line}, column {column}:\n{excerpt}",
        path.display()
    )]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        /// The offending line with a caret under the column.
        excerpt: String,
    },
    #[error(
        "the config file {} is not a valid ingest job configuration:\n{}",
        path.display(),
        bullets(&invalid.problems)
    )]
    Invalid { path: PathBuf, invalid: Invalid },
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The kinds of processor a config can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorKind {
    Path,
    Tile,
    Chunk,
}

impl ProcessorKind {
    /// The key under `client` in a config file.
    pub fn config_key(self) -> &'static str {
        match self {
            ProcessorKind::Path => "path_processor",
            ProcessorKind::Tile => "tile_processor",
            ProcessorKind::Chunk => "chunk_processor",
        }
    }
}

/// A loaded, validated config.
#[derive(Debug, Clone)]
pub struct JobConfig {
    /// The file it came from, as given.
    pub path: PathBuf,
    /// The file's JSON exactly as written (posted unchanged to create a job).
    pub raw: Value,
    /// The typed view.
    pub config: Config,
    /// Things the service would accept but probably should not (alignment, empty extents, ...).
    pub warnings: Vec<String>,
}

/// Reads, parses and validates the config file at `path`.
pub fn load(path: &Path) -> Result<JobConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and validates config `text` read from `path` (named in errors).
pub fn parse(path: &Path, text: &str) -> Result<JobConfig, ConfigError> {
    let raw: Value = serde_json::from_str(text).map_err(|e| json_error(path, text, &e))?;
    let Validated { config, warnings } =
        boss_protocol::config::validate(&raw).map_err(|invalid| ConfigError::Invalid {
            path: path.to_path_buf(),
            invalid,
        })?;
    Ok(JobConfig {
        path: path.to_path_buf(),
        raw,
        config,
        warnings,
    })
}

fn json_error(path: &Path, text: &str, e: &serde_json::Error) -> ConfigError {
    let (line, column) = (e.line(), e.column());
    // serde_json's message ends with " at line L column C"; we say that our own way.
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    let source_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let caret_at = source_line
        .chars()
        .take(column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect::<String>();
    let excerpt = format!("{line:>6} | {source_line}\n       | {caret_at}^");
    ConfigError::Json {
        path: path.to_path_buf(),
        line,
        column,
        message,
        excerpt,
    }
}

impl JobConfig {
    /// The typed entry of processor `kind`, if the config has one.
    pub fn processor(&self, kind: ProcessorKind) -> Option<&Processor> {
        let client = &self.config.client;
        match kind {
            ProcessorKind::Path => Some(&client.path_processor),
            ProcessorKind::Tile => client.tile_processor.as_ref(),
            ProcessorKind::Chunk => client.chunk_processor.as_ref(),
        }
    }

    /// What processor `kind` is set up with: its `params` with the whole `ingest_job` section of
    /// the config added under the key `"ingest_job"` (spec §5; replaces a key of that name).
    pub fn processor_params(&self, kind: ProcessorKind) -> Option<Value> {
        let params = self.raw["client"][kind.config_key()]["params"].as_object()?;
        let mut params = params.clone();
        params.insert("ingest_job".into(), self.raw["ingest_job"].clone());
        Some(Value::Object(params))
    }

    /// What host::plugins needs to resolve and construct processor `kind`.
    pub fn processor_spec(&self, kind: ProcessorKind) -> Option<crate::plugins::ProcessorSpec> {
        let p = self.processor(kind)?;
        Some(crate::plugins::ProcessorSpec {
            class: p.class.clone(),
            plugin: p.plugin.clone(),
            params: self.processor_params(kind)?,
        })
    }

    /// `{protocol}://{host}` of the Boss this job goes to.
    pub fn api_base_url(&self) -> String {
        let b = &self.config.client.backend;
        format!("{}://{}", b.protocol, b.host)
    }

    /// The job summary printed before anything runs: where it goes, what it covers, how many
    /// tiles or chunks, and which processors with which params.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let job = &c.ingest_job;
        let e = &job.extent;
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(s, "Ingest job {}", self.path.display());
        let _ = writeln!(
            s,
            "  destination:   {}/{}/{} (resolution {}) on {}",
            c.database.collection,
            c.database.experiment,
            c.database.channel,
            job.resolution,
            self.api_base_url()
        );
        let _ = writeln!(
            s,
            "  schema:        {} with {}",
            c.schema.name, c.schema.validator
        );
        let _ = writeln!(
            s,
            "  extent:        x [{}, {}), y [{}, {}), z [{}, {}), t [{}, {})",
            e.x.start, e.x.stop, e.y.start, e.y.stop, e.z.start, e.z.stop, e.t.start, e.t.stop
        );
        match job.ingest_type {
            IngestType::Tile => {
                if let Some(ts) = job.tile_size {
                    let _ = writeln!(s, "  tile size:     {} × {}", ts.x, ts.y);
                }
                let legacy = job.legacy_estimate().tiles.unwrap_or(0);
                let _ = write!(s, "  tiles:         {}", job.tile_count());
                if legacy != job.tile_count() {
                    let _ = write!(
                        s,
                        " (the Python client estimated {legacy}, rounding partial edge tiles down)"
                    );
                }
                let _ = writeln!(s);
                let _ = writeln!(s, "  chunks:        {}", job.chunk_count());
            }
            IngestType::Volumetric => {
                if let Some(cs) = job.chunk_size {
                    let _ = writeln!(s, "  chunk size:    {} × {} × {}", cs.x, cs.y, cs.z);
                }
                let _ = writeln!(s, "  type:          volumetric");
                let _ = writeln!(s, "  chunks:        {}", job.chunk_count());
            }
        }
        for kind in [
            ProcessorKind::Path,
            ProcessorKind::Tile,
            ProcessorKind::Chunk,
        ] {
            if let Some(p) = self.processor(kind) {
                let _ = write!(s, "  {}: {}", kind.config_key(), p.class);
                if let Some(lib) = &p.plugin {
                    let _ = write!(s, " (plugin {lib})");
                }
                let _ = writeln!(s);
                let _ = writeln!(s, "      params {}", Value::Object(p.params.clone()));
            }
        }
        for w in &self.warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"{
  "schema": {"name": "boss-v0.1-schema", "validator": "BossValidatorV01"},
  "client": {
    "backend": {"name": "boss", "class": "BossBackend", "host": "api.theboss.io", "protocol": "https"},
    "path_processor": {
      "class": "ingestclient.plugins.stack.ZindexStackPathProcessor",
      "params": {"root_dir": "/data", "extension": "png", "base_filename": "s<p:3>"}
    },
    "tile_processor": {
      "class": "ingestclient.plugins.stack.ZindexStackTileProcessor",
      "params": {"filesystem": "local", "extension": "png", "ingest_job": "replaced"}
    }
  },
  "database": {"collection": "col", "experiment": "exp", "channel": "ch"},
  "ingest_job": {
    "resolution": 0,
    "extent": {"x": [0, 2500], "y": [0, 2048], "z": [0, 40], "t": [0, 1]},
    "tile_size": {"x": 1024, "y": 1024, "z": 1, "t": 1},
    "note": "kept"
  }
}"#;

    fn load_example() -> JobConfig {
        parse(Path::new("job.json"), EXAMPLE).unwrap()
    }

    #[test]
    fn params_get_the_whole_ingest_job_section() {
        let c = load_example();
        let params = c.processor_params(ProcessorKind::Tile).unwrap();
        assert_eq!(params["filesystem"], json!("local"));
        assert_eq!(params["ingest_job"], c.raw["ingest_job"]);
        assert_eq!(params["ingest_job"]["note"], json!("kept"));
        let params = c.processor_params(ProcessorKind::Path).unwrap();
        assert_eq!(params["base_filename"], json!("s<p:3>"));
        assert_eq!(params["ingest_job"]["tile_size"]["x"], json!(1024));
        assert_eq!(c.processor_params(ProcessorKind::Chunk), None);
    }

    #[test]
    fn summary_names_destination_counts_and_processors() {
        let s = load_example().summary();
        assert!(
            s.contains("destination:   col/exp/ch (resolution 0) on https://api.theboss.io"),
            "{s}"
        );
        assert!(
            s.contains("x [0, 2500), y [0, 2048), z [0, 40), t [0, 1)"),
            "{s}"
        );
        assert!(
            s.contains(
                "tiles:         240 (the Python client estimated 160, rounding partial edge \
                 tiles down)"
            ),
            "{s}"
        );
        assert!(
            s.contains("path_processor: ingestclient.plugins.stack.ZindexStackPathProcessor"),
            "{s}"
        );
        assert!(s.contains("params {\"base_filename\":\"s<p:3>\""), "{s}");
    }

    #[test]
    fn syntax_error_names_file_line_and_column() {
        let text = "{\n  \"schema\": {\"name\": \"x\"\n  \"client\": {}\n}\n";
        let e = parse(Path::new("cfg/job.json"), text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the config file cfg/job.json is not valid JSON: expected `,` or `}` at line 3, \
             column 3:\n     3 |   \"client\": {}\n       |   ^"
        );
    }

    #[test]
    fn validation_errors_are_listed() {
        let mut v: Value = serde_json::from_str(EXAMPLE).unwrap();
        v["client"]
            .as_object_mut()
            .unwrap()
            .remove("tile_processor");
        v["database"]["channel"] = json!(3);
        let e = parse(Path::new("job.json"), &v.to_string()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the config file job.json is not a valid ingest job configuration:\n  - \"client\": \
             \"tile_processor\" is a required property.\n  - \"database\": \"channel\": 3 is not \
             of type \"string\"."
        );
    }

    #[test]
    fn missing_file_is_named() {
        let e = load(Path::new("/nonexistent/job.json")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read the config file /nonexistent/job.json: "),
            "{e}"
        );
    }
}
