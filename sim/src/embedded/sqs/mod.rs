//! The embedded SQS: the operations the Boss clients and the simulator use (create/delete/get-url
//! /list queues, queue attributes, send and batch send, receive with long polling and visibility
//! timeouts, delete and batch delete, purge) on both wire protocols, for `--embedded-aws`.
//!
//! Queues live in memory ([`queue::Queue`], O(log n) per operation). A long poll registers for
//! the queue's wake-up before it looks, so a send that lands between the look and the wait still
//! wakes it; it also wakes when the next in-flight message's visibility timeout runs out.

pub mod queue;
pub mod reply;
pub mod request;

use queue::{Delivery, Queue, QueueError, Settings};
use reply::{BatchFailure, Reply};
use request::{Action, SendEntry};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The account id in queue URLs and ARNs (moto's default).
pub const ACCOUNT: &str = "123456789012";
/// Most entries in a batch and bytes in a batch, as SQS.
const MAX_BATCH: usize = 10;
const MAX_BATCH_BYTES: usize = 262_144;

/// An SQS error, named as SQS names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqsError {
    #[error("The specified queue does not exist.")]
    QueueDoesNotExist,
    #[error("A queue already exists with the same name and a different value for attribute {0}.")]
    QueueAlreadyExists(String),
    #[error("The input receipt handle \"{0}\" is not a valid receipt handle.")]
    ReceiptHandleIsInvalid(String),
    #[error("The request must contain the parameter {0}.")]
    MissingParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("Unknown Attribute {0}.")]
    InvalidAttributeName(String),
    #[error("The action {0} is not valid for this endpoint (boss-sim's embedded SQS).")]
    InvalidAction(String),
    #[error("Maximum number of entries per request are {MAX_BATCH}. You have sent {0}.")]
    TooManyEntriesInBatchRequest(usize),
    #[error("There should be at least one entry in the request.")]
    EmptyBatchRequest,
    #[error("Id {0} repeated.")]
    BatchEntryIdsNotDistinct(String),
    #[error(
        "Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {0} bytes."
    )]
    BatchRequestTooLong(usize),
    #[error("Too many messages in flight (limit {}).", queue::MAX_IN_FLIGHT)]
    OverLimit,
    #[error("boss-sim's embedded SQS does not support {0}; use moto (--moto-command) for it.")]
    Unsupported(String),
}

impl SqsError {
    /// (HTTP status, query-protocol code, JSON-protocol shape name).
    pub fn codes(&self) -> (u16, &'static str, &'static str) {
        use SqsError::*;
        match self {
            QueueDoesNotExist => (
                400,
                "AWS.SimpleQueueService.NonExistentQueue",
                "QueueDoesNotExist",
            ),
            QueueAlreadyExists(_) => (400, "QueueAlreadyExists", "QueueNameExists"),
            ReceiptHandleIsInvalid(_) => (400, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid"),
            MissingParameter(_) => (400, "MissingParameter", "MissingParameter"),
            InvalidParameterValue(_) => (400, "InvalidParameterValue", "InvalidParameterValue"),
            InvalidAttributeName(_) => (400, "InvalidAttributeName", "InvalidAttributeName"),
            InvalidAction(_) => (400, "InvalidAction", "InvalidAction"),
            TooManyEntriesInBatchRequest(_) => (
                400,
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                "TooManyEntriesInBatchRequest",
            ),
            EmptyBatchRequest => (
                400,
                "AWS.SimpleQueueService.EmptyBatchRequest",
                "EmptyBatchRequest",
            ),
            BatchEntryIdsNotDistinct(_) => (
                400,
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                "BatchEntryIdsNotDistinct",
            ),
            BatchRequestTooLong(_) => (
                400,
                "AWS.SimpleQueueService.BatchRequestTooLong",
                "BatchRequestTooLong",
            ),
            OverLimit => (403, "OverLimit", "OverLimit"),
            Unsupported(_) => (
                400,
                "AWS.SimpleQueueService.UnsupportedOperation",
                "UnsupportedOperation",
            ),
        }
    }
}

impl From<QueueError> for SqsError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::InvalidHandle(h) => SqsError::ReceiptHandleIsInvalid(h),
            QueueError::OverLimit => SqsError::OverLimit,
        }
    }
}

