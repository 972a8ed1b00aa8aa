//! Where the Boss API token comes from. Users of the Python client keep their token where the
//! `intern` library looks for it, so we look in the same places in the same order: the
//! `--api-token` flag, the `INTERN_TOKEN` environment variable, then `~/.intern/intern.cfg`
//! (section `[Default]`, key `token`, else section `[Project Service]`). The file is an INI file
//! as Python's `configparser` reads it; the small reader here handles exactly that subset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why no token could be found.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "no Boss API token found: pass -a TOKEN, set INTERN_TOKEN, or put `token = ...` under \
         [Default] in {path}"
    )]
    Missing { path: String },
}

/// Where a token was found, for the log (never the token itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    Env,
    ConfigDefault,
    ConfigProjectService,
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

/// Looks up the token from the process environment and `$HOME`.
pub fn lookup(flag: Option<&str>) -> Result<Token, TokenError> {
    let env = std::env::var("INTERN_TOKEN").ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    lookup_in(flag, env.as_deref(), home.as_deref())
}

/// The lookup with its inputs made explicit, so tests need not touch the process environment.
pub fn lookup_in(
    flag: Option<&str>,
    env: Option<&str>,
    home: Option<&Path>,
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
    let Some(home) = home else {
        return Err(TokenError::Missing {
            path: "~/.intern/intern.cfg".into(),
        });
    };
    let path = home.join(".intern").join("intern.cfg");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TokenError::Missing {
                path: path.display().to_string(),
            })
        }
        Err(source) => return Err(TokenError::Unreadable { path, source }),
    };
    let ini = parse_ini(&text);
    for (section, source) in [
        ("Default", TokenSource::ConfigDefault),
        ("Project Service", TokenSource::ConfigProjectService),
    ] {
        let value = ini.get(section).and_then(|s| s.get("token"));
        if let Some(value) = non_empty(value.map(String::as_str)) {
            return Ok(Token { value, source });
        }
    }
    Err(TokenError::Missing {
        path: path.display().to_string(),
    })
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

    #[test]
    fn flag_wins_over_everything() {
        let home = home_with("[Default]\ntoken = fromfile\n");
        let t = lookup_in(Some("fromflag"), Some("fromenv"), Some(home.path())).unwrap();
        assert_eq!(t.value, "fromflag");
        assert_eq!(t.source, TokenSource::Flag);
    }

    #[test]
    fn env_wins_over_file() {
        let home = home_with("[Default]\ntoken = fromfile\n");
        let t = lookup_in(None, Some("fromenv"), Some(home.path())).unwrap();
        assert_eq!(t.value, "fromenv");
        assert_eq!(t.source, TokenSource::Env);
    }

    #[test]
    fn default_section_before_project_service() {
        let home = home_with(
            "[Project Service]\nprotocol = https\ntoken = ps\n\n[Default]\nhost = api.bossdb.io\nTOKEN: def\n",
        );
        let t = lookup_in(None, None, Some(home.path())).unwrap();
        assert_eq!(t.value, "def");
        assert_eq!(t.source, TokenSource::ConfigDefault);
    }

    #[test]
    fn project_service_when_default_has_no_token() {
        let home = home_with(
            "# intern config\n[Default]\nprotocol = https\n; no token here\n[Project Service]\ntoken = abc123\n",
        );
        let t = lookup_in(None, Some(""), Some(home.path())).unwrap();
        assert_eq!(t.value, "abc123");
        assert_eq!(t.source, TokenSource::ConfigProjectService);
    }

    #[test]
    fn missing_everywhere_says_what_to_do() {
        let home = home_with("[Default]\nprotocol = https\n");
        let err = lookup_in(None, None, Some(home.path())).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("no Boss API token found: pass -a TOKEN, set INTERN_TOKEN"));
        assert!(text.ends_with(".intern/intern.cfg"), "{text}");
    }

    #[test]
    fn no_config_file_is_missing_not_unreadable() {
        let home = tempfile::tempdir().unwrap();
        let err = lookup_in(None, None, Some(home.path())).unwrap_err();
        assert!(matches!(err, TokenError::Missing { .. }), "{err:?}");
    }

    #[test]
    fn debug_output_hides_the_token() {
        let t = lookup_in(Some("secret-value"), None, None).unwrap();
        assert!(!format!("{t:?}").contains("secret-value"));
    }

    #[test]
    fn ini_continuation_and_case() {
        let ini = parse_ini("[A]\nKey = one\n  two\nother=x\n");
        assert_eq!(ini["A"]["key"], "one\ntwo");
        assert_eq!(ini["A"]["other"], "x");
    }
}
