//! Where the Boss API token comes from. Users of the Python client keep their token where the
//! `intern` library looks for it, so we look in the same places in the same order: the
//! `--api-token` flag, the `INTERN_TOKEN` environment variable, then `~/.intern/intern.cfg`
//! (section `[Default]`, key `token`, else section `[Project Service]`). The file is an INI file
//! as Python's `configparser` reads it; the small reader here handles exactly that subset.
//!
//! Last comes `token.json` in the current directory, `{"token": "...", "host": "..."}`, which
//! developers of the Python client kept next to their configs. Its `host` is ignored, as the
//! `host` in `intern.cfg` is: the Boss a token is sent to is always the one the config's
//! `client.backend` names (the production Boss for a config-less cancel). Other keys are ignored
//! too. A `token.json` that is there but unusable is an error, not a silent fall-through to
//! "no token": the user put it there to be read.
//!
//! The token itself never appears in an error, a log line or debug output; only where it came
//! from does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The token file looked for in the current directory, last of all.
pub const TOKEN_JSON: &str = "token.json";

/// Why no token could be found.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no Boss API token found: pass -a TOKEN, set INTERN_TOKEN, put `token = ...` under \
         [Default] in {intern_cfg}, or write {{\"token\": \"...\"}} to {token_json}"
    )]
    Missing {
        intern_cfg: String,
        token_json: String,
    },
    #[error(
        "the token file {path} cannot be used: {problem}; write it as \
         {{\"token\": \"<your API token>\"}}, or remove it"
    )]
    BadTokenJson { path: PathBuf, problem: String },
}

/// Where a token was found, for the log (never the token itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    Env,
    ConfigDefault,
    ConfigProjectService,
    TokenJson,
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenSource::Flag => "-a/--api-token",
            TokenSource::Env => "INTERN_TOKEN",
            TokenSource::ConfigDefault => "~/.intern/intern.cfg [Default]",
            TokenSource::ConfigProjectService => "~/.intern/intern.cfg [Project Service]",
            TokenSource::TokenJson => "./token.json",
        })
    }
}

/// A token and where it came from.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub value: String,
    pub source: TokenSource,
}

