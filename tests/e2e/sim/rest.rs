//! The REST API as the service answers it (spec §2): auth and error bodies, create validation,
//! every row of the complete table, cancel.

use super::assembly::Upload;
use super::{drain, moto_sqs, tile_config, Api};
use crate::support::data::Dtype;
use crate::support::sim::{Backend, SimHandle, SimOptions, OTHER_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

fn boss_error(status: u16, code: u32, message: &str) -> Value {
    json!({"status": status, "code": code, "message": message})
}

async fn auth_and_lookup_errors_have_the_service_bodies(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let config = tile_config(&sim, "ch", [0, 512], [0, 512], [0, 16], 512);

    let no_token = api
        .call(
            Method::POST,
            "/latest/ingest/",
            None,
            Some(config.to_string()),
        )
        .await;
    assert_eq!(
        no_token,
        (
            401,
            json!({"detail": "Authentication credentials were not provided."})
        )
    );
    let bad_token = api
        .call(Method::GET, "/latest/ingest/1", Some("nope"), None)
        .await;
    assert_eq!(bad_token, (401, json!({"detail": "Invalid token."})));

    assert_eq!(
        api.join(99).await,
        (
            404,
            boss_error(404, 4004, "Ingest job with id 99 not found")
        )
    );
    assert_eq!(
        api.status(99).await,
        (
            404,
            boss_error(404, 4004, "Ingest job with id 99 not found")
        )
    );

    assert_eq!(
        api.call(Method::GET, "/latest/ingest/abc/", Some(&sim.token), None)
            .await,
        (404, boss_error(404, 4004, "Ingest job \"abc\" not found"))
    );
    let bad_faults = api
        .call(
            Method::PUT,
            "/sim/faults",
            None,
            Some("sqs.recieve:500:0.1".into()),
        )
        .await;
    assert_eq!(bad_faults.0, 400);
    assert!(
        bad_faults.1["detail"]
            .as_str()
            .unwrap()
            .starts_with("fault rule \"sqs.recieve:500:0.1\": unknown target \"sqs.recieve\""),
        "{}",
        bad_faults.1
    );

    let id = api.create_ok(&config).await;
    for path in [
        format!("/latest/ingest/{id}"),
        format!("/v1/ingest/{id}/status/"),
    ] {
        let other = api.call(Method::GET, &path, Some(OTHER_TOKEN), None).await;
        assert_eq!(
            other,
            (
                403,
                boss_error(
                    403,
                    3003,
                    &format!("Only the creator of ingest job {id} can use it")
                )
            ),
            "{path}"
        );
    }
}

async fn create_refuses_bad_configs_with_the_reason(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);

    let malformed = api
        .call(
            Method::POST,
            "/v1/ingest",
            Some(&sim.token),
            Some("{\"schema\": ".into()),
        )
        .await;
    assert_eq!(malformed.0, 400);
    let detail = malformed.1["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("JSON parse error - EOF while parsing"),
        "{detail}"
    );

    let mut no_chunk_processor =
        super::volumetric_config(&sim, "ch", [0, 512], [0, 512], [0, 16], [512, 512, 16]);
    no_chunk_processor["client"]
        .as_object_mut()
        .unwrap()
        .remove("chunk_processor");
    let (status, body) = api.create(&no_chunk_processor).await;
    assert_eq!((status, body["code"].clone()), (400, json!(1004)), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Could not validate the schema: "),
        "{message}"
    );
    assert!(
        message.contains("\"client\": \"chunk_processor\" required for volumetric ingest jobs."),
        "{message}"
    );

    let unknown = tile_config(&sim, "nope", [0, 512], [0, 512], [0, 16], 512);
    assert_eq!(
        api.create(&unknown).await,
        (404, boss_error(404, 4000, "Channel nope not found"))
    );
    let mut no_collection = unknown.clone();
    no_collection["database"]["collection"] = json!("elsewhere");
    assert_eq!(
        api.create(&no_collection).await,
        (404, boss_error(404, 4000, "Collection elsewhere not found"))
    );
}

