//! A Boss channel as a source: the params that name it, and reading a box of it through the
//! cutout API (`GET /v1/cutout/{col}/{exp}/{ch}/{res}/{x0}:{x1}/{y0}:{y1}/{z0}:{z1}/`).
//!
//! The box is asked for and decoded as `boss_protocol::cutout` says (`application/blosc`, the
//! only raw-voxel form the real cutout view renders). The sample size follows from the decoded
//! length, so the source channel's dtype needs no separate request; `datatype` in params, when
//! given, is checked against it.

use boss_ingest_plugin_kit::params::{Params, ParamsError};
use boss_protocol::cutout::{self, Region};
use plugin_abi::{Dtype, HostServices, PluginError};
use serde_json::Value;

/// The environment variable the Boss tools read a token from, used when params have none.
pub const TOKEN_VAR: &str = "INTERN_TOKEN";

/// Where the source channel is and how to ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// `{protocol}://{host}`, no trailing slash.
    pub base: String,
    pub collection: String,
    pub experiment: String,
    pub channel: String,
    pub resolution: u64,
    pub token: String,
    /// The dtype the user says the source has, checked against what arrives.
    pub datatype: Option<Dtype>,
}

impl Channel {
    /// From params `uri` (`bossdb://col/exp/ch`), `host`, `protocol` (default `https`), `token`
    /// (default: env `INTERN_TOKEN`), `resolution` (default `ingest_job.resolution`, else 0),
    /// `datatype` (optional).
    pub fn from_params(params: &Value) -> Result<Channel, ParamsError> {
        let p = Params::new(params)?;
        let uri = p.string(
            "uri",
            "the source channel, bossdb://collection/experiment/channel",
        )?;
        let parts: Vec<&str> = uri
            .strip_prefix("bossdb://")
            .map(|rest| rest.trim_end_matches('/').split('/').collect())
            .unwrap_or_default();
        let [collection, experiment, channel] = parts[..] else {
            return Err(ParamsError(format!(
                "param \"uri\" is \"{uri}\"; use bossdb://collection/experiment/channel"
            )));
        };
        if [collection, experiment, channel]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err(ParamsError(format!(
                "param \"uri\" is \"{uri}\"; use bossdb://collection/experiment/channel"
            )));
        }
        let protocol = p.opt_string("protocol")?.unwrap_or("https");
        if protocol != "http" && protocol != "https" {
            return Err(ParamsError(format!(
                "param \"protocol\" is \"{protocol}\"; use http or https"
            )));
        }
        let host = p.string("host", "the source Boss's API host, e.g. api.bossdb.io")?;
        let token = match p.opt_string("token")? {
            Some(token) => token.to_string(),
            None => std::env::var(TOKEN_VAR).map_err(|_| {
                ParamsError(format!(
                    "missing param \"token\" (the source Boss's API token); or set {TOKEN_VAR}"
                ))
            })?,
        };
        let default_resolution = params
            .get("ingest_job")
            .and_then(|ij| ij.get("resolution"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let datatype = p
            .opt_string("datatype")?
            .map(|name| {
                Dtype::from_name(name).ok_or_else(|| {
                    ParamsError(format!(
                        "param \"datatype\" is \"{name}\"; use uint8, uint16 or uint64"
                    ))
                })
            })
            .transpose()?;
        Ok(Channel {
            base: format!("{protocol}://{}", host.trim_end_matches('/')),
            collection: collection.to_string(),
            experiment: experiment.to_string(),
            channel: channel.to_string(),
            resolution: p.u64_or("resolution", default_resolution)?,
            token,
            datatype,
        })
    }

    /// `bossdb://col/exp/ch`, for messages.
    pub fn uri(&self) -> String {
        format!(
            "bossdb://{}/{}/{}",
            self.collection, self.experiment, self.channel
        )
    }

    /// The cutout URL of `b`.
    pub fn cutout_url(&self, b: &Region) -> String {
        let path = cutout::path(
            &self.collection,
            &self.experiment,
            &self.channel,
            self.resolution,
            *b,
        );
        format!("{}{path}", self.base)
    }

    /// The voxels of `b`: C order (z, y, x), little-endian samples, and their dtype (told by the
    /// answer's length, so the source channel's dtype needs no request of its own).
    pub fn read(&self, host: &HostServices, b: &Region) -> Result<(Dtype, Vec<u8>), PluginError> {
        let url = self.cutout_url(b);
        let auth = format!("Token {}", self.token);
        let asked = |e: PluginError| {
            PluginError::new(
                e.kind,
                format!("{} (asked for as {})", e.message, cutout::ACCEPT),
            )
        };
        let bytes = host
            .http_get(
                &url,
                &[("Authorization", auth.as_str()), ("Accept", cutout::ACCEPT)],
            )
            .map_err(asked)?;
        let voxels = cutout::decode(&bytes, b.voxels())
            .map_err(|e| PluginError::invalid_image(format!("{url}: {e}")))?;
        let dtype = Dtype::from_name(voxels.dtype.name()).ok_or_else(|| {
            PluginError::dtype(format!(
                "{url}: {} voxels are not a plugin dtype",
                voxels.dtype
            ))
        })?;
        self.checked(&url, dtype, voxels.bytes)
    }

    fn checked(
        &self,
        url: &str,
        dtype: Dtype,
        data: Vec<u8>,
    ) -> Result<(Dtype, Vec<u8>), PluginError> {
        match self.datatype {
            Some(want) if want != dtype => Err(PluginError::dtype(format!(
                "{url}: the source channel {} holds {dtype} voxels, but param \"datatype\" says \
                 {want}",
                self.uri()
            ))),
            _ => Ok((dtype, data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(extra: Value) -> Value {
        let mut p = json!({"uri": "bossdb://col/exp/ch", "host": "api.example.org", "token": "t0k",
                           "ingest_job": {"resolution": 1}});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    #[test]
    fn params_name_the_channel_and_the_cutout_url() {
        let c = Channel::from_params(&params(json!({}))).unwrap();
        assert_eq!(c.uri(), "bossdb://col/exp/ch");
        let b = Region {
            x: (0, 512),
            y: (512, 1024),
            z: (16, 32),
        };
        assert_eq!(
            c.cutout_url(&b),
            "https://api.example.org/v1/cutout/col/exp/ch/1/0:512/512:1024/16:32/"
        );
        let c = Channel::from_params(&params(
            json!({"protocol": "http", "host": "127.0.0.1:8000/",
                                                     "resolution": 0}),
        ))
        .unwrap();
        assert_eq!(
            c.cutout_url(&b),
            "http://127.0.0.1:8000/v1/cutout/col/exp/ch/0/0:512/512:1024/16:32/"
        );
    }

    #[test]
    fn bad_params_say_what_to_write() {
        let err = |extra| Channel::from_params(&params(extra)).unwrap_err().0;
        assert_eq!(
            err(json!({"uri": "boss://col/exp"})),
            "param \"uri\" is \"boss://col/exp\"; use bossdb://collection/experiment/channel"
        );
        assert_eq!(
            err(json!({"uri": "bossdb://col//ch"})),
            "param \"uri\" is \"bossdb://col//ch\"; use bossdb://collection/experiment/channel"
        );
        assert_eq!(
            err(json!({"protocol": "ftp"})),
            "param \"protocol\" is \"ftp\"; use http or https"
        );
        assert_eq!(
            err(json!({"datatype": "float32"})),
            "param \"datatype\" is \"float32\"; use uint8, uint16 or uint64"
        );
    }
}
