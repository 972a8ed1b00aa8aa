//! The AWS endpoint behaves like a Boss job's credentials on real AWS: unknown and expired keys
//! and actions outside the job's policy are refused in each service's wire format; faults are
//! injected at the configured rate, deterministically under a seed.

use super::{tile_config, Api};
use crate::support::sim::{Backend, SimHandle, SimOptions};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::json;
use std::time::Duration;

async fn unknown_keys_are_refused_as_aws_does(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512))
        .await;
    let (join, _) = api.join_uploading(id).await;
    let upload = join.ingest_job.upload_queue.clone().unwrap();

    let s3_err = sim
        .s3("AKIANOTMINTED", "x")
        .put_object()
        .bucket("tiles.boss-sim.local")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(s3_err.meta().code(), Some("InvalidAccessKeyId"));
    assert_eq!(
        s3_err.meta().message(),
        Some("The AWS Access Key Id you provided does not exist in our records.")
    );
    let sqs_err = sim
        .sqs("AKIANOTMINTED", "x")
        .receive_message()
        .queue_url(&upload)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(sqs_err.meta().code(), Some("InvalidClientTokenId"));
    let (_, global) = api
        .call(reqwest::Method::GET, "/sim/stats", None, None)
        .await;
    assert_eq!(global["aws_requests"]["s3.PutObject"], json!(1), "{global}");
    assert_eq!(
        global["aws_requests"]["sqs.ReceiveMessage"],
        json!(1),
        "{global}"
    );

    // The SQS query protocol (boto3 1.34) gets the XML error document.
    let response = reqwest::Client::new()
        .post(&sim.aws)
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIANOTMINTED/20261128/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=00",
        )
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("Action=ReceiveMessage&QueueUrl={upload}&Version=2012-11-05"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("<Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message>"),
        "{text}"
    );
}

async fn job_keys_allow_only_the_job_policy(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 2], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    let s3 = sim.s3(&creds.access_key, &creds.secret_key);
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let index = join.ingest_job.tile_index_queue.clone().unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&upload)
        .send()
        .await
        .expect("ReceiveMessage on the upload queue is allowed");
    let handle = received.messages.unwrap()[0]
        .receipt_handle
        .clone()
        .unwrap();
    let denied = sqs
        .change_message_visibility()
        .queue_url(&upload)
        .receipt_handle(&handle)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(denied.meta().code(), Some("AccessDenied"));
    let denied = sqs
        .send_message()
        .queue_url(&upload)
        .message_body("{}")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        denied.meta().code(),
        Some("AccessDenied"),
        "no SendMessage to the upload queue"
    );
    sqs.send_message()
        .queue_url(&index)
        .message_body("{}")
        .send()
        .await
        .expect("SendMessage to the tile-index queue is allowed");
    let denied = s3
        .get_object()
        .bucket("tiles.boss-sim.local")
        .key("anything")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(denied.meta().code(), Some("AccessDenied"));
    let denied = s3
        .put_object()
        .bucket("ingest.boss-sim.local")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        denied.meta().code(),
        Some("AccessDenied"),
        "tile jobs may not write the ingest bucket"
    );

    let stats = sim.stats(id).await;
    assert_eq!(stats["aws_denied"]["sqs.ChangeMessageVisibility"], json!(1));
    assert_eq!(stats["aws_denied"]["s3.GetObject"], json!(1));
    assert_eq!(stats["aws_requests"]["sqs.ReceiveMessage"], json!(1));
    assert_eq!(stats["aws_requests"]["sqs.SendMessage"], json!(2));
}

async fn a_wrong_secret_does_not_match_the_signature(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let (_, newer) = api.join_uploading(id).await;
    // The access key of one join with the secret of another.
    let sqs = sim.sqs(&creds.access_key, &newer.secret_key);
    let err = sqs
        .receive_message()
        .queue_url(join.ingest_job.upload_queue.as_deref().unwrap())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("SignatureDoesNotMatch"));
    let err = sim
        .s3(&creds.access_key, &newer.secret_key)
        .put_object()
        .bucket("tiles.boss-sim.local")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.meta().code(), Some("SignatureDoesNotMatch"));
    // The matching pair works.
    sim.s3(&creds.access_key, &creds.secret_key)
        .put_object()
        .bucket("tiles.boss-sim.local")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect("correctly signed PutObject");
}

/// S3 allows 2 KiB of user metadata (keys and values); moto stores any amount, so the front
/// door refuses more as AWS does, and records the largest size a job sent.
async fn user_metadata_over_2_kib_is_refused_as_s3_does(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512))
        .await;
    let (_, creds) = api.join_uploading(id).await;
    let s3 = sim.s3(&creds.access_key, &creds.secret_key);
    // "metadata" (8) + value: exactly the limit, then one byte over it.
    for (value_len, refused) in [(2040, false), (2041, true)] {
        let result = s3
            .put_object()
            .bucket("tiles.boss-sim.local")
            .key("k")
            .body(ByteStream::from_static(b"x"))
            .metadata("metadata", "m".repeat(value_len))
            .send()
            .await;
        match result {
            Ok(_) => assert!(!refused, "{value_len} bytes were accepted"),
            Err(e) => {
                let e = e.into_service_error();
                assert!(refused, "{value_len} bytes: {e:?}");
                assert_eq!(e.meta().code(), Some("MetadataTooLarge"));
                assert_eq!(
                    e.meta().message(),
                    Some("Your metadata headers exceed the maximum allowed metadata size.")
                );
            }
        }
    }
    let stats = sim.stats(id).await;
    assert_eq!(stats["metadata_bytes_max"], json!(2049), "{stats}");
    assert_eq!(
        stats["tiles_stored"],
        json!(0),
        "neither put carried a receipt"
    );
    assert_eq!(
        stats["tiles_missing_metadata"],
        json!(1),
        "only one put was stored"
    );
}