/// A queue and the long polls waiting on it.
struct Slot {
    url: String,
    created: u64,
    queue: Mutex<Queue>,
    wake: tokio::sync::Notify,
    deleted: std::sync::atomic::AtomicBool,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Queue updates cannot leave it half-changed in a way that matters more than stopping.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// All queues of the embedded backend.
pub struct Sqs {
    base_url: String,
    queues: RwLock<HashMap<String, Arc<Slot>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn range(name: &str, value: i64, lo: i64, hi: i64) -> Result<i64, SqsError> {
    if (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(SqsError::InvalidParameterValue(format!(
            "Value {value} for parameter {name} is invalid. Reason: must be between {lo} and {hi}."
        )))
    }
}

/// Queue settings from CreateQueue attributes; unknown or read-only names are refused.
fn settings(attributes: &BTreeMap<String, String>) -> Result<Settings, SqsError> {
    let mut s = Settings::default();
    for (name, value) in attributes {
        let number = |lo, hi| -> Result<u32, SqsError> {
            let v = request::integer(name, value)?;
            // In range, so it fits in u32.
            Ok(range(name, v, lo, hi)? as u32)
        };
        match name.as_str() {
            "VisibilityTimeout" => s.visibility_timeout = number(0, 43_200)?,
            "MessageRetentionPeriod" => s.message_retention_period = number(60, 1_209_600)?,
            "MaximumMessageSize" => s.maximum_message_size = number(1024, 262_144)?,
            "ReceiveMessageWaitTimeSeconds" => s.receive_message_wait_time = number(0, 20)?,
            "DelaySeconds" => {
                if number(0, 900)? != 0 {
                    return Err(SqsError::Unsupported("delayed messages".into()));
                }
            }
            other => return Err(SqsError::InvalidAttributeName(other.to_string())),
        }
    }
    Ok(s)
}

/// Every attribute GetQueueAttributes knows, in the order `All` lists them.
const ATTRIBUTES: [&str; 11] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
];

/// Message attributes a receive can ask for.
const MESSAGE_ATTRIBUTES: [&str; 4] = [
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SentTimestamp",
    "SenderId",
];

impl Sqs {
    /// Queues whose URLs start with `base_url` (the backend's own address).
    pub fn new(base_url: &str) -> Sqs {
        Sqs {
            base_url: base_url.trim_end_matches('/').to_string(),
            queues: RwLock::new(HashMap::new()),
        }
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>, SqsError> {
        self.queues
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or(SqsError::QueueDoesNotExist)
    }

    /// Runs one operation; a receive may wait up to its long-poll time.
    pub async fn call(&self, action: Action) -> Result<Reply, SqsError> {
        match action {
            Action::CreateQueue { name, attributes } => self.create(&name, &attributes),
            Action::DeleteQueue { queue } => {
                let slot = self
                    .queues
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&queue)
                    .ok_or(SqsError::QueueDoesNotExist)?;
                slot.deleted
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                slot.wake.notify_waiters();
                Ok(Reply::Empty)
            }
            Action::GetQueueUrl { name } => Ok(Reply::QueueUrl(self.slot(&name)?.url.clone())),
            Action::ListQueues { prefix } => {
                let queues = self.queues.read().unwrap_or_else(|p| p.into_inner());
                let mut urls: Vec<String> = queues
                    .iter()
                    .filter(|(n, _)| n.starts_with(&prefix))
                    .map(|(_, s)| s.url.clone())
                    .collect();
                urls.sort();
                Ok(Reply::QueueUrls(urls))
            }
            Action::GetQueueAttributes { queue, names } => {
                let slot = self.slot(&queue)?;
                Ok(Reply::Attributes(self.attributes(&queue, &slot, &names)?))
            }
            Action::SendMessage { queue, entry } => {
                let slot = self.slot(&queue)?;
                let max = slot.lock().settings.maximum_message_size as usize;
                check_entry(&entry, max)?;
                let (id, md5) = slot.lock().send(entry.body, now_ms());
                slot.wake.notify_waiters();
                Ok(Reply::Sent { id, md5 })
            }
            Action::SendMessageBatch { queue, entries } => {
                let slot = self.slot(&queue)?;
                check_batch(entries.iter().map(|e| e.id.as_str()))?;
                let bytes: usize = entries.iter().map(|e| e.body.len()).sum();
                if bytes > MAX_BATCH_BYTES {
                    return Err(SqsError::BatchRequestTooLong(bytes));
                }
                let max = slot.lock().settings.maximum_message_size as usize;
                let mut ok = Vec::new();
                let mut failed = Vec::new();
                {
                    let mut q = slot.lock();
                    let now = now_ms();
                    for entry in entries {
                        match check_entry(&entry, max) {
                            Ok(()) => {
                                let (message_id, md5) = q.send(entry.body, now);
                                ok.push((entry.id, message_id, md5));
                            }
                            Err(e) => failed.push(BatchFailure::new(entry.id, &e)),
                        }
                    }
                }
                slot.wake.notify_waiters();
                Ok(Reply::SentBatch { ok, failed })
            }
            Action::ReceiveMessage {
                queue,
                max,
                wait_secs,
                visibility,
                attribute_names,
            } => {
                let slot = self.slot(&queue)?;
                let max = range("MaxNumberOfMessages", max.unwrap_or(1), 1, 10)? as usize;
                let wait = match wait_secs {
                    Some(w) => range("WaitTimeSeconds", w, 0, 20)? as u64,
                    None => u64::from(slot.lock().settings.receive_message_wait_time),
                };
                let visibility = visibility
                    .map(|v| range("VisibilityTimeout", v, 0, 43_200).map(|v| v as u32))
                    .transpose()?;
                let names = message_attribute_names(&attribute_names)?;
                let messages = receive(&slot, max, visibility, Duration::from_secs(wait)).await?;
                Ok(Reply::Received { messages, names })
            }
            Action::DeleteMessage {
                queue,
                receipt_handle,
            } => {
                self.slot(&queue)?.lock().delete(&receipt_handle)?;
                Ok(Reply::Empty)
            }
            Action::DeleteMessageBatch { queue, entries } => {
                let slot = self.slot(&queue)?;
                check_batch(entries.iter().map(|e| e.id.as_str()))?;
                let mut ok = Vec::new();
                let mut failed = Vec::new();
                let mut q = slot.lock();
                for entry in entries {
                    match q.delete(&entry.receipt_handle) {
                        Ok(()) => ok.push(entry.id),
                        Err(e) => failed.push(BatchFailure::new(entry.id, &e.into())),
                    }
                }
                Ok(Reply::DeletedBatch { ok, failed })
            }
            Action::PurgeQueue { queue } => {
                self.slot(&queue)?.lock().purge();
                Ok(Reply::Empty)
            }
        }
    }

