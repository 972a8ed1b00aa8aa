//! Where a plugin reads a source path from: the path itself, or `s3://bucket/key`.
//!
//! The Python client's processors took `filesystem` (`local`, `s3`, `s3_copy`) and `bucket`
//! params and called boto3 themselves. Here every read goes through the host, which takes
//! `s3://` locations, so a plugin only needs to turn its bucket (from
//! [`Params::source_bucket`](crate::params::Params::source_bucket)) and a path into one location.
//! One function, so every plugin spells S3 keys the same way.

/// Where the host reads `path` from: the path itself, or `s3://bucket/key` when the params name a
/// bucket (the key is the path without leading slashes).
pub fn location(bucket: Option<&str>, path: &str) -> String {
    match bucket {
        None => path.to_string(),
        Some(bucket) => format!("s3://{bucket}/{}", path.trim_start_matches('/')),
    }
}
