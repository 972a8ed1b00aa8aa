//! SQS requests in both wire protocols, parsed into one typed [`Action`]: the JSON protocol
//! (`x-amz-target: AmazonSQS.<Op>` + a JSON body, the AWS SDK for Rust) and the query protocol
//! (form parameters such as `AttributeName.1` or `SendMessageBatchRequestEntry.2.MessageBody`,
//! boto3 1.34). Only the operations the clients and the simulator use are known; anything else
//! is an [`SqsError`] that names it.

use super::SqsError;
use crate::wire::queue_name;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendEntry {
    pub id: String,
    pub body: String,
    pub delay_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    pub id: String,
    pub receipt_handle: String,
}

/// One SQS operation with its parameters. Queues are named by the last segment of their URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateQueue {
        name: String,
        attributes: BTreeMap<String, String>,
    },
    DeleteQueue {
        queue: String,
    },
    GetQueueUrl {
        name: String,
    },
    ListQueues {
        prefix: String,
    },
    GetQueueAttributes {
        queue: String,
        names: Vec<String>,
    },
    SendMessage {
        queue: String,
        entry: SendEntry,
    },
    SendMessageBatch {
        queue: String,
        entries: Vec<SendEntry>,
    },
    ReceiveMessage {
        queue: String,
        max: Option<i64>,
        wait_secs: Option<i64>,
        visibility: Option<i64>,
        /// `AttributeNames` and `MessageSystemAttributeNames` together.
        attribute_names: Vec<String>,
    },
    DeleteMessage {
        queue: String,
        receipt_handle: String,
    },
    DeleteMessageBatch {
        queue: String,
        entries: Vec<DeleteEntry>,
    },
    PurgeQueue {
        queue: String,
    },
}

fn missing(name: &str) -> SqsError {
    SqsError::MissingParameter(name.to_string())
}

pub(super) fn integer(name: &str, text: &str) -> Result<i64, SqsError> {
    text.trim().parse().map_err(|_| {
        SqsError::InvalidParameterValue(format!(
            "Value {text} for parameter {name} is invalid. Reason: must be an integer."
        ))
    })
}

/// Parameters of a request, whichever protocol carried them.
trait Params {
    fn text(&self, name: &str) -> Option<String>;
    fn int(&self, name: &str) -> Result<Option<i64>, SqsError>;
    /// A list of strings (`Name.1`, `Name.2`, ... in query; a JSON array).
    fn list(&self, query_name: &str, json_name: &str) -> Vec<String>;
    /// A map (`Attribute.N.Name/Value` in query; a JSON object).
    fn map(&self, query_name: &str, json_name: &str) -> BTreeMap<String, String>;
    /// Batch entries as field maps.
    fn entries(&self, query_name: &str) -> Vec<BTreeMap<String, String>>;
    /// Whether user message attributes were sent (the simulator stores none).
    fn has_message_attributes(&self) -> bool;
}

struct Query(Vec<(String, String)>);

impl Query {
    fn indexed(&self, prefix: &str) -> BTreeMap<u32, BTreeMap<String, String>> {
        let mut out: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.0 {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let (n, field) = rest.split_once('.').unwrap_or((rest, ""));
            if let Ok(n) = n.parse() {
                out.entry(n)
                    .or_default()
                    .insert(field.to_string(), v.clone());
            }
        }
        out
    }
}

impl Params for Query {
    fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    fn int(&self, name: &str) -> Result<Option<i64>, SqsError> {
        self.text(name).map(|t| integer(name, &t)).transpose()
    }
    fn list(&self, query_name: &str, _json_name: &str) -> Vec<String> {
        self.indexed(query_name)
            .into_values()
            .filter_map(|mut f| f.remove(""))
            .collect()
    }
    fn map(&self, query_name: &str, _json_name: &str) -> BTreeMap<String, String> {
        self.indexed(query_name)
            .into_values()
            .filter_map(|mut f| Some((f.remove("Name")?, f.remove("Value").unwrap_or_default())))
            .collect()
    }
    fn entries(&self, query_name: &str) -> Vec<BTreeMap<String, String>> {
        self.indexed(query_name).into_values().collect()
    }
    fn has_message_attributes(&self) -> bool {
        self.0
            .iter()
            .any(|(k, _)| k.starts_with("MessageAttribute."))
    }
}

struct Json(Value);

fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Params for Json {
    fn text(&self, name: &str) -> Option<String> {
        json_text(&self.0[name])
    }
    fn int(&self, name: &str) -> Result<Option<i64>, SqsError> {
        match &self.0[name] {
            Value::Null => Ok(None),
            Value::Number(n) => integer(name, &n.to_string()).map(Some),
            other => integer(name, &other.to_string()).map(Some),
        }
    }
    fn list(&self, _query_name: &str, json_name: &str) -> Vec<String> {
        self.0[json_name]
            .as_array()
            .map(|a| a.iter().filter_map(json_text).collect())
            .unwrap_or_default()
    }
    fn map(&self, _query_name: &str, json_name: &str) -> BTreeMap<String, String> {
        self.0[json_name]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.clone(), json_text(v)?)))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn entries(&self, _query_name: &str) -> Vec<BTreeMap<String, String>> {
        self.0["Entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        e.as_object()
                            .map(|o| {
                                o.iter()
                                    .filter_map(|(k, v)| Some((k.clone(), json_text(v)?)))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    fn has_message_attributes(&self) -> bool {
        self.0["MessageAttributes"]
            .as_object()
            .is_some_and(|o| !o.is_empty())
            || self.0["Entries"].as_array().is_some_and(|a| {
                a.iter().any(|e| {
                    e["MessageAttributes"]
                        .as_object()
                        .is_some_and(|o| !o.is_empty())
                })
            })
    }
}

/// A query-protocol request: its form parameters (query string and body) and path.
pub fn parse_query(pairs: Vec<(String, String)>, path: &str) -> Result<Action, SqsError> {
    let params = Query(pairs);
    let operation = params.text("Action").ok_or_else(|| missing("Action"))?;
    parse(&operation, &params, path)
}

/// A JSON-protocol request: the operation from `x-amz-target` and the body.
pub fn parse_json(operation: &str, body: &[u8], path: &str) -> Result<Action, SqsError> {
    let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|e| {
            SqsError::InvalidParameterValue(format!("The request body is not valid JSON: {e}"))
        })?
    };
    parse(operation, &Json(value), path)
}

fn send_entry(id: String, fields: &BTreeMap<String, String>) -> Result<SendEntry, SqsError> {
    Ok(SendEntry {
        id,
        body: fields
            .get("MessageBody")
            .cloned()
            .ok_or_else(|| missing("MessageBody"))?,
        delay_seconds: fields
            .get("DelaySeconds")
            .map(|t| integer("DelaySeconds", t))
            .transpose()?,
    })
}

fn parse(operation: &str, p: &dyn Params, path: &str) -> Result<Action, SqsError> {
    let queue = || {
        p.text("QueueUrl")
            .map(|u| queue_name(&u))
            .or_else(|| Some(queue_name(path)).filter(|q| !q.is_empty()))
            .ok_or_else(|| missing("QueueUrl"))
    };
    if p.has_message_attributes() {
        return Err(SqsError::Unsupported(
            "message attributes (boss-sim stores message bodies only)".into(),
        ));
    }
    Ok(match operation {
        "CreateQueue" => Action::CreateQueue {
            name: p.text("QueueName").ok_or_else(|| missing("QueueName"))?,
            attributes: p.map("Attribute", "Attributes"),
        },
        "DeleteQueue" => Action::DeleteQueue { queue: queue()? },
        "GetQueueUrl" => Action::GetQueueUrl {
            name: p.text("QueueName").ok_or_else(|| missing("QueueName"))?,
        },
        "ListQueues" => Action::ListQueues {
            prefix: p.text("QueueNamePrefix").unwrap_or_default(),
        },
        "GetQueueAttributes" => Action::GetQueueAttributes {
            queue: queue()?,
            names: p.list("AttributeName", "AttributeNames"),
        },
        "SendMessage" => {
            let fields = BTreeMap::from_iter(
                ["MessageBody", "DelaySeconds"]
                    .into_iter()
                    .filter_map(|k| Some((k.to_string(), p.text(k)?))),
            );
            Action::SendMessage {
                queue: queue()?,
                entry: send_entry(String::new(), &fields)?,
            }
        }
        "SendMessageBatch" => Action::SendMessageBatch {
            queue: queue()?,
            entries: p
                .entries("SendMessageBatchRequestEntry")
                .into_iter()
                .map(|f| send_entry(f.get("Id").cloned().unwrap_or_default(), &f))
                .collect::<Result<_, _>>()?,
        },
        "ReceiveMessage" => {
            let mut attribute_names = p.list("AttributeName", "AttributeNames");
            attribute_names
                .extend(p.list("MessageSystemAttributeName", "MessageSystemAttributeNames"));
            Action::ReceiveMessage {
                queue: queue()?,
                max: p.int("MaxNumberOfMessages")?,
                wait_secs: p.int("WaitTimeSeconds")?,
                visibility: p.int("VisibilityTimeout")?,
                attribute_names,
            }
        }
        "DeleteMessage" => Action::DeleteMessage {
            queue: queue()?,
            receipt_handle: p
                .text("ReceiptHandle")
                .ok_or_else(|| missing("ReceiptHandle"))?,
        },
        "DeleteMessageBatch" => Action::DeleteMessageBatch {
            queue: queue()?,
            entries: p
                .entries("DeleteMessageBatchRequestEntry")
                .into_iter()
                .map(|mut f| {
                    Ok(DeleteEntry {
                        id: f.remove("Id").unwrap_or_default(),
                        receipt_handle: f
                            .remove("ReceiptHandle")
                            .ok_or_else(|| missing("ReceiptHandle"))?,
                    })
                })
                .collect::<Result<_, SqsError>>()?,
        },
        "PurgeQueue" => Action::PurgeQueue { queue: queue()? },
        other => return Err(SqsError::InvalidAction(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::form_pairs;

    #[test]
    fn parses_boto3_query_requests() {
        let body = "Action=SendMessageBatch&QueueUrl=http%3A%2F%2F127.0.0.1%3A9%2F123456789012%2Fq1&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=%7B%22x%22%3A1%7D&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&Version=2012-11-05";
        assert_eq!(
            parse_query(form_pairs(body), "/").unwrap(),
            Action::SendMessageBatch {
                queue: "q1".into(),
                entries: vec![
                    SendEntry {
                        id: "a".into(),
                        body: "{\"x\":1}".into(),
                        delay_seconds: None
                    },
                    SendEntry {
                        id: "b".into(),
                        body: "two".into(),
                        delay_seconds: None
                    },
                ],
            }
        );
        let receive = "Action=ReceiveMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Fq2&AttributeName.1=ApproximateReceiveCount&AttributeName.2=SentTimestamp&MaxNumberOfMessages=10&WaitTimeSeconds=20&VisibilityTimeout=5";
        assert_eq!(
            parse_query(form_pairs(receive), "/").unwrap(),
            Action::ReceiveMessage {
                queue: "q2".into(),
                max: Some(10),
                wait_secs: Some(20),
                visibility: Some(5),
                attribute_names: vec!["ApproximateReceiveCount".into(), "SentTimestamp".into()],
            }
        );
        let create = "Action=CreateQueue&QueueName=q3&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5";
        assert_eq!(
            parse_query(form_pairs(create), "/").unwrap(),
            Action::CreateQueue {
                name: "q3".into(),
                attributes: BTreeMap::from([("VisibilityTimeout".into(), "5".into())]),
            }
        );
        // The old style names the queue by the request path.
        assert_eq!(
            parse_query(form_pairs("Action=PurgeQueue"), "/123456789012/q4").unwrap(),
            Action::PurgeQueue { queue: "q4".into() }
        );
    }

    #[test]
    fn parses_sdk_json_requests() {
        let body = br#"{"QueueUrl":"http://h/1/q1","Entries":[{"Id":"0","ReceiptHandle":"r0"},{"Id":"1","ReceiptHandle":"r1"}]}"#;
        assert_eq!(
            parse_json("DeleteMessageBatch", body, "/").unwrap(),
            Action::DeleteMessageBatch {
                queue: "q1".into(),
                entries: vec![
                    DeleteEntry {
                        id: "0".into(),
                        receipt_handle: "r0".into()
                    },
                    DeleteEntry {
                        id: "1".into(),
                        receipt_handle: "r1".into()
                    },
                ],
            }
        );
        let body = br#"{"QueueUrl":"http://h/1/q1","MessageSystemAttributeNames":["ApproximateReceiveCount"],"MaxNumberOfMessages":3}"#;
        assert_eq!(
            parse_json("ReceiveMessage", body, "/").unwrap(),
            Action::ReceiveMessage {
                queue: "q1".into(),
                max: Some(3),
                wait_secs: None,
                visibility: None,
                attribute_names: vec!["ApproximateReceiveCount".into()],
            }
        );
    }

    #[test]
    fn names_what_it_cannot_do() {
        assert_eq!(
            parse_json("ChangeMessageVisibility", b"{}", "/").unwrap_err(),
            SqsError::InvalidAction("ChangeMessageVisibility".into())
        );
        assert_eq!(
            parse_json("SendMessage", br#"{"QueueUrl":"http://h/1/q"}"#, "/").unwrap_err(),
            SqsError::MissingParameter("MessageBody".into())
        );
        let attrs = br#"{"QueueUrl":"http://h/1/q","MessageBody":"x","MessageAttributes":{"a":{"DataType":"String","StringValue":"v"}}}"#;
        assert!(matches!(
            parse_json("SendMessage", attrs, "/").unwrap_err(),
            SqsError::Unsupported(_)
        ));
    }
}