    fn create(&self, name: &str, attributes: &BTreeMap<String, String>) -> Result<Reply, SqsError> {
        let valid = !name.is_empty()
            && name.len() <= 80
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(SqsError::InvalidParameterValue(format!(
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (queue name {name:?})."
            )));
        }
        let wanted = settings(attributes)?;
        let mut queues = self.queues.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = queues.get(name) {
            // Same name and settings: SQS returns the existing queue.
            let have = existing.lock().settings.clone();
            if have != wanted {
                let differing = attributes.keys().next().cloned().unwrap_or_default();
                return Err(SqsError::QueueAlreadyExists(differing));
            }
            return Ok(Reply::QueueUrl(existing.url.clone()));
        }
        let url = format!("{}/{ACCOUNT}/{name}", self.base_url);
        queues.insert(
            name.to_string(),
            Arc::new(Slot {
                url: url.clone(),
                created: now_ms() / 1000,
                queue: Mutex::new(Queue::new(wanted)),
                wake: tokio::sync::Notify::new(),
                deleted: std::sync::atomic::AtomicBool::new(false),
            }),
        );
        Ok(Reply::QueueUrl(url))
    }

    fn attributes(
        &self,
        name: &str,
        slot: &Slot,
        names: &[String],
    ) -> Result<Vec<(String, String)>, SqsError> {
        let mut wanted: Vec<&str> = Vec::new();
        for n in names {
            match n.as_str() {
                "All" => wanted.extend(ATTRIBUTES),
                n => match ATTRIBUTES.iter().find(|a| **a == n) {
                    Some(a) => wanted.push(a),
                    None => return Err(SqsError::InvalidAttributeName(n.to_string())),
                },
            }
        }
        let mut seen = HashSet::new();
        wanted.retain(|n| seen.insert(*n));
        let mut q = slot.lock();
        let (visible, in_flight) = q.counts(Instant::now());
        let s = &q.settings;
        Ok(wanted
            .into_iter()
            .map(|n| {
                let v = match n {
                    "ApproximateNumberOfMessages" => visible.to_string(),
                    "ApproximateNumberOfMessagesNotVisible" => in_flight.to_string(),
                    "ApproximateNumberOfMessagesDelayed" => "0".into(),
                    "CreatedTimestamp" | "LastModifiedTimestamp" => slot.created.to_string(),
                    "QueueArn" => format!("arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"),
                    "VisibilityTimeout" => s.visibility_timeout.to_string(),
                    "MaximumMessageSize" => s.maximum_message_size.to_string(),
                    "MessageRetentionPeriod" => s.message_retention_period.to_string(),
                    "DelaySeconds" => s.delay_seconds.to_string(),
                    _ => s.receive_message_wait_time.to_string(),
                };
                (n.to_string(), v)
            })
            .collect())
    }
}

