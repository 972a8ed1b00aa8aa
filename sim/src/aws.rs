//! The simulator's own SQS/S3 calls, made straight to the backend (moto or the embedded one;
//! never through the front door, which is only for clients): creating and deleting a job's queues,
//! filling them, reading the service queues, fetching and deleting tiles.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};
use std::collections::HashMap;

/// An AWS call that failed; the text names the operation and the queue or object.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {target}: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub target: String,
    pub message: String,
}

fn err<E>(operation: &'static str, target: &str) -> impl FnOnce(E) -> AwsError
where
    E: std::error::Error,
{
    let target = target.to_string();
    move |e| AwsError {
        operation,
        target,
        message: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
    }
}

fn s3err<E>(operation: &'static str, target: &str) -> impl FnOnce(E) -> AwsError
where
    E: std::error::Error,
{
    err(operation, target)
}

/// A received message: its receipt handle and body.
pub struct Received {
    pub receipt_handle: String,
    pub body: String,
}

/// The simulator's own key pair for its backend. moto checks no keys; the embedded S3 does.
pub const ADMIN_ACCESS_KEY: &str = "boss-sim";
pub const ADMIN_SECRET: &str = "boss-sim";

/// Clients for the backend (moto or embedded) with the simulator's own keys.
#[derive(Clone)]
pub struct Admin {
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Admin {
    pub fn new(moto_url: &str) -> Admin {
        let creds = aws_sdk_sqs::config::Credentials::new(
            ADMIN_ACCESS_KEY,
            ADMIN_SECRET,
            None,
            None,
            "boss-sim",
        );
        let region = aws_sdk_sqs::config::Region::new("us-east-1");
        let sqs = aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(creds.clone())
            .endpoint_url(moto_url)
            .build();
        let s3 = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(region)
            .credentials_provider(creds)
            .endpoint_url(moto_url)
            .force_path_style(true)
            .build();
        Admin {
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            s3: aws_sdk_s3::Client::from_conf(s3),
        }
    }

    pub async fn create_bucket(&self, name: &str) -> Result<(), AwsError> {
        match self.s3.create_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(s3err("CreateBucket", name)(e)),
        }
    }

    /// Creates a queue with the service's settings (visibility timeout as given, 120 s in
    /// production; retention 14 days; 256 KiB messages) and returns moto's URL for it.
    pub async fn create_queue(&self, name: &str, visibility_secs: u32) -> Result<String, AwsError> {
        let attrs = HashMap::from([
            (
                QueueAttributeName::VisibilityTimeout,
                visibility_secs.to_string(),
            ),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "1209600".to_string(),
            ),
            (QueueAttributeName::MaximumMessageSize, "262144".to_string()),
        ]);
        let out = self
            .sqs
            .create_queue()
            .queue_name(name)
            .set_attributes(Some(attrs))
            .send()
            .await
            .map_err(err("CreateQueue", name))?;
        Ok(out.queue_url.unwrap_or_default())
    }

    pub async fn delete_queue(&self, url: &str) -> Result<(), AwsError> {
        self.sqs
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(err("DeleteQueue", url))?;
        Ok(())
    }

    /// Sends up to 10 bodies in one batch; retries the entries that failed.
    pub async fn send_batch(&self, url: &str, bodies: &[String]) -> Result<(), AwsError> {
        let mut pending: Vec<(String, &String)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i.to_string(), b))
            .collect();
        for _attempt in 0..5 {
            if pending.is_empty() {
                return Ok(());
            }
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body.as_str())
                        .build()
                        // Both required fields are set just above.
                        .expect("id and body are set")
                })
                .collect();
            let out = self
                .sqs
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(err("SendMessageBatch", url))?;
            let failed: Vec<String> = out.failed.iter().map(|f| f.id.clone()).collect();
            pending.retain(|(id, _)| failed.contains(id));
        }
        Err(AwsError {
            operation: "SendMessageBatch",
            target: url.to_string(),
            message: format!("{} messages still failing after 5 attempts", pending.len()),
        })
    }

    pub async fn send(&self, url: &str, body: String) -> Result<(), AwsError> {
        self.sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .map_err(err("SendMessage", url))?;
        Ok(())
    }

    /// Receives up to `max` messages without waiting.
    pub async fn receive(&self, url: &str, max: i32) -> Result<Vec<Received>, AwsError> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(err("ReceiveMessage", url))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| Received {
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    pub async fn delete_message(&self, url: &str, receipt_handle: &str) -> Result<(), AwsError> {
        self.sqs
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(err("DeleteMessage", url))?;
        Ok(())
    }

    /// Deletes up to 10 received messages in one call.
    pub async fn delete_batch(
        &self,
        url: &str,
        receipt_handles: &[String],
    ) -> Result<(), AwsError> {
        if receipt_handles.is_empty() {
            return Ok(());
        }
        let entries = receipt_handles
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(handle)
                    .build()
                    // Both required fields are set just above.
                    .expect("id and receipt handle are set")
            })
            .collect();
        self.sqs
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(err("DeleteMessageBatch", url))?;
        Ok(())
    }

    /// (visible, in flight) message counts.
    pub async fn depth(&self, url: &str) -> Result<(u64, u64), AwsError> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(err("GetQueueAttributes", url))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |name| {
            attrs
                .get(&name)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0u64)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// An object's bytes, or `None` if it does not exist.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => {
                let bytes = out.body.collect().await.map_err(|e| AwsError {
                    operation: "GetObject",
                    target: format!("{bucket}/{key}"),
                    message: e.to_string(),
                })?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(s3err("GetObject", &format!("{bucket}/{key}"))(e)),
        }
    }

    pub async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(s3err("PutObject", &format!("{bucket}/{key}")))?;
        Ok(())
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<(), AwsError> {
        self.s3
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(s3err("DeleteObject", &format!("{bucket}/{key}")))?;
        Ok(())
    }
}