impl std::fmt::Debug for Token {
    // The token is a credential: keep it out of debug output and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Looks up the token from the process environment, `$HOME` and the current directory.
pub fn lookup(flag: Option<&str>) -> Result<Token, TokenError> {
    let env = std::env::var("INTERN_TOKEN").ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let cwd = std::env::current_dir().ok();
    lookup_in(flag, env.as_deref(), home.as_deref(), cwd.as_deref())
}

/// The lookup with its inputs made explicit, so tests need not touch the process environment
/// or its current directory.
pub fn lookup_in(
    flag: Option<&str>,
    env: Option<&str>,
    home: Option<&Path>,
    cwd: Option<&Path>,
) -> Result<Token, TokenError> {
    if let Some(value) = non_empty(flag) {
        return Ok(Token {
            value,
            source: TokenSource::Flag,
        });
    }
    if let Some(value) = non_empty(env) {
        return Ok(Token {
            value,
            source: TokenSource::Env,
        });
    }
    let intern_cfg = match home {
        Some(home) => {
            let path = home.join(".intern").join("intern.cfg");
            if let Some(token) = from_intern_cfg(&path)? {
                return Ok(token);
            }
            path.display().to_string()
        }
        None => "~/.intern/intern.cfg".into(),
    };
    let token_json = match cwd {
        Some(cwd) => {
            let path = cwd.join(TOKEN_JSON);
            if let Some(value) = from_token_json(&path)? {
                return Ok(Token {
                    value,
                    source: TokenSource::TokenJson,
                });
            }
            path.display().to_string()
        }
        None => format!("./{TOKEN_JSON}"),
    };
    Err(TokenError::Missing {
        intern_cfg,
        token_json,
    })
}

/// The token in `intern.cfg` at `path`; `None` when the file or its token is not there.
fn from_intern_cfg(path: &Path) -> Result<Option<Token>, TokenError> {
    let Some(text) = read_if_there(path)? else {
        return Ok(None);
    };
    let ini = parse_ini(&text);
    for (section, source) in [
        ("Default", TokenSource::ConfigDefault),
        ("Project Service", TokenSource::ConfigProjectService),
    ] {
        let value = ini.get(section).and_then(|s| s.get("token"));
        if let Some(value) = non_empty(value.map(String::as_str)) {
            return Ok(Some(Token { value, source }));
        }
    }
    Ok(None)
}

/// The token in `token.json` at `path`; `None` when there is no such file.
fn from_token_json(path: &Path) -> Result<Option<String>, TokenError> {
    let Some(text) = read_if_there(path)? else {
        return Ok(None);
    };
    parse_token_json(&text)
        .map(Some)
        .map_err(|problem| TokenError::BadTokenJson {
            path: path.to_path_buf(),
            problem,
        })
}

/// The `token` of a `token.json`, or what is wrong with it. The wording never quotes the
/// file's values (serde's "invalid type" messages would), since one of them is a credential.
pub fn parse_token_json(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("it is empty".into());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("it is not valid JSON ({e})"))?;
    let map = match value {
        serde_json::Value::Object(map) => map,
        other => return Err(format!("it holds {}, not an object", json_kind(&other))),
    };
    match map.get("token") {
        None => Err("it has no \"token\" key".into()),
        Some(serde_json::Value::String(s)) => {
            non_empty(Some(s.as_str())).ok_or_else(|| "its \"token\" is empty".into())
        }
        Some(other) => Err(format!(
            "its \"token\" is {}, not a string",
            json_kind(other)
        )),
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The file's text; `None` when it does not exist.
fn read_if_there(path: &Path) -> Result<Option<String>, TokenError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(TokenError::Unreadable {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Section name → (lower-cased key → value), as `configparser` reads it: `key = value` or
/// `key: value`, `#`/`;` comment lines, keys case-insensitive, section names case-sensitive,
/// indented lines continue the previous value. Lines outside any section are ignored.
pub fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if indented {
            if let (Some(section), Some(key)) = (&current, &last_key) {
                if let Some(value) = sections.get_mut(section).and_then(|s| s.get_mut(key)) {
                    value.push('\n');
                    value.push_str(trimmed);
                }
                continue;
            }
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let name = name.trim().to_string();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            last_key = None;
            continue;
        }
        let Some(section) = &current else { continue };
        // configparser splits at the first of `=` or `:`.
        let Some(at) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..at].trim().to_lowercase();
        let value = trimmed[at + 1..].trim().to_string();
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.clone(), value);
        last_key = Some(key);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(cfg: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().expect("temp home");
        std::fs::create_dir_all(home.path().join(".intern")).expect("mkdir .intern");
        std::fs::write(home.path().join(".intern/intern.cfg"), cfg).expect("write intern.cfg");
        home
    }

    /// A directory standing in for the current directory, holding `token.json` if given.
    fn cwd_with(token_json: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp cwd");
        if let Some(text) = token_json {
            std::fs::write(dir.path().join(TOKEN_JSON), text).expect("write token.json");
        }
        dir
    }

    #[test]
    fn flag_wins_over_everything() {
        let home = home_with("[Default]\ntoken = fromfile\n");
        let cwd = cwd_with(Some(r#"{"token": "fromjson"}"#));
        let t = lookup_in(
            Some("fromflag"),
            Some("fromenv"),
            Some(home.path()),
            Some(cwd.path()),
        )
        .unwrap();
        assert_eq!(t.value, "fromflag");
        assert_eq!(t.source, TokenSource::Flag);
    }

    #[test]
    fn env_wins_over_file() {
        let home = home_with("[Default]\ntoken = fromfile\n");
        let t = lookup_in(None, Some("fromenv"), Some(home.path()), None).unwrap();
        assert_eq!(t.value, "fromenv");
        assert_eq!(t.source, TokenSource::Env);
    }

    #[test]
    fn default_section_before_project_service() {
        let home = home_with(
            "[Project Service]\nprotocol = https\ntoken = ps\n\n[Default]\nhost = api.bossdb.io\nTOKEN: def\n",
        );
        let t = lookup_in(None, None, Some(home.path()), None).unwrap();
        assert_eq!(t.value, "def");
        assert_eq!(t.source, TokenSource::ConfigDefault);
    }

    #[test]
    fn project_service_when_default_has_no_token() {
        let home = home_with(
            "# intern config\n[Default]\nprotocol = https\n; no token here\n[Project Service]\ntoken = abc123\n",
        );
        let t = lookup_in(None, Some(""), Some(home.path()), None).unwrap();
        assert_eq!(t.value, "abc123");
        assert_eq!(t.source, TokenSource::ConfigProjectService);
    }

    #[test]
    fn intern_cfg_wins_over_token_json() {
        let home = home_with("[Default]\ntoken = fromcfg\n");
        // Never read: a broken token.json does not matter while intern.cfg has a token.
        let cwd = cwd_with(Some("{not json"));
        let t = lookup_in(None, None, Some(home.path()), Some(cwd.path())).unwrap();
        assert_eq!(t.value, "fromcfg");
        assert_eq!(t.source, TokenSource::ConfigDefault);
    }

    #[test]
    fn token_json_is_read_last_and_its_host_ignored() {
        let home = home_with("[Default]\nprotocol = https\n");
        let cwd = cwd_with(Some(
            r#"{"token": " abc123 ", "host": "api.theboss.io", "protocol": "https"}"#,
        ));
        let t = lookup_in(None, None, Some(home.path()), Some(cwd.path())).unwrap();
        assert_eq!(
            t,
            Token {
                value: "abc123".into(),
                source: TokenSource::TokenJson
            }
        );
        // Without HOME at all, token.json is still found.
        let t = lookup_in(None, None, None, Some(cwd.path())).unwrap();
        assert_eq!(t.source, TokenSource::TokenJson);
    }

    #[test]
    fn malformed_token_json_names_the_file_and_the_fix() {
        let cases = [
            ("", "it is empty"),
            (
                "{\"token\": \"abc\"",
                "it is not valid JSON (EOF while parsing an object at line 1 column 15)",
            ),
            (r#"["abc"]"#, "it holds an array, not an object"),
            (r#"{"host": "api.bossdb.io"}"#, "it has no \"token\" key"),
            (
                r#"{"token": 12345}"#,
                "its \"token\" is a number, not a string",
            ),
            (r#"{"token": null}"#, "its \"token\" is null, not a string"),
            (r#"{"token": "  "}"#, "its \"token\" is empty"),
        ];
        let home = tempfile::tempdir().unwrap();
        for (text, problem) in cases {
            let cwd = cwd_with(Some(text));
            let err = lookup_in(None, None, Some(home.path()), Some(cwd.path())).unwrap_err();
            let path = cwd.path().join("token.json");
            assert_eq!(
                err.to_string(),
                format!(
                    "the token file {} cannot be used: {problem}; write it as \
                     {{\"token\": \"<your API token>\"}}, or remove it",
                    path.display()
                ),
                "for {text:?}"
            );
        }
    }

    #[test]
    fn token_json_errors_never_quote_the_token() {
        let cwd = cwd_with(Some(r#"{"token": ["secret-value"]}"#));
        let err = lookup_in(None, None, None, Some(cwd.path())).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("its \"token\" is an array, not a string"),
            "{text}"
        );
        assert!(!text.contains("secret-value"), "{text}");
        assert!(!format!("{err:?}").contains("secret-value"));
    }

    #[test]
    fn missing_everywhere_says_what_to_do() {
        let home = home_with("[Default]\nprotocol = https\n");
        let cwd = cwd_with(None);
        let err = lookup_in(None, None, Some(home.path()), Some(cwd.path())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no Boss API token found: pass -a TOKEN, set INTERN_TOKEN, put `token = ...` \
                 under [Default] in {}, or write {{\"token\": \"...\"}} to {}",
                home.path().join(".intern/intern.cfg").display(),
                cwd.path().join("token.json").display()
            )
        );
        let err = lookup_in(None, None, None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no Boss API token found: pass -a TOKEN, set INTERN_TOKEN, put `token = ...` \
             under [Default] in ~/.intern/intern.cfg, or write {\"token\": \"...\"} to \
             ./token.json"
        );
    }

    #[test]
    fn no_config_file_is_missing_not_unreadable() {
        let home = tempfile::tempdir().unwrap();
        let err = lookup_in(None, None, Some(home.path()), Some(home.path())).unwrap_err();
        assert!(matches!(err, TokenError::Missing { .. }), "{err:?}");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let t = lookup_in(Some("secret-value"), None, None, None).unwrap();
        assert!(!format!("{t:?}").contains("secret-value"));
    }

    #[test]
    fn sources_are_named_for_the_log() {
        assert_eq!(TokenSource::TokenJson.to_string(), "./token.json");
        assert_eq!(
            TokenSource::ConfigDefault.to_string(),
            "~/.intern/intern.cfg [Default]"
        );
    }

    #[test]
    fn ini_continuation_and_case() {
        let ini = parse_ini("[A]\nKey = one\n  two\nother=x\n");
        assert_eq!(ini["A"]["key"], "one\ntwo");
        assert_eq!(ini["A"]["other"], "x");
    }
}