/// Checks a message to send: a body within the queue's size limit and no delay.
fn check_entry(entry: &SendEntry, max_size: usize) -> Result<(), SqsError> {
    if entry.body.is_empty() {
        return Err(SqsError::MissingParameter("MessageBody".into()));
    }
    if entry.body.len() > max_size {
        return Err(SqsError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_size} bytes."
        )));
    }
    match entry.delay_seconds {
        None | Some(0) => Ok(()),
        Some(d) => {
            range("DelaySeconds", d, 0, 900)?;
            Err(SqsError::Unsupported("delayed messages".into()))
        }
    }
}

/// Checks the shape of a batch: 1 to 10 entries with distinct ids.
fn check_batch<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), SqsError> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Err(SqsError::EmptyBatchRequest);
    }
    if ids.len() > MAX_BATCH {
        return Err(SqsError::TooManyEntriesInBatchRequest(ids.len()));
    }
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct(id.to_string()));
        }
    }
    Ok(())
}

/// The message attribute names a receive asked for (`All` = every one).
fn message_attribute_names(asked: &[String]) -> Result<Vec<&'static str>, SqsError> {
    let mut out: Vec<&'static str> = Vec::new();
    for a in asked {
        if a == "All" {
            out.extend(MESSAGE_ATTRIBUTES);
        } else if let Some(known) = MESSAGE_ATTRIBUTES.iter().find(|m| *m == a) {
            out.push(known);
        }
        // Other system attributes (AWSTraceHeader, FIFO ones) are simply absent, as for a
        // standard queue without them.
    }
    let mut seen = HashSet::new();
    out.retain(|n| seen.insert(*n));
    Ok(out)
}

