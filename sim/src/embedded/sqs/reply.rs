//! SQS results written in the protocol the request came in: JSON for the JSON protocol, the
//! query protocol's XML (`<OpResponse><OpResult>...`) for boto3, and errors through
//! [`crate::wire::sqs_error`] in either.

use super::queue::Delivery;
use super::SqsError;
use crate::wire::{request_id, sqs_error, xml_escape, Service};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

/// A failed entry of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    pub id: String,
    pub code: &'static str,
    pub message: String,
}

impl BatchFailure {
    pub fn new(id: String, error: &SqsError) -> BatchFailure {
        BatchFailure {
            id,
            code: error.codes().1,
            message: error.to_string(),
        }
    }
}

/// What an operation answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Empty,
    QueueUrl(String),
    QueueUrls(Vec<String>),
    Attributes(Vec<(String, String)>),
    Sent {
        id: String,
        md5: String,
    },
    SentBatch {
        /// (entry id, message id, MD5 of the body)
        ok: Vec<(String, String, String)>,
        failed: Vec<BatchFailure>,
    },
    Received {
        messages: Vec<Delivery>,
        /// The message attributes asked for.
        names: Vec<&'static str>,
    },
    DeletedBatch {
        ok: Vec<String>,
        failed: Vec<BatchFailure>,
    },
}

fn message_attribute(m: &Delivery, name: &str) -> String {
    match name {
        "ApproximateReceiveCount" => m.receive_count.to_string(),
        "ApproximateFirstReceiveTimestamp" => m.first_receive_timestamp.to_string(),
        "SentTimestamp" => m.sent_timestamp.to_string(),
        _ => super::ACCOUNT.to_string(),
    }
}

fn json_failures(failed: &[BatchFailure]) -> Value {
    failed
        .iter()
        .map(|f| json!({"Id": f.id, "SenderFault": true, "Code": f.code, "Message": f.message}))
        .collect()
}

fn to_json(reply: &Reply) -> Value {
    match reply {
        Reply::Empty => json!({}),
        Reply::QueueUrl(url) => json!({ "QueueUrl": url }),
        Reply::QueueUrls(urls) if urls.is_empty() => json!({}),
        Reply::QueueUrls(urls) => json!({ "QueueUrls": urls }),
        Reply::Attributes(attrs) => {
            let map: Map<String, Value> = attrs
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({ "Attributes": map })
        }
        Reply::Sent { id, md5 } => json!({"MessageId": id, "MD5OfMessageBody": md5}),
        Reply::SentBatch { ok, failed } => json!({
            "Successful": ok.iter().map(|(id, mid, md5)| json!({"Id": id, "MessageId": mid, "MD5OfMessageBody": md5})).collect::<Vec<_>>(),
            "Failed": json_failures(failed),
        }),
        Reply::Received { messages, .. } if messages.is_empty() => json!({}),
        Reply::Received { messages, names } => {
            let list: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let mut v = json!({
                        "MessageId": m.message_id,
                        "ReceiptHandle": m.receipt_handle,
                        "MD5OfBody": m.md5_of_body,
                        "Body": m.body,
                    });
                    if !names.is_empty() {
                        let attrs: Map<String, Value> = names
                            .iter()
                            .map(|n| (n.to_string(), Value::String(message_attribute(m, n))))
                            .collect();
                        v["Attributes"] = Value::Object(attrs);
                    }
                    v
                })
                .collect();
            json!({ "Messages": list })
        }
        Reply::DeletedBatch { ok, failed } => json!({
            "Successful": ok.iter().map(|id| json!({"Id": id})).collect::<Vec<_>>(),
            "Failed": json_failures(failed),
        }),
    }
}

fn xml_failures(out: &mut String, failed: &[BatchFailure]) {
    for f in failed {
        out.push_str(&format!(
            "<BatchResultErrorEntry><Id>{}</Id><SenderFault>true</SenderFault><Code>{}</Code><Message>{}</Message></BatchResultErrorEntry>",
            xml_escape(&f.id),
            f.code,
            xml_escape(&f.message)
        ));
    }
}

fn name_value(name: &str, value: &str) -> String {
    format!(
        "<Attribute><Name>{name}</Name><Value>{}</Value></Attribute>",
        xml_escape(value)
    )
}

