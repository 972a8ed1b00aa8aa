//! The SQS semantics clients rely on, asked of the simulator's backend directly (behind the front
//! door, as the service itself would) — the same assertions on moto and on the embedded backend:
//! receive order, visibility timeouts (queue default and per receive), receive counts, receipt
//! handles (stale ones included), batch partial failures, purge, long polls woken by a send,
//! queue attributes and errors, in the JSON protocol (AWS SDK) and the query protocol (boto3).

use super::moto_sqs;
use crate::support::sim::{Backend, SimHandle, SimOptions};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use std::collections::HashMap;
use std::time::Duration;

async fn backend_sqs(sim: &SimHandle) -> aws_sdk_sqs::Client {
    moto_sqs(&super::Api::new(sim).moto_url().await)
}

async fn counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .unwrap_or_default();
    let get = |n| attrs.get(&n).cloned().unwrap_or_default();
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// (body, receipt handle, ApproximateReceiveCount) of up to `max` messages.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    max: i32,
    visibility: Option<i32>,
    wait: i32,
) -> Vec<(String, String, String)> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .set_visibility_timeout(visibility)
        .wait_time_seconds(wait)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .expect("ReceiveMessage")
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let count = m
                .attributes
                .unwrap_or_default()
                .get(&MessageSystemAttributeName::ApproximateReceiveCount)
                .cloned()
                .unwrap_or_default();
            (
                m.body.unwrap_or_default(),
                m.receipt_handle.unwrap_or_default(),
                count,
            )
        })
        .collect()
}

fn bodies(got: &[(String, String, String)]) -> Vec<&str> {
    got.iter().map(|m| m.0.as_str()).collect()
}