/// A receive that waits up to `wait` for messages: woken by sends and by the next visibility
/// timeout that runs out.
async fn receive(
    slot: &Slot,
    max: usize,
    visibility: Option<u32>,
    wait: Duration,
) -> Result<Vec<Delivery>, SqsError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = slot.wake.notified();
        tokio::pin!(notified);
        // Registered before looking, so a send between the look and the wait is not missed.
        notified.as_mut().enable();
        let (got, next_expiry) = {
            let mut q = slot.lock();
            let got = q.receive(max, visibility, Instant::now(), now_ms())?;
            (got, q.next_expiry())
        };
        let now = tokio::time::Instant::now();
        if !got.is_empty()
            || now >= deadline
            || slot.deleted.load(std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(got);
        }
        let mut wake_at = deadline;
        if let Some(t) = next_expiry {
            let at = now + t.saturating_duration_since(Instant::now());
            wake_at = wake_at.min(at);
        }
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::request::{DeleteEntry, SendEntry};
    use super::*;

    fn entry(id: &str, body: &str) -> SendEntry {
        SendEntry {
            id: id.into(),
            body: body.into(),
            delay_seconds: None,
        }
    }

    async fn make(sqs: &Sqs, name: &str, visibility: &str) {
        sqs.call(Action::CreateQueue {
            name: name.into(),
            attributes: BTreeMap::from([("VisibilityTimeout".into(), visibility.into())]),
        })
        .await
        .unwrap();
    }

    async fn receive_all(sqs: &Sqs, q: &str, wait: i64) -> Vec<Delivery> {
        match sqs
            .call(Action::ReceiveMessage {
                queue: q.into(),
                max: Some(10),
                wait_secs: Some(wait),
                visibility: None,
                attribute_names: vec![],
            })
            .await
            .unwrap()
        {
            Reply::Received { messages, .. } => messages,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_long_poll_wakes_on_send() {
        let sqs = Arc::new(Sqs::new("http://127.0.0.1:9"));
        make(&sqs, "q", "30").await;
        let poller = {
            let sqs = sqs.clone();
            tokio::spawn(async move { receive_all(&sqs, "q", 20).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !poller.is_finished(),
            "an empty queue keeps the poll waiting"
        );
        sqs.call(Action::SendMessage {
            queue: "q".into(),
            entry: entry("", "hello"),
        })
        .await
        .unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), poller)
            .await
            .expect("the send wakes the poll well before its 20 s")
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body, "hello");
    }

    #[tokio::test]
    async fn a_long_poll_wakes_when_a_visibility_timeout_runs_out() {
        let sqs = Sqs::new("http://127.0.0.1:9");
        make(&sqs, "q", "1").await;
        sqs.call(Action::SendMessage {
            queue: "q".into(),
            entry: entry("", "m"),
        })
        .await
        .unwrap();
        assert_eq!(receive_all(&sqs, "q", 0).await[0].receive_count, 1);
        let again = tokio::time::timeout(Duration::from_secs(10), receive_all(&sqs, "q", 20))
            .await
            .expect("the message comes back after its 1 s timeout, not after 20 s");
        assert_eq!(again[0].receive_count, 2);
    }

    #[tokio::test]
    async fn batches_fail_per_entry_or_as_a_whole() {
        let sqs = Sqs::new("http://127.0.0.1:9");
        make(&sqs, "q", "30").await;
        let big = "x".repeat(262_145 - 1000);
        let reply = sqs
            .call(Action::SendMessageBatch {
                queue: "q".into(),
                entries: vec![entry("a", "one"), entry("b", ""), entry("c", "three")],
            })
            .await
            .unwrap();
        let Reply::SentBatch { ok, failed } = reply else {
            panic!("{reply:?}")
        };
        let ids: Vec<&str> = ok.iter().map(|o| o.0.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(failed.len(), 1);
        assert_eq!(
            (failed[0].id.as_str(), failed[0].code),
            ("b", "MissingParameter")
        );
        let whole = |entries| {
            sqs.call(Action::SendMessageBatch {
                queue: "q".into(),
                entries,
            })
        };
        assert_eq!(
            whole(vec![]).await.unwrap_err(),
            SqsError::EmptyBatchRequest
        );
        assert_eq!(
            whole((0..11).map(|i| entry(&i.to_string(), "m")).collect())
                .await
                .unwrap_err(),
            SqsError::TooManyEntriesInBatchRequest(11)
        );
        assert_eq!(
            whole(vec![entry("a", "1"), entry("a", "2")])
                .await
                .unwrap_err(),
            SqsError::BatchEntryIdsNotDistinct("a".into())
        );
        assert_eq!(
            whole(vec![entry("a", &big), entry("b", &big)])
                .await
                .unwrap_err(),
            SqsError::BatchRequestTooLong(2 * big.len())
        );

        let got = receive_all(&sqs, "q", 0).await;
        let reply = sqs
            .call(Action::DeleteMessageBatch {
                queue: "q".into(),
                entries: vec![
                    DeleteEntry {
                        id: "0".into(),
                        receipt_handle: got[0].receipt_handle.clone(),
                    },
                    DeleteEntry {
                        id: "1".into(),
                        receipt_handle: "not-a-handle".into(),
                    },
                ],
            })
            .await
            .unwrap();
        let Reply::DeletedBatch { ok, failed } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(ok, ["0"]);
        assert_eq!(
            (failed[0].id.as_str(), failed[0].code),
            ("1", "ReceiptHandleIsInvalid")
        );
    }

    #[tokio::test]
    async fn queue_attributes_count_visible_and_in_flight_messages() {
        let sqs = Sqs::new("http://127.0.0.1:9");
        make(&sqs, "q", "30").await;
        for i in 0..5 {
            sqs.call(Action::SendMessage {
                queue: "q".into(),
                entry: entry("", &i.to_string()),
            })
            .await
            .unwrap();
        }
        sqs.call(Action::ReceiveMessage {
            queue: "q".into(),
            max: Some(2),
            wait_secs: None,
            visibility: None,
            attribute_names: vec![],
        })
        .await
        .unwrap();
        let attrs = |names: &[&str]| {
            sqs.call(Action::GetQueueAttributes {
                queue: "q".into(),
                names: names.iter().map(|n| n.to_string()).collect(),
            })
        };
        let Reply::Attributes(got) = attrs(&[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "VisibilityTimeout",
        ])
        .await
        .unwrap() else {
            panic!()
        };
        let got: Vec<(&str, &str)> = got.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            got,
            [
                ("ApproximateNumberOfMessages", "3"),
                ("ApproximateNumberOfMessagesNotVisible", "2"),
                ("VisibilityTimeout", "30"),
            ]
        );
        assert_eq!(
            attrs(&["Bogus"]).await.unwrap_err(),
            SqsError::InvalidAttributeName("Bogus".into())
        );
        sqs.call(Action::PurgeQueue { queue: "q".into() })
            .await
            .unwrap();
        let Reply::Attributes(after) = attrs(&["All"]).await.unwrap() else {
            panic!()
        };
        assert_eq!(after[0], ("ApproximateNumberOfMessages".into(), "0".into()));
        assert_eq!(
            after[1],
            ("ApproximateNumberOfMessagesNotVisible".into(), "0".into())
        );
    }

    #[tokio::test]
    async fn queues_are_created_once_and_deleted_queues_are_gone() {
        let sqs = Sqs::new("http://127.0.0.1:9/");
        make(&sqs, "q", "30").await;
        let url = sqs
            .call(Action::GetQueueUrl { name: "q".into() })
            .await
            .unwrap();
        assert_eq!(
            url,
            Reply::QueueUrl("http://127.0.0.1:9/123456789012/q".into())
        );
        // The same settings again: the same queue; other settings: refused.
        make(&sqs, "q", "30").await;
        assert_eq!(
            sqs.call(Action::CreateQueue {
                name: "q".into(),
                attributes: BTreeMap::from([("VisibilityTimeout".into(), "5".into())]),
            })
            .await
            .unwrap_err(),
            SqsError::QueueAlreadyExists("VisibilityTimeout".into())
        );
        sqs.call(Action::DeleteQueue { queue: "q".into() })
            .await
            .unwrap();
        assert_eq!(
            sqs.call(Action::GetQueueUrl { name: "q".into() })
                .await
                .unwrap_err(),
            SqsError::QueueDoesNotExist
        );
    }
}