async fn create_and_join_bodies(backend: Backend) {
    let sim = SimHandle::start(SimOptions::on(backend));
    let api = Api::new(&sim);
    let config = tile_config(&sim, "ch16", [0, 1024], [0, 512], [0, 20], 512);
    let (status, created) = api.create(&config).await;
    assert_eq!(status, 201, "{created}");
    let upload = created["upload_queue"].as_str().unwrap().to_string();
    let ingest = created["ingest_queue"].as_str().unwrap().to_string();
    assert!(upload.starts_with(&format!("{}/", sim.aws)), "{upload}");
    assert!(ingest.starts_with(&format!("{}/", sim.aws)), "{ingest}");
    assert_eq!(
        created,
        json!({"id": 1, "collection": "col", "experiment": "exp", "channel": "ch16", "status": 0,
               "ingest_queue": ingest, "upload_queue": upload, "tile_count": 40, "ingest_type": 0})
    );
    let (join, creds) = api.join_uploading(1).await;
    assert_eq!(creds.security_token, None);
    assert_eq!(join.ingest_job.status.code(), 1);
    assert_eq!(join.ingest_job.tile_count, Some(40));
    assert_eq!(
        join.ingest_job.upload_queue.as_deref(),
        Some(upload.as_str())
    );
    assert!(join.ingest_job.tile_index_queue.is_some());
    let resource = &join.raw["resource"];
    assert_eq!(resource["lookup_key"], "7&12&34");
    assert_eq!(resource["boss_key"], "col&exp&ch16");
    assert_eq!(join.datatype(), Some("uint16"));
    assert_eq!(
        join.tile_bucket_name.as_deref(),
        Some("tiles.boss-sim.local")
    );
    // Every join mints a new key pair.
    let (_, again) = api.join_uploading(1).await;
    assert_ne!(again.access_key, creds.access_key);

    let (status, body) = api.status(1).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"id": 1, "status": 1, "total_message_count": 40, "current_message_count": 40})
        )
    );
}

async fn preparing_jobs_cannot_complete_and_join_without_credentials(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        prepare_secs: 600.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 16], 512))
        .await;
    let (status, join) = api.join(id).await;
    assert_eq!(status, 200);
    assert_eq!(join["ingest_job"]["status"], json!(0));
    assert_eq!(
        join.as_object().unwrap().len(),
        1,
        "only ingest_job while PREPARING: {join}"
    );
    assert_eq!(
        api.complete(id).await,
        (
            400,
            boss_error(
                400,
                1006,
                "You cannot complete a job that is still preparing. You must cancel instead."
            )
        )
    );
}

/// Walks a tile job through every row of the complete table (spec §2.4).
async fn every_row_of_the_complete_table(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 3.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 2], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let upload = join.ingest_job.upload_queue.clone().unwrap();
    let index = join.ingest_job.tile_index_queue.clone().unwrap();
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);

    // UPLOADING, upload queue not empty: 1006 and no wait_secs.
    assert_eq!(
        api.complete(id).await,
        (400, boss_error(400, 1006, "Upload queue is not empty"))
    );

    // Take the two messages (they are now missing tiles) and hold the service still, so an
    // index message stays on the internal queue.
    assert_eq!(drain(&sqs, &upload).await.len(), 2);
    api.pause(id, true).await;
    sqs.send_message()
        .queue_url(&index)
        .message_body("{\"chunk_key\": \"x\", \"tile_key\": \"y\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.complete(id).await,
        (
            400,
            json!({"wait_secs": 3, "info": "Internal queues not empty yet"})
        )
    );
    api.pause(id, false).await;
    sim.wait_for_state(id, "UPLOADING", Duration::from_secs(5))
        .await;
    // The worker consumes the index message; wait until the internal queues are empty.
    let mut answer = api.complete(id).await;
    for _ in 0..100 {
        if answer.0 == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = api.complete(id).await;
    }
    // UPLOADING, all empty: 202, WAIT_ON_QUEUES, timer starts.
    assert_eq!(answer, (202, json!({"job_status": 6, "wait_secs": 3})));
    assert_eq!(sim.stats(id).await["state"], "WAIT_ON_QUEUES");

    // WAIT_ON_QUEUES, timer not elapsed: 400 with the remaining seconds as a float.
    let (status, body) = api.complete(id).await;
    assert_eq!(
        (status, body["job_status"].clone()),
        (400, json!(6)),
        "{body}"
    );
    let remaining = body["wait_secs"].as_f64().unwrap();
    assert!(remaining > 0.0 && remaining < 3.0, "{body}");

    // WAIT_ON_QUEUES, upload queue not empty: back to UPLOADING. Put a message back as a worker
    // that gave up would (straight to moto, as the service could).
    let moto = moto_sqs(&api.moto_url().await);
    let moto_upload = upload.replace(&sim.aws, &api.moto_url().await);
    moto.send_message()
        .queue_url(&moto_upload)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.complete(id).await,
        (400, boss_error(400, 1006, "Upload queue is not empty"))
    );
    assert_eq!(sim.stats(id).await["state"], "UPLOADING");
    drain(&sqs, &upload).await;

    // Again to WAIT_ON_QUEUES, let the timer run out, pause the scan to see COMPLETING.
    assert_eq!(
        api.complete(id).await,
        (202, json!({"job_status": 6, "wait_secs": 3}))
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    api.pause(id, true).await;
    assert_eq!(
        api.complete(id).await,
        (202, json!({"job_status": 5, "wait_secs": 0}))
    );
    assert_eq!(api.complete(id).await, (202, json!({"job_status": 5})));
    assert_eq!(api.status(id).await.1["status"], json!(5));

    // The scan finds the two tiles missing: they go back on the upload queue, job UPLOADING.
    api.pause(id, false).await;
    let stats = sim
        .wait_for_state(id, "UPLOADING", Duration::from_secs(10))
        .await;
    assert_eq!(stats["tiles_reenqueued"], json!(2));
    assert_eq!(api.status(id).await.1["current_message_count"], json!(2));
}