async fn sqs_semantics(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let sqs = backend_sqs(&sim).await;
    let url = sqs
        .create_queue()
        .queue_name("semantics")
        .attributes(QueueAttributeName::VisibilityTimeout, "2")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .unwrap();
    assert!(url.ends_with("/123456789012/semantics"), "{url}");
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_body.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    let entries = ["b", "c"].map(|b| {
        SendMessageBatchRequestEntry::builder()
            .id(format!("id-{b}"))
            .message_body(b)
            .build()
            .unwrap()
    });
    let batch = sqs
        .send_message_batch()
        .queue_url(&url)
        .set_entries(Some(entries.to_vec()))
        .send()
        .await
        .unwrap();
    let mut ok: Vec<String> = batch.successful.iter().map(|s| s.id.clone()).collect();
    ok.sort();
    assert_eq!(ok, ["id-b", "id-c"]);
    assert!(batch.failed.is_empty());

    // Oldest first; received messages are hidden for the queue's 2 s.
    let first = receive(&sqs, &url, 2, None, 0).await;
    assert_eq!(bodies(&first), ["hello", "b"]);
    assert_eq!(first[0].2, "1");
    assert_eq!(counts(&sqs, &url).await, ("1".into(), "2".into()));
    // A per-receive visibility timeout of 1 s for "c".
    let c = receive(&sqs, &url, 10, Some(1), 0).await;
    assert_eq!(bodies(&c), ["c"]);
    assert!(receive(&sqs, &url, 10, None, 0).await.is_empty());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // All three are back, received a second time, with new receipt handles.
    let again = receive(&sqs, &url, 10, None, 0).await;
    assert_eq!(bodies(&again), ["hello", "b", "c"]);
    assert!(again.iter().all(|m| m.2 == "2"), "{again:?}");
    assert_ne!(again[0].1, first[0].1);
    // The stale handle of "hello" still deletes it (moto's and SQS's behaviour).
    sqs.delete_message()
        .queue_url(&url)
        .receipt_handle(&first[0].1)
        .send()
        .await
        .expect("delete with a stale handle");
    assert_eq!(counts(&sqs, &url).await, ("0".into(), "2".into()));
    // A batch delete with one good and one unknown handle fails only that entry.
    let deleted = sqs
        .delete_message_batch()
        .queue_url(&url)
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("good")
                .receipt_handle(&again[1].1)
                .build()
                .unwrap(),
        )
        .entries(
            DeleteMessageBatchRequestEntry::builder()
                .id("bad")
                .receipt_handle("not-a-receipt-handle")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        deleted
            .successful
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>(),
        ["good"]
    );
    assert_eq!(
        deleted
            .failed
            .iter()
            .map(|f| (f.id.as_str(), f.code.as_str(), f.sender_fault))
            .collect::<Vec<_>>(),
        [("bad", "ReceiptHandleIsInvalid", true)]
    );
    assert_eq!(counts(&sqs, &url).await, ("0".into(), "1".into()));
    // Purge removes in-flight messages too.
    sqs.purge_queue().queue_url(&url).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(counts(&sqs, &url).await, ("0".into(), "0".into()));

    // A long poll on the empty queue returns the message sent while it waits.
    let poll = {
        let (sqs, url) = (sqs.clone(), url.clone());
        tokio::spawn(async move { receive(&sqs, &url, 10, None, 10).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    sqs.send_message()
        .queue_url(&url)
        .message_body("late")
        .send()
        .await
        .unwrap();
    assert_eq!(bodies(&poll.await.unwrap()), ["late"]);

    // Errors clients branch on.
    let missing = sqs
        .get_queue_url()
        .queue_name("no-such-queue")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    assert!(missing.is_queue_does_not_exist(), "{missing:?}");
    sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let gone = sqs
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(gone.is_queue_does_not_exist(), "{gone:?}");
}

/// One query-protocol call (form body, XML answer) as boto3 1.34 makes it; moto reads the
/// service from the credential scope, so the request carries one (neither backend checks SQS
/// signatures behind the front door).
async fn query(backend_url: &str, params: &[(&str, &str)]) -> (u16, String) {
    let body: String = params
        .iter()
        .chain([("Version", "2012-11-05")].iter())
        .map(|(k, v)| {
            format!(
                "{k}={}",
                v.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' =>
                            (b as char).to_string(),
                        _ => format!("%{b:02X}"),
                    })
                    .collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let reply = reqwest::Client::new()
        .post(format!("{backend_url}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261128/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .expect("query-protocol request");
    (reply.status().as_u16(), reply.text().await.unwrap())
}

/// The text of the first `<tag>` element, unescaped.
fn element(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let text = xml
        .split(&open)
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{tag}>")).next())
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"));
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn query_protocol(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let backend_url = super::Api::new(&sim).moto_url().await;
    let (status, created) = query(
        &backend_url,
        &[
            ("Action", "CreateQueue"),
            ("QueueName", "query"),
            ("Attribute.1.Name", "VisibilityTimeout"),
            ("Attribute.1.Value", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let url = element(&created, "QueueUrl");
    assert!(url.ends_with("/123456789012/query"), "{url}");
    let body = r#"{"tile_key": "a&b", "note": "<x>"}"#;
    let (status, sent) = query(
        &backend_url,
        &[
            ("Action", "SendMessage"),
            ("QueueUrl", &url),
            ("MessageBody", body),
        ],
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let md5 = element(&sent, "MD5OfMessageBody");
    let (status, got) = query(
        &backend_url,
        &[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", &url),
            ("AttributeName.1", "ApproximateReceiveCount"),
            ("MaxNumberOfMessages", "10"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(element(&got, "Body"), body);
    assert_eq!(element(&got, "MD5OfBody"), md5);
    assert_eq!(element(&got, "Name"), "ApproximateReceiveCount");
    assert_eq!(element(&got, "Value"), "1");
    let handle = element(&got, "ReceiptHandle");
    let (status, attrs) = query(
        &backend_url,
        &[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", &url),
            ("AttributeName.1", "ApproximateNumberOfMessagesNotVisible"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{attrs}");
    assert_eq!(element(&attrs, "Value"), "1");
    let (status, deleted) = query(
        &backend_url,
        &[
            ("Action", "DeleteMessage"),
            ("QueueUrl", &url),
            ("ReceiptHandle", &handle),
        ],
    )
    .await;
    assert_eq!(status, 200, "{deleted}");
    let (status, error) = query(
        &backend_url,
        &[("Action", "GetQueueUrl"), ("QueueName", "no-such-queue")],
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(
        element(&error, "Code"),
        "AWS.SimpleQueueService.NonExistentQueue"
    );
}

/// An object (large enough to be sent in chunks) and its metadata round-trip through the
/// backend's S3, and a deleted one is `NoSuchKey`.
async fn s3_objects_round_trip_through_the_backend(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let backend_url = super::Api::new(&sim).moto_url().await;
    // The simulator's own key: moto takes any, the embedded S3 checks signatures.
    let creds = aws_sdk_s3::config::Credentials::new("boss-sim", "boss-sim", None, None, "t");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&backend_url)
            .force_path_style(true)
            .build(),
    );
    let key = "0123abcd&7&12&33&0&1&2&3&0";
    let payload: Vec<u8> = (0..70_000u32).map(|i| (i * 7 % 251) as u8).collect();
    s3.put_object()
        .bucket("tiles.boss-sim.local")
        .key(key)
        .metadata("size", "70000")
        .body(payload.clone().into())
        .send()
        .await
        .expect("PutObject");
    let got = s3
        .get_object()
        .bucket("tiles.boss-sim.local")
        .key(key)
        .send()
        .await
        .expect("GetObject");
    assert_eq!(
        got.metadata.clone().unwrap_or_default(),
        HashMap::from([("size".to_string(), "70000".to_string())])
    );
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().to_vec(),
        payload
    );
    s3.delete_object()
        .bucket("tiles.boss-sim.local")
        .key(key)
        .send()
        .await
        .unwrap();
    let missing = s3
        .get_object()
        .bucket("tiles.boss-sim.local")
        .key(key)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_no_such_key(), "{missing:?}");
}

on_both_backends!(
    sqs_semantics,
    query_protocol,
    s3_objects_round_trip_through_the_backend,
);