async fn keys_expire_after_the_ttl(backend: Backend) {
    // By default an expired key is the deleted IAM user behind a real job key; on request,
    // ExpiredToken as temporary credentials would answer.
    for (extra, sqs_code, s3_code) in [
        (&[][..], "InvalidClientTokenId", "InvalidAccessKeyId"),
        (
            &["--expired-keys", "expired-token"][..],
            "ExpiredToken",
            "ExpiredToken",
        ),
    ] {
        let options = SimOptions {
            credential_ttl_secs: Some(1.0),
            ..SimOptions::on(backend)
        };
        let sim = SimHandle::try_start_with(options, extra).expect("boss-sim starts");
        expire_and_rejoin(&sim, sqs_code, s3_code).await;
    }
}

/// The keys of a fresh join work, are refused with these codes after the TTL, and a re-join
/// mints keys that work again.
async fn expire_and_rejoin(sim: &SimHandle, sqs_code: &str, s3_code: &str) {
    let api = Api::new(sim);
    let id = api
        .create_ok(&tile_config(sim, "ch", [0, 512], [0, 512], [0, 1], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    sqs.get_queue_attributes()
        .queue_url(&upload)
        .send()
        .await
        .expect("fresh keys work");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let expired = sqs
        .get_queue_attributes()
        .queue_url(&upload)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(expired.meta().code(), Some(sqs_code));
    let s3_expired = sim
        .s3(&creds.access_key, &creds.secret_key)
        .put_object()
        .bucket("tiles.boss-sim.local")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(s3_expired.meta().code(), Some(s3_code));
    // A re-join mints keys that work again.
    let (_, fresh) = api.join_uploading(id).await;
    sim.sqs(&fresh.access_key, &fresh.secret_key)
        .get_queue_attributes()
        .queue_url(&upload)
        .send()
        .await
        .expect("re-joined keys work");
}

/// Which of `n` sequential status calls the simulator failed.
async fn failed_status_calls(sim: &SimHandle, id: u64, n: usize) -> Vec<usize> {
    let api = Api::new(sim);
    let mut failed = Vec::new();
    for i in 0..n {
        let (status, body) = api.status(id).await;
        match status {
            200 => {}
            500 => {
                assert_eq!(body["message"], json!("Injected fault (boss-sim)"));
                failed.push(i)
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    failed
}

async fn faults_hit_at_the_configured_rate_and_repeat_under_a_seed(backend: Backend) {
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = SimHandle::start(SimOptions {
            seed: 42,
            ..SimOptions::on(backend)
        });
        let api = Api::new(&sim);
        let id = api
            .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512))
            .await;
        let (status, spec) = api
            .call(
                reqwest::Method::PUT,
                "/sim/faults",
                None,
                Some("api.status:500:0.25".into()),
            )
            .await;
        assert_eq!(status, 200, "{spec}");
        let failed = failed_status_calls(&sim, id, 400).await;
        // 400 draws at p = 0.25: 100 expected; this seed is far inside ±5 standard deviations.
        assert!(
            (57..=143).contains(&failed.len()),
            "{} faults",
            failed.len()
        );
        assert_eq!(
            sim.stats(id).await["faults_injected"]["api.status"],
            json!(failed.len())
        );

        // S3 faults through the front door, with the SDK's retries off so each one shows.
        let (join, creds) = api.join_uploading(id).await;
        let (status, _) = api
            .call(
                reqwest::Method::PUT,
                "/sim/faults",
                None,
                Some("s3.put:503:0.5".into()),
            )
            .await;
        assert_eq!(status, 200);
        let s3 = aws_sdk_s3::Client::from_conf(
            sim.s3(&creds.access_key, &creds.secret_key)
                .config()
                .to_builder()
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
                .build(),
        );
        let mut slow_downs = 0;
        for i in 0..60 {
            let put = s3
                .put_object()
                .bucket(join.tile_bucket_name.as_deref().unwrap())
                .key(format!("fault-{i}"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await;
            if let Err(e) = put {
                assert_eq!(e.into_service_error().meta().code(), Some("SlowDown"));
                slow_downs += 1;
            }
        }
        assert!(
            (10..=50).contains(&slow_downs),
            "{slow_downs} of 60 at p = 0.5"
        );
        assert_eq!(
            sim.stats(id).await["faults_injected"]["s3.put"],
            json!(slow_downs)
        );
        runs.push((failed, slow_downs));
    }
    assert_eq!(runs[0], runs[1], "the same seed injects the same faults");
}

on_both_backends!(
    unknown_keys_are_refused_as_aws_does,
    job_keys_allow_only_the_job_policy,
    a_wrong_secret_does_not_match_the_signature,
    keys_expire_after_the_ttl,
    user_metadata_over_2_kib_is_refused_as_s3_does,
    faults_hit_at_the_configured_rate_and_repeat_under_a_seed,
);