async fn complete_then_join_and_cancel(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 0.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let id = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 1], 512))
        .await;
    let (join, creds) = api.join_uploading(id).await;
    let done =
        super::assembly::upload_all(&sim, &join, &creds, Dtype::U8, 512, |_| Upload::Proper).await;
    assert_eq!(done, 1);
    // The service indexes and assembles the tile; until then its internal queues are busy.
    let mut answer = api.complete(id).await;
    while answer.0 == 400 {
        assert_eq!(
            answer.1["info"],
            json!("Internal queues not empty yet"),
            "{}",
            answer.1
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = api.complete(id).await;
    }
    assert_eq!(answer, (202, json!({"job_status": 6, "wait_secs": 0})));
    assert_eq!(
        api.complete(id).await,
        (202, json!({"job_status": 5, "wait_secs": 0}))
    );
    sim.wait_for_state(id, "COMPLETE", Duration::from_secs(10))
        .await;
    assert_eq!(api.complete(id).await, (204, Value::Null));
    let (status, join) = api.join(id).await;
    assert_eq!(status, 200);
    assert_eq!(join["ingest_job"]["status"], json!(2));
    assert!(
        join.get("credentials").is_none(),
        "no credentials once COMPLETE: {join}"
    );
    assert_eq!(
        api.status(id).await.1,
        json!({"id": id, "status": 2, "total_message_count": 1, "current_message_count": 0})
    );

    // Cancel: 204, then DELETED answers everywhere.
    let other = api
        .create_ok(&tile_config(&sim, "ch", [0, 512], [0, 512], [0, 3], 512))
        .await;
    let (join, creds) = api.join_uploading(other).await;
    assert_eq!(api.cancel(other).await, (204, Value::Null));
    assert_eq!(
        api.cancel(other).await,
        (
            400,
            boss_error(400, 9001, &format!("Ingest job {other} is already deleted"))
        )
    );
    assert_eq!(
        api.join(other).await,
        (
            404,
            boss_error(404, 2004, &format!("Ingest job {other} has been deleted"))
        )
    );
    assert_eq!(api.status(other).await.0, 404);
    assert_eq!(
        api.complete(other).await,
        (
            400,
            boss_error(
                400,
                1006,
                &format!("Ingest job {other} is DELETED and cannot be completed")
            )
        )
    );
    // The keys are revoked and the queues are gone.
    let err = sim
        .sqs(&creds.access_key, &creds.secret_key)
        .receive_message()
        .queue_url(join.ingest_job.upload_queue.clone().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.into_service_error().meta().code(),
        Some("InvalidClientTokenId")
    );
    let moto = moto_sqs(&api.moto_url().await);
    let queues = moto
        .list_queues()
        .send()
        .await
        .unwrap()
        .queue_urls
        .unwrap_or_default();
    assert!(
        !queues
            .iter()
            .any(|q| q.contains(&format!("-{other}-upload"))),
        "{queues:?}"
    );
}

on_both_backends!(
    auth_and_lookup_errors_have_the_service_bodies,
    create_refuses_bad_configs_with_the_reason,
    create_and_join_bodies,
    preparing_jobs_cannot_complete_and_join_without_credentials,
    every_row_of_the_complete_table,
    complete_then_join_and_cancel,
);
