//! AWS wire-format pieces shared by the front door and the embedded SQS: which service and SQS
//! protocol a request speaks, form/query parsing, queue names from URLs, and errors in each
//! service's format (S3 XML, SQS query XML, SQS JSON).
//!
//! Both sides must answer a given mistake with the same bytes a client would get from AWS, so the
//! formats live in one place.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The wire protocol of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    /// SQS query protocol: form-encoded parameters, XML answers (boto3 1.34).
    SqsQuery,
    /// SQS JSON protocol: `x-amz-target` + JSON (the AWS SDK for Rust).
    SqsJson,
}

/// `k=v&...` pairs of a query string or form body, percent-decoded.
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The access key of a SigV4 request (header or presigned query), and the service it signed for.
pub fn credential(headers: &HeaderMap, query: &str) -> Option<(String, String)> {
    let scope = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.split("Credential=").nth(1))
        .map(|rest| rest.split([',', ' ']).next().unwrap_or("").to_string())
        .or_else(|| {
            form_pairs(query)
                .into_iter()
                .find(|(k, _)| k == "X-Amz-Credential")
                .map(|(_, v)| v)
        })?;
    let mut parts = scope.split('/');
    let key = parts.next()?.to_string();
    let service = parts.nth(2).unwrap_or("").to_string();
    Some((key, service))
}

/// The queue name at the end of a queue URL or path (`.../123456789012/name`).
pub fn queue_name(url_or_path: &str) -> String {
    url_or_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

/// A fresh request id for error and result bodies.
pub fn request_id() -> String {
    format!("boss-sim-{:016x}", rand::random::<u64>())
}

/// Escapes text for an XML element body. `\r` is written as a character reference so an XML
/// parser hands it back instead of normalising it to `\n`.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// An SQS error. The query protocol names errors by their legacy codes
/// (`AWS.SimpleQueueService.NonExistentQueue`), the JSON protocol by shape name
/// (`QueueDoesNotExist`) plus the legacy code in `x-amzn-query-error`, as SQS itself answers.
pub fn sqs_error(
    protocol: Service,
    status: StatusCode,
    query_code: &str,
    json_type: &str,
    message: &str,
) -> Response {
    let request_id = request_id();
    let sender = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    match protocol {
        Service::SqsJson => (
            status,
            [
                ("content-type", "application/x-amz-json-1.0".to_string()),
                ("x-amzn-query-error", format!("{query_code};{sender}")),
                ("x-amzn-requestid", request_id),
            ],
            serde_json::json!({"__type": format!("com.amazonaws.sqs#{json_type}"), "message": message})
                .to_string(),
        )
            .into_response(),
        _ => (
            status,
            [("content-type", "text/xml")],
            format!(
                "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>{sender}</Type><Code>{query_code}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(message)
            ),
        )
            .into_response(),
    }
}

/// An AWS error in the wire format of the called service, for codes that are spelled the same
/// in every protocol (`AccessDenied`, `ExpiredToken`, ...).
pub fn aws_error(service: Service, status: StatusCode, code: &str, message: &str) -> Response {
    match service {
        Service::S3 => (
            status,
            [("content-type", "application/xml")],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{}</RequestId><HostId>boss-sim</HostId></Error>",
                xml_escape(message),
                request_id()
            ),
        )
            .into_response(),
        sqs => sqs_error(sqs, status, code, code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_xml_would_change() {
        assert_eq!(
            xml_escape("{\"a\": \"<b>&'\r\n\"}"),
            "{&quot;a&quot;: &quot;&lt;b&gt;&amp;&apos;&#xD;\n&quot;}"
        );
    }

    #[test]
    fn names_queues_from_urls_and_paths() {
        assert_eq!(queue_name("http://127.0.0.1:9/123456789012/q-up"), "q-up");
        assert_eq!(queue_name("/123456789012/q-up/"), "q-up");
    }
}