/// The body of `<{op}Result>`, or `None` for operations that answer with metadata only.
fn xml_result(reply: &Reply) -> Option<String> {
    let mut out = String::new();
    match reply {
        Reply::Empty => return None,
        Reply::QueueUrl(url) => out = format!("<QueueUrl>{}</QueueUrl>", xml_escape(url)),
        Reply::QueueUrls(urls) => {
            for url in urls {
                out.push_str(&format!("<QueueUrl>{}</QueueUrl>", xml_escape(url)));
            }
        }
        Reply::Attributes(attrs) => {
            for (k, v) in attrs {
                out.push_str(&name_value(k, v));
            }
        }
        Reply::Sent { id, md5 } => {
            out = format!("<MD5OfMessageBody>{md5}</MD5OfMessageBody><MessageId>{id}</MessageId>")
        }
        Reply::SentBatch { ok, failed } => {
            for (id, mid, md5) in ok {
                out.push_str(&format!(
                    "<SendMessageBatchResultEntry><Id>{}</Id><MessageId>{mid}</MessageId><MD5OfMessageBody>{md5}</MD5OfMessageBody></SendMessageBatchResultEntry>",
                    xml_escape(id)
                ));
            }
            xml_failures(&mut out, failed);
        }
        Reply::Received { messages, names } => {
            for m in messages {
                out.push_str(&format!(
                    "<Message><MessageId>{}</MessageId><ReceiptHandle>{}</ReceiptHandle><MD5OfBody>{}</MD5OfBody><Body>{}</Body>",
                    m.message_id,
                    xml_escape(&m.receipt_handle),
                    m.md5_of_body,
                    xml_escape(&m.body)
                ));
                for n in names {
                    out.push_str(&name_value(n, &message_attribute(m, n)));
                }
                out.push_str("</Message>");
            }
        }
        Reply::DeletedBatch { ok, failed } => {
            for id in ok {
                out.push_str(&format!(
                    "<DeleteMessageBatchResultEntry><Id>{}</Id></DeleteMessageBatchResultEntry>",
                    xml_escape(id)
                ));
            }
            xml_failures(&mut out, failed);
        }
    }
    Some(out)
}

/// The HTTP response for an operation's outcome.
pub fn render(protocol: Service, operation: &str, outcome: Result<Reply, SqsError>) -> Response {
    let reply = match outcome {
        Ok(reply) => reply,
        Err(e) => {
            let (status, query_code, json_type) = e.codes();
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            return sqs_error(protocol, status, query_code, json_type, &e.to_string());
        }
    };
    let request_id = request_id();
    match protocol {
        Service::SqsJson => (
            StatusCode::OK,
            [
                ("content-type", "application/x-amz-json-1.0".to_string()),
                ("x-amzn-requestid", request_id),
            ],
            to_json(&reply).to_string(),
        )
            .into_response(),
        _ => {
            let result = xml_result(&reply)
                .map(|r| format!("<{operation}Result>{r}</{operation}Result>"))
                .unwrap_or_default();
            (
                StatusCode::OK,
                [("content-type", "text/xml")],
                format!(
                    "<?xml version=\"1.0\"?><{operation}Response xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">{result}<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery() -> Delivery {
        Delivery {
            message_id: "m-1".into(),
            receipt_handle: "h-1".into(),
            body: "{\"a\": \"<&>\"}".into(),
            md5_of_body: "abc".into(),
            receive_count: 2,
            sent_timestamp: 1000,
            first_receive_timestamp: 2000,
        }
    }

    #[test]
    fn writes_received_messages_in_both_protocols() {
        let reply = Reply::Received {
            messages: vec![delivery()],
            names: vec!["ApproximateReceiveCount"],
        };
        assert_eq!(
            to_json(&reply),
            json!({"Messages": [{"MessageId": "m-1", "ReceiptHandle": "h-1", "MD5OfBody": "abc",
                "Body": "{\"a\": \"<&>\"}", "Attributes": {"ApproximateReceiveCount": "2"}}]})
        );
        assert_eq!(
            xml_result(&reply).unwrap(),
            "<Message><MessageId>m-1</MessageId><ReceiptHandle>h-1</ReceiptHandle><MD5OfBody>abc</MD5OfBody><Body>{&quot;a&quot;: &quot;&lt;&amp;&gt;&quot;}</Body><Attribute><Name>ApproximateReceiveCount</Name><Value>2</Value></Attribute></Message>"
        );
    }

    #[test]
    fn writes_batch_failures_in_both_protocols() {
        let reply = Reply::DeletedBatch {
            ok: vec!["0".into()],
            failed: vec![BatchFailure::new(
                "1".into(),
                &SqsError::ReceiptHandleIsInvalid("x".into()),
            )],
        };
        assert_eq!(
            to_json(&reply),
            json!({"Successful": [{"Id": "0"}], "Failed": [{"Id": "1", "SenderFault": true,
                "Code": "ReceiptHandleIsInvalid",
                "Message": "The input receipt handle \"x\" is not a valid receipt handle."}]})
        );
        assert_eq!(
            xml_result(&reply).unwrap(),
            "<DeleteMessageBatchResultEntry><Id>0</Id></DeleteMessageBatchResultEntry><BatchResultErrorEntry><Id>1</Id><SenderFault>true</SenderFault><Code>ReceiptHandleIsInvalid</Code><Message>The input receipt handle &quot;x&quot; is not a valid receipt handle.</Message></BatchResultErrorEntry>"
        );
    }
}
