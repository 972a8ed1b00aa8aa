//! Reading a processor's `params` object, with errors that say which key is wrong and why.
//!
//! Every processor receives its config's `params` plus the config's whole `ingest_job` section
//! under `"ingest_job"`; the tile size and extent come from there.

use serde_json::Value;

use crate::cast::Cast;
use plugin_abi::Dtype;

/// A rejected `params` object; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamsError(pub String);

/// The params object, with typed getters.
pub struct Params<'a> {
    value: &'a Value,
}

impl<'a> Params<'a> {
    pub fn new(value: &'a Value) -> Result<Params<'a>, ParamsError> {
        if value.is_object() {
            Ok(Params { value })
        } else {
            Err(ParamsError(format!(
                "params must be a JSON object, got {}",
                kind(value)
            )))
        }
    }

    /// A required string.
    pub fn string(&self, key: &str, what: &str) -> Result<&'a str, ParamsError> {
        match self.value.get(key) {
            Some(Value::String(s)) => Ok(s),
            None | Some(Value::Null) => {
                Err(ParamsError(format!("missing param \"{key}\" ({what})")))
            }
            Some(other) => Err(ParamsError(format!(
                "param \"{key}\" must be a string, got {}",
                kind(other)
            ))),
        }
    }

    /// An optional string.
    pub fn opt_string(&self, key: &str) -> Result<Option<&'a str>, ParamsError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(ParamsError(format!(
                "param \"{key}\" must be a string, got {}",
                kind(other)
            ))),
        }
    }

    /// An optional boolean. The Python client's configs sometimes spell booleans as strings, so
    /// `"true"`/`"false"` are accepted too.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, ParamsError> {
        match self.value.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(other) => Err(ParamsError(format!(
                "param \"{key}\" must be true or false, got {other}"
            ))),
        }
    }

    /// A required non-negative integer.
    pub fn uint(&self, key: &str, what: &str) -> Result<u64, ParamsError> {
        self.opt_uint(key)?
            .ok_or_else(|| ParamsError(format!("missing param \"{key}\" ({what})")))
    }

    /// An optional non-negative integer.
    pub fn opt_uint(&self, key: &str) -> Result<Option<u64>, ParamsError> {
        self.numeric(key, "a non-negative integer", serde_json::Number::as_u64)
    }

    /// A required integer that may be negative (offsets).
    pub fn int(&self, key: &str, what: &str) -> Result<i64, ParamsError> {
        self.opt_int(key)?
            .ok_or_else(|| ParamsError(format!("missing param \"{key}\" ({what})")))
    }

    /// An optional integer that may be negative.
    pub fn opt_int(&self, key: &str) -> Result<Option<i64>, ParamsError> {
        self.numeric(key, "an integer", serde_json::Number::as_i64)
    }

    /// An optional number.
    pub fn opt_float(&self, key: &str) -> Result<Option<f64>, ParamsError> {
        self.numeric(key, "a number", serde_json::Number::as_f64)
    }

    /// A number under `key`. The Python client's configs sometimes quote numbers (its code
    /// called `int()` on them), so a string holding one is accepted too.
    fn numeric<T: std::str::FromStr>(
        &self,
        key: &str,
        kind_wanted: &str,
        from_json: fn(&serde_json::Number) -> Option<T>,
    ) -> Result<Option<T>, ParamsError> {
        let value = match self.value.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v,
        };
        let parsed = match value {
            Value::Number(n) => from_json(n),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            ParamsError(format!(
                "param \"{key}\" must be {kind_wanted}, got {value}"
            ))
        })
    }

    /// Where the sources live: `filesystem` `local` (default, `None`) or `s3`/`s3_copy` with the
    /// required `bucket` (`Some(bucket)`; paths are then object keys).
    pub fn source_bucket(&self) -> Result<Option<&'a str>, ParamsError> {
        match self.opt_string("filesystem")?.unwrap_or("local") {
            "local" => Ok(None),
            "s3" | "s3_copy" => self
                .string("bucket", "the S3 bucket holding the source files")
                .map(Some),
            other => Err(ParamsError(format!(
                "param \"filesystem\" is \"{other}\"; use local, s3 or s3_copy"
            ))),
        }
    }

    /// A Boss tile dtype named by `key` (`uint8`, `uint16`, `uint64`), or `default`.
    pub fn tile_dtype(&self, key: &str, default: Dtype) -> Result<Dtype, ParamsError> {
        match self.opt_string(key)? {
            None => Ok(default),
            Some("uint8") => Ok(Dtype::U8),
            Some("uint16") => Ok(Dtype::U16),
            Some("uint64") => Ok(Dtype::U64),
            Some(other) => Err(ParamsError(format!(
                "param \"{key}\" is \"{other}\"; use uint8, uint16 or uint64"
            ))),
        }
    }

    /// The optional `cast` policy (see [`crate::cast`]).
    pub fn cast(&self) -> Result<Option<Cast>, ParamsError> {
        self.opt_string("cast")?
            .map(|c| {
                c.parse::<Cast>()
                    .map_err(|e| ParamsError(format!("param \"cast\": {e}")))
            })
            .transpose()
    }

    /// `ingest_job.tile_size.{x,y}`.
    pub fn tile_size(&self) -> Result<(u32, u32), ParamsError> {
        let get = |axis: &str| -> Result<u32, ParamsError> {
            let v = self.ingest_job("tile_size")?.get(axis);
            v.and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ParamsError(format!(
                        "ingest_job.tile_size.{axis} must be a positive integer, got {}",
                        v.map_or("nothing".to_string(), Value::to_string)
                    ))
                })
        };
        Ok((get("x")?, get("y")?))
    }

    /// An optional non-negative integer, `default` when absent. Integers written as strings
    /// (`"2"`) are accepted, as the Python client's configs sometimes spell them.
    pub fn u64_or(&self, key: &str, default: u64) -> Result<u64, ParamsError> {
        Ok(self.opt_uint(key)?.unwrap_or(default))
    }

    /// `ingest_job.chunk_size.{x,y,z}` of a volumetric job, as `[x, y, z]`.
    pub fn chunk_size(&self) -> Result<[u64; 3], ParamsError> {
        let get = |axis: &str| -> Result<u64, ParamsError> {
            let v = self.ingest_job("chunk_size")?.get(axis);
            v.and_then(Value::as_u64).filter(|n| *n > 0).ok_or_else(|| {
                ParamsError(format!(
                    "ingest_job.chunk_size.{axis} must be a positive integer, got {}",
                    v.map_or("nothing".to_string(), Value::to_string)
                ))
            })
        };
        Ok([get("x")?, get("y")?, get("z")?])
    }

    /// `ingest_job.extent.<axis>` as `[start, stop)`.
    pub fn extent(&self, axis: &str) -> Result<(u64, u64), ParamsError> {
        let v = self.ingest_job("extent")?.get(axis);
        let pair = v
            .and_then(Value::as_array)
            .and_then(|a| match a.as_slice() {
                [start, stop] => Some((start.as_u64()?, stop.as_u64()?)),
                _ => None,
            });
        pair.ok_or_else(|| {
            ParamsError(format!(
                "ingest_job.extent.{axis} must be [start, stop] with non-negative integers, got {}",
                v.map_or("nothing".to_string(), Value::to_string)
            ))
        })
    }

    fn ingest_job(&self, section: &str) -> Result<&'a Value, ParamsError> {
        self.value
            .get("ingest_job")
            .and_then(|ij| ij.get(section))
            .ok_or_else(|| {
                ParamsError(format!(
                    "params lack ingest_job.{section} (the host adds the config's ingest_job \
                     section under \"ingest_job\")"
                ))
            })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn getters_and_messages() {
        let v = json!({"a": "s", "b": 3, "f": "True",
            "ingest_job": {"tile_size": {"x": 512, "y": 256}, "extent": {"z": [0, 200], "x": [0]}}});
        let p = Params::new(&v).unwrap();
        assert_eq!(p.string("a", "x").unwrap(), "s");
        assert_eq!(
            p.string("missing", "the directory").unwrap_err().0,
            "missing param \"missing\" (the directory)"
        );
        assert_eq!(
            p.string("b", "x").unwrap_err().0,
            "param \"b\" must be a string, got a number"
        );
        assert!(p.bool("f", false).unwrap());
        assert!(!p.bool("none", false).unwrap());
        assert_eq!(
            p.bool("b", false).unwrap_err().0,
            "param \"b\" must be true or false, got 3"
        );
        assert_eq!(p.u64_or("b", 0).unwrap(), 3);
        assert_eq!(p.u64_or("none", 7).unwrap(), 7);
        assert_eq!(
            p.u64_or("a", 0).unwrap_err().0,
            "param \"a\" must be a non-negative integer, got \"s\""
        );
        assert_eq!(
            p.chunk_size().unwrap_err().0,
            "params lack ingest_job.chunk_size (the host adds the config's ingest_job section \
             under \"ingest_job\")"
        );
        let v2 = json!({"ingest_job": {"chunk_size": {"x": 512, "y": 1024, "z": 0}}});
        assert_eq!(
            Params::new(&v2).unwrap().chunk_size().unwrap_err().0,
            "ingest_job.chunk_size.z must be a positive integer, got 0"
        );
        assert_eq!(p.tile_size().unwrap(), (512, 256));
        assert_eq!(p.extent("z").unwrap(), (0, 200));
        assert_eq!(
            p.extent("x").unwrap_err().0,
            "ingest_job.extent.x must be [start, stop] with non-negative integers, got [0]"
        );
        assert_eq!(
            Params::new(&json!([])).err().unwrap().0,
            "params must be a JSON object, got an array"
        );
        let bare = json!({});
        assert_eq!(
            Params::new(&bare).unwrap().tile_size().unwrap_err().0,
            "params lack ingest_job.tile_size (the host adds the config's ingest_job section \
             under \"ingest_job\")"
        );
    }
}
