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
            boss_error(404, 4004, "The ingest job with id 99 does not exist")
        )
    );
    assert_eq!(
        api.status(99).await,
        (
            404,
            boss_error(404, 4004, "The ingest job with id 99 does not exist")
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
    for (path, verb) in [
        (format!("/latest/ingest/{id}"), "join"),
        (format!("/v1/ingest/{id}/status/"), "check the status of"),
    ] {
        let other = api.call(Method::GET, &path, Some(OTHER_TOKEN), None).await;
        assert_eq!(
            other,
            (
                403,
                boss_error(
                    403,
                    3003,
                    &format!("Only the creator or admin can {verb} an ingest job")
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

/// The keys of a join answer of a live job, in the order `IngestJobView.get` inserts them.
const JOIN_KEYS: [&str; 9] = [
    "ingest_job",
    "credentials",
    "tile_bucket_name",
    "ingest_bucket_name",
    "KVIO_SETTINGS",
    "STATEIO_CONFIG",
    "OBJECTIO_CONFIG",
    "resource",
    "ingest_lambda",
];

/// The keys of its `ingest_job`: `IngestJobListSerializer`'s fields, then `tile_index_queue`.
const JOB_KEYS: [&str; 10] = [
    "id",
    "collection",
    "experiment",
    "channel",
    "status",
    "ingest_queue",
    "upload_queue",
    "tile_count",
    "ingest_type",
    "tile_index_queue",
];

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
    let index = join.ingest_job.tile_index_queue.clone().unwrap();
    // The whole answer as boss `IngestJobView.get` builds it, with production-shaped settings.
    assert_eq!(
        join.raw,
        json!({
            "ingest_job": {"id": 1, "collection": "col", "experiment": "exp", "channel": "ch16",
                           "status": 1, "ingest_queue": ingest, "upload_queue": upload,
                           "tile_count": 40, "ingest_type": 0, "tile_index_queue": index},
            "credentials": {"access_key": creds.access_key, "secret_key": creds.secret_key,
                            "security_token": null},
            "tile_bucket_name": "tiles.boss-sim.local",
            "ingest_bucket_name": "ingest.boss-sim.local",
            "KVIO_SETTINGS": {"cache_host": "cache.boss-sim.local", "cache_db": 0,
                              "read_timeout": 1209600},
            "STATEIO_CONFIG": {"cache_state_host": "cache-state.boss-sim.local",
                               "cache_state_db": 0},
            "OBJECTIO_CONFIG": {
                "s3_flush_queue": "https://sqs.us-east-1.amazonaws.com/123456789012/S3flushBoss-simLocal",
                "cuboid_bucket": "cuboids.boss-sim.local",
                "page_in_lambda_function": "multiLambda-boss-sim-local",
                "page_out_lambda_function": "multiLambda-boss-sim-local",
                "ingest_lambda_function": "tileIngestLambda-boss-sim-local",
                "s3_index_table": "s3index.boss-sim.local",
                "id_index_table": "idIndex.boss-sim.local",
                "id_count_table": "idCount.boss-sim.local",
                "prod_mailing_list": "arn:aws:sns:us-east-1:123456789012:BossMailingList",
                "id_index_new_chunk_threshold": "100"},
            "resource": {"boss_key": "col&exp&ch16", "lookup_key": "7&12&34",
                         "channel": {"type": "image", "datatype": "uint16", "base_resolution": 0},
                         "experiment": {"num_hierarchy_levels": 1,
                                        "hierarchy_method": "anisotropic"},
                         "coord_frame": {"x_voxel_size": 4.0, "y_voxel_size": 4.0,
                                         "z_voxel_size": 40.0}},
            "ingest_lambda": "deprecated"
        })
    );
    // In the view's key order (DRF keeps the order the view inserted).
    let (_, text) = api.get_text("/latest/ingest/1").await;
    let at = |key: &str| {
        text.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing: {text}"))
    };
    // `ingest_job` comes first and holds the first occurrence of each of its keys.
    let order: Vec<&str> = ["ingest_job"]
        .into_iter()
        .chain(JOB_KEYS)
        .chain(JOIN_KEYS.into_iter().skip(1))
        .collect();
    assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
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
    // Every field while PREPARING, with credentials null (IngestJobView.get).
    assert_eq!(join["ingest_job"]["status"], json!(0));
    assert_eq!(join["credentials"], Value::Null);
    let keys: Vec<&str> = join
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut want = JOIN_KEYS;
    want.sort();
    assert_eq!(keys, want, "{join}");
    assert!(join["ingest_job"]["tile_index_queue"].is_string(), "{join}");
    assert_eq!(join["resource"]["channel"]["datatype"], "uint8", "{join}");
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

/// Polls complete until its answer is no longer "Internal queues not empty yet".
async fn complete_once_drained(api: &Api<'_>, id: u64) -> super::Reply {
    for _ in 0..100 {
        let answer = api.complete(id).await;
        if answer.1["info"] != json!(INTERNAL_NOT_EMPTY) {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the internal queues of job {id} never drained");
}

const INTERNAL_NOT_EMPTY: &str = "Internal queues not empty yet";

/// With no wait on the queues: WAIT_ON_QUEUES, COMPLETING, then COMPLETE.
async fn complete_at_once(api: &Api<'_>, id: u64) {
    assert_eq!(
        complete_once_drained(api, id).await,
        (202, json!({"job_status": 6, "wait_secs": 0}))
    );
    assert_eq!(
        api.complete(id).await,
        (202, json!({"job_status": 5, "wait_secs": 0}))
    );
    api.sim
        .wait_for_state(id, "COMPLETE", Duration::from_secs(10))
        .await;
}

/// Walks a tile job through every row of the complete table (spec §2.4) in the order of
/// `IngestManager.try_enter_wait_on_queue_state` and `try_start_completing`: queues first, then
/// the timer, which only UPLOADING → WAIT_ON_QUEUES starts.
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
    let send_index = |body: String| {
        let (sqs, index) = (sqs.clone(), index.clone());
        async move {
            sqs.send_message()
                .queue_url(index)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    };

    // UPLOADING, upload queue not empty: 1006 and no wait_secs.
    assert_eq!(
        api.complete(id).await,
        (400, boss_error(400, 1006, "Upload queue is not empty"))
    );

    // Take the two messages; index only the first tile (its chunk gets a row in the tile index,
    // so the scan will see the other tile missing). Hold the service still so the index message
    // stays on the internal queue.
    let mut bodies = drain(&sqs, &upload).await;
    assert_eq!(bodies.len(), 2);
    bodies.sort_by_key(|b| b.contains("&0&0&0&1&0\""));
    let first: Value = serde_json::from_str(&bodies[0]).unwrap();
    api.pause(id, true).await;
    send_index(
        json!({"chunk_key": first["chunk_key"], "tile_key": first["tile_key"], "ingest_job": id})
            .to_string(),
    )
    .await;
    assert_eq!(
        api.complete(id).await,
        (400, json!({"wait_secs": 3, "info": INTERNAL_NOT_EMPTY}))
    );
    assert_eq!(sim.stats(id).await["state"], "UPLOADING");
    api.pause(id, false).await;

    // UPLOADING, all empty: 202, WAIT_ON_QUEUES, timer starts.
    assert_eq!(
        complete_once_drained(&api, id).await,
        (202, json!({"job_status": 6, "wait_secs": 3}))
    );
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

    // Again to WAIT_ON_QUEUES: the answer is what remains of the earlier wait (the view reads
    // the old timestamp), while the timer itself restarts.
    let (status, body) = api.complete(id).await;
    assert_eq!(
        (status, body["job_status"].clone()),
        (202, json!(6)),
        "{body}"
    );
    assert!(body["wait_secs"].as_f64().unwrap() < 3.0, "{body}");

    // WAIT_ON_QUEUES with an internal queue not empty: the queues are checked before the
    // timer, and the timer runs on (a message the indexer cannot read holds the queue).
    api.pause(id, true).await;
    send_index(json!({"chunk_key": "x", "tile_key": "y"}).to_string()).await;
    assert_eq!(
        api.complete(id).await,
        (400, json!({"wait_secs": 3, "info": INTERNAL_NOT_EMPTY}))
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        api.complete(id).await,
        (400, json!({"wait_secs": 3, "info": INTERNAL_NOT_EMPTY}))
    );
    assert_eq!(sim.stats(id).await["state"], "WAIT_ON_QUEUES");
    api.pause(id, false).await;
    for _ in 0..100 {
        if sim.stats(id).await["tile_index_rejected"] == json!(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Drained and the timer already ran out: COMPLETING at once. Pause to see COMPLETING.
    api.pause(id, true).await;
    assert_eq!(
        complete_once_drained(&api, id).await,
        (202, json!({"job_status": 5, "wait_secs": 0}))
    );
    assert_eq!(api.complete(id).await, (202, json!({"job_status": 5})));
    assert_eq!(api.status(id).await.1["status"], json!(5));

    // The scan finds the unindexed tile of the chunk missing: it goes back on the upload queue,
    // job UPLOADING.
    api.pause(id, false).await;
    let stats = sim
        .wait_for_state(id, "UPLOADING", Duration::from_secs(10))
        .await;
    assert_eq!(stats["tiles_reenqueued"], json!(1));
    assert_eq!(stats["tile_index_rejected"], json!(1));
    assert_eq!(api.status(id).await.1["current_message_count"], json!(1));
}

/// botocore's text for a queue that is gone, which the views pass on as a 9001 error.
const NO_SUCH_QUEUE: &str = "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when \
     calling the GetQueueUrl operation: The specified queue does not exist for this wsdl version.";

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
    // The service indexes and assembles the tile. Wait for it: the real complete counts only
    // visible messages, so a chunk still being assembled would be re-sent by the scan.
    super::assembly::wait_for_stat(&sim, id, "chunks_assembled", 1).await;
    complete_at_once(&api, id).await;
    assert_eq!(api.complete(id).await, (204, Value::Null));
    // A finished tile job's queues are gone: the join looks up its tile-index queue first and
    // fails with 9001, and so does a cancel. Its status still answers.
    assert_eq!(
        api.join(id).await,
        (400, boss_error(400, 9001, NO_SUCH_QUEUE))
    );
    let cleanup = format!("Unable to complete cleanup {NO_SUCH_QUEUE}");
    assert_eq!(api.cancel(id).await, (400, boss_error(400, 9001, &cleanup)));
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
        (400, boss_error(400, 9001, &cleanup))
    );
    assert_eq!(
        api.join(other).await,
        (400, boss_error(400, 9001, NO_SUCH_QUEUE))
    );
    let deleted = boss_error(
        404,
        2004,
        &format!("The job with id {other} has been deleted"),
    );
    assert_eq!(api.status(other).await, (404, deleted));
    assert_eq!(
        api.complete(other).await,
        (
            400,
            boss_error(400, 1006, "Ingest job has already been cancelled.")
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

/// A volumetric job has no tile-index queue to look up: COMPLETE joins answer the job alone,
/// DELETED ones 404/2004; a cancel of either still fails on the upload queue (9001).
async fn finished_volumetric_jobs_answer_as_the_view_does(backend: Backend) {
    let sim = SimHandle::start(SimOptions {
        wait_on_queues_secs: 0.0,
        ..SimOptions::on(backend)
    });
    let api = Api::new(&sim);
    let config = super::volumetric_config(&sim, "ch", [0, 512], [0, 512], [0, 16], [512, 512, 16]);
    let id = api.create_ok(&config).await;
    let (join, creds) = api.join_uploading(id).await;
    let sqs = sim.sqs(&creds.access_key, &creds.secret_key);
    assert_eq!(
        drain(&sqs, join.ingest_job.upload_queue.as_deref().unwrap())
            .await
            .len(),
        1
    );
    complete_at_once(&api, id).await;
    assert_eq!(
        api.join(id).await,
        (
            200,
            json!({"ingest_job": {"id": id, "collection": "col", "experiment": "exp",
                                  "channel": "ch", "status": 2, "ingest_queue": null,
                                  "upload_queue": null, "tile_count": 1, "ingest_type": 1,
                                  "tile_index_queue": null}})
        )
    );
    let cleanup = format!("Unable to complete cleanup {NO_SUCH_QUEUE}");
    assert_eq!(api.cancel(id).await, (400, boss_error(400, 9001, &cleanup)));

    let other = api.create_ok(&config).await;
    api.join_uploading(other).await;
    assert_eq!(api.cancel(other).await, (204, Value::Null));
    let deleted = boss_error(
        404,
        2004,
        &format!("The job with id {other} has been deleted"),
    );
    assert_eq!(api.join(other).await, (404, deleted));
}

on_both_backends!(
    auth_and_lookup_errors_have_the_service_bodies,
    create_refuses_bad_configs_with_the_reason,
    create_and_join_bodies,
    preparing_jobs_cannot_complete_and_join_without_credentials,
    every_row_of_the_complete_table,
    complete_then_join_and_cancel,
    finished_volumetric_jobs_answer_as_the_view_does,
);
