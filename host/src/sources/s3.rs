//! `s3://bucket/key` sources, read with the user's own AWS credentials.
//!
//! The job's credentials (from the Boss's join answer) may only write the job's own bucket, so
//! source data is read with the credentials the AWS CLI would use: the standard chain
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, `AWS_PROFILE` and
//! `~/.aws/{credentials,config}` including `credential_process`, web identity, ECS/EC2 roles).
//! Region: the chain's, else `us-east-1`.
//!
//! Endpoint: `BOSS_INGEST_SOURCE_ENDPOINT_URL` if set, else the chain's (`AWS_ENDPOINT_URL_S3`,
//! `AWS_ENDPOINT_URL`, a profile's `endpoint_url`), else AWS. The override exists because
//! `AWS_ENDPOINT_URL` is also how the job's uploads are pointed at a local Boss: set
//! `BOSS_INGEST_SOURCE_ENDPOINT_URL` when the source bucket lives elsewhere (e.g. `https://s3.amazonaws.com`
//! while the Boss is local, or a local S3 while the Boss is real). Any custom endpoint uses
//! path-style addressing, as local S3 servers need.
//!
//! The client is built on first use, so a job that reads no `s3://` location never needs AWS
//! credentials.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;
use plugin_abi::PluginError;
use tokio::sync::OnceCell;

/// The environment variable naming the endpoint for `s3://` sources.
pub const ENDPOINT_VAR: &str = "BOSS_INGEST_SOURCE_ENDPOINT_URL";

/// The process's S3 client for sources.
async fn client() -> Client {
    static CLIENT: OnceCell<Client> = OnceCell::const_new();
    CLIENT
        .get_or_init(|| async {
            let override_url = std::env::var(ENDPOINT_VAR).ok().filter(|u| !u.is_empty());
            build_client(override_url).await
        })
        .await
        .clone()
}

/// A client from the standard chain, with `endpoint` overriding the chain's endpoint.
pub async fn build_client(endpoint: Option<String>) -> Client {
    let region = RegionProviderChain::default_provider().or_else(Region::new("us-east-1"));
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .load()
        .await;
    let custom = endpoint.is_some()
        || shared.endpoint_url().is_some()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if let Some(url) = endpoint {
        config = config.endpoint_url(url);
    }
    if custom {
        config = config.force_path_style(true);
    }
    Client::from_conf(config.build())
}

/// All bytes of the object.
pub async fn read(bucket: &str, key: &str) -> Result<Vec<u8>, PluginError> {
    get(&client().await, bucket, key, None).await
}

/// `len` bytes at `offset` (fewer at the end, none past it).
pub async fn read_range(
    bucket: &str,
    key: &str,
    offset: u64,
    len: u64,
) -> Result<Vec<u8>, PluginError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let range = format!("bytes={offset}-{}", offset.saturating_add(len - 1));
    get(&client().await, bucket, key, Some(range)).await
}

/// The object's size in bytes.
pub async fn size(bucket: &str, key: &str) -> Result<u64, PluginError> {
    size_with(&client().await, bucket, key).await
}

/// GetObject, whole or a range, on `client`.
pub async fn get(
    client: &Client,
    bucket: &str,
    key: &str,
    range: Option<String>,
) -> Result<Vec<u8>, PluginError> {
    let ranged = range.is_some();
    let answer = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .set_range(range)
        .send()
        .await;
    let output = match answer {
        Ok(output) => output,
        Err(e) if ranged && e.code() == Some("InvalidRange") => return Ok(Vec::new()),
        Err(e) => return Err(s3_error(bucket, key, e)),
    };
    let body = output.body.collect().await.map_err(|e| {
        PluginError::io(format!(
            "s3://{bucket}/{key}: reading the object failed: {}",
            DisplayErrorContext(e)
        ))
    })?;
    Ok(body.into_bytes().to_vec())
}

/// HeadObject's content length, on `client`.
pub async fn size_with(client: &Client, bucket: &str, key: &str) -> Result<u64, PluginError> {
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| s3_error(bucket, key, e))?;
    head.content_length()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| {
            PluginError::io(format!(
                "s3://{bucket}/{key}: the server did not say how large the object is"
            ))
        })
}

/// What a failed S3 call means for the user, naming the object.
fn s3_error<E>(bucket: &str, key: &str, e: SdkError<E, HttpResponse>) -> PluginError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let location = format!("s3://{bucket}/{key}");
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().map(str::to_string);
    let own_credentials = "boss-ingest reads s3:// sources with your own AWS credentials \
                           (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws), not \
                           the job's";
    match (code.as_deref(), status) {
        (Some("NoSuchBucket"), _) => {
            PluginError::not_found(format!("{location}: no such bucket \"{bucket}\""))
        }
        (Some("NoSuchKey" | "NotFound"), _) | (None, Some(404)) => {
            PluginError::not_found(format!("{location}: no such object"))
        }
        (
            Some(
                code @ ("AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "InvalidToken"),
            ),
            _,
        ) => PluginError::denied(format!("{location}: {code}; {own_credentials}")),
        (None, Some(403)) => {
            PluginError::denied(format!("{location}: access denied; {own_credentials}"))
        }
        _ => {
            let detail = DisplayErrorContext(&e).to_string();
            if matches!(
                e,
                SdkError::ConstructionFailure(_) | SdkError::DispatchFailure(_)
            ) && detail.contains("credentials")
            {
                PluginError::denied(format!(
                    "{location}: no usable AWS credentials: {detail}; {own_credentials}"
                ))
            } else {
                PluginError::io(format!("{location}: {detail}"))
            }
        }
    }
}
