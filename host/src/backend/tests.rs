//! The REST client's reading of answers: the spec's table, and the real service's own answers
//! (`fixtures`), with no server in between.

use super::fixtures;
use super::*;

fn reply(status: u16, body: &str) -> Reply {
    Reply {
        status: StatusCode::from_u16(status).unwrap(),
        body: body.as_bytes().to_vec(),
        retry_after: None,
    }
}

fn complete(status: u16, body: &str) -> Result<CompleteAnswer, String> {
    interpret_complete("completing job 5", 5, &reply(status, body)).map_err(|e| match e {
        Interpreted::Error(e) => e.to_string(),
        Interpreted::Unhandled => "unhandled".into(),
    })
}

#[test]
fn complete_answers_follow_the_spec_table() {
    assert_eq!(complete(204, ""), Ok(CompleteAnswer::Complete));
    assert_eq!(
        complete(
            400,
            r#"{"status": 400, "code": 1006, "message": "Upload queue is not empty"}"#
        ),
        Ok(CompleteAnswer::UploadQueueNotEmpty)
    );
    assert_eq!(
        complete(
            400,
            r#"{"wait_secs": 180, "info": "Internal queues not empty yet"}"#
        ),
        Ok(CompleteAnswer::Wait { secs: 180.0 })
    );
    assert_eq!(
        complete(202, r#"{"job_status": 6, "wait_secs": 180}"#),
        Ok(CompleteAnswer::Wait { secs: 180.0 })
    );
    assert_eq!(
        complete(400, r#"{"job_status": 6, "wait_secs": 12.5}"#),
        Ok(CompleteAnswer::Wait { secs: 12.5 })
    );
    assert_eq!(
        complete(202, r#"{"job_status": 5, "wait_secs": 0}"#),
        Ok(CompleteAnswer::Completing)
    );
    assert_eq!(
        complete(202, r#"{"job_status": 5}"#),
        Ok(CompleteAnswer::Completing)
    );
    assert_eq!(
        complete(
            400,
            r#"{"status": 400, "code": 1006, "message": "You cannot complete a job that is still preparing. You must cancel instead."}"#
        ),
        Err("completing job 5 was refused by the Boss (HTTP 400, code 1006): You cannot complete a job that is still preparing. You must cancel instead.".into())
    );
}

#[test]
fn errors_name_the_job_and_what_to_do() {
    let base = "http://127.0.0.1:9";
    let e = map_error(
        base,
        "joining job 7",
        Some(7),
        404,
        br#"{"status": 404, "code": 2004, "message": "deleted"}"#,
    );
    assert_eq!(
        e.to_string(),
        "job 7 was cancelled (it is DELETED); create a new job to ingest this data"
    );
    let e = map_error(
        base,
        "joining job 7",
        Some(7),
        404,
        br#"{"status": 404, "code": 4004, "message": "nope"}"#,
    );
    assert_eq!(
        e.to_string(),
        "job 7 does not exist on the Boss at http://127.0.0.1:9; check the job id given with -j"
    );
    let e = map_error(
        base,
        "joining job 7",
        Some(7),
        403,
        br#"{"status": 403, "code": 3003, "message": "Only the creator can join"}"#,
    );
    assert_eq!(
        e.to_string(),
        "job 7 was created by another user and only its creator may use it: Only the creator can join"
    );
    let e = map_error(
        base,
        "creating the ingest job",
        None,
        401,
        br#"{"detail": "Invalid token."}"#,
    );
    assert_eq!(
        e.to_string(),
        "the Boss at http://127.0.0.1:9 refused the API token (Invalid token.); pass a valid one \
         with -a, INTERN_TOKEN, ~/.intern/intern.cfg or ./token.json"
    );
    let e = map_error(
        base,
        "creating the ingest job",
        None,
        400,
        br#"{"status": 400, "code": 1004, "message": "Could not validate the schema: 'x' is required"}"#,
    );
    assert_eq!(
        e.to_string(),
        "creating the ingest job was refused by the Boss (HTTP 400, code 1004): Could not \
         validate the schema: 'x' is required"
    );
    let e = map_error(
        base,
        "reading cutout",
        None,
        502,
        b"<html>bad gateway</html>",
    );
    assert_eq!(
        e.to_string(),
        "reading cutout was refused by the Boss (HTTP 502): <html>bad gateway</html>"
    );
}

#[test]
fn already_complete_reads_as_the_spec_says() {
    assert_eq!(
        BackendError::AlreadyComplete { job: 12 }.to_string(),
        "job 12 is already complete"
    );
}

#[test]
fn which_answers_are_retried() {
    let other_400 = r#"{"status": 400, "code": 9001, "message": "An error occurred (Throttling)"}"#;
    // status, body, retried by Transient, retried by AlsoBadRequest (join)
    let table: &[(u16, &str, bool, bool)] = &[
        (200, "{}", false, false),
        (201, "{}", false, false),
        (202, "{}", false, false),
        (204, "", false, false),
        (400, "", false, true),
        (400, other_400, false, true),
        // A finished tile job's join: no retry brings its queues back.
        (400, fixtures::JOIN_FINISHED_TILE, false, false),
        (401, r#"{"detail": "Invalid token."}"#, false, false),
        (403, fixtures::NOT_CREATOR, false, false),
        (404, fixtures::NO_SUCH_JOB, false, false),
        (408, "", true, true),
        (409, "", false, false),
        (413, "", false, false),
        (429, r#"{"detail": "Request was throttled."}"#, true, true),
        (500, "", true, true),
        (501, "", false, false),
        (502, "<html>Bad Gateway</html>", true, true),
        (503, "", true, true),
        (504, "", true, true),
        (505, "", false, false),
    ];
    for &(status, body, transient, join) in table {
        let r = reply(status, body);
        assert_eq!(Retry::Transient.covers(&r), transient, "{status} {body}");
        assert_eq!(
            Retry::AlsoBadRequest.covers(&r),
            join,
            "{status} {body} (join)"
        );
    }
}

fn joined(body: &str) -> Result<Joined, String> {
    interpret_join("joining job 42", 42, body.as_bytes()).map_err(|e| e.to_string())
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn real_join_of_a_preparing_job_says_preparing() {
    assert!(matches!(
        joined(fixtures::JOIN_PREPARING),
        Ok(Joined::Preparing)
    ));
}

#[test]
fn real_join_of_an_uploading_tile_job_gives_what_the_upload_needs() {
    let Ok(Joined::Ready(join)) = joined(fixtures::JOIN_UPLOADING_TILE) else {
        panic!("the real UPLOADING answer must join");
    };
    let r = &join.response;
    let j = &r.ingest_job;
    assert_eq!((j.id, j.status), (42, JobStatus::Uploading));
    assert_eq!(
        j.upload_queue.as_deref(),
        Some("https://queue.amazonaws.com/123456789012/production-boss-upload-42")
    );
    assert_eq!(
        j.tile_index_queue.as_deref(),
        Some("https://queue.amazonaws.com/123456789012/production-boss-42-index")
    );
    assert_eq!(j.tile_count, Some(1024));
    let c = r.credentials.as_ref().unwrap();
    assert_eq!(
        (
            c.access_key.as_str(),
            c.secret_key.as_str(),
            &c.security_token
        ),
        (
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            &None
        )
    );
    assert_eq!(r.tile_bucket_name.as_deref(), Some("tiles.production.boss"));
    assert_eq!(r.datatype(), Some("uint16"));
    // The blocks the tile-ingest lambda reads go back exactly as the service sent them.
    let sent: serde_json::Value = serde_json::from_str(fixtures::JOIN_UPLOADING_TILE).unwrap();
    assert_eq!(join.raw, sent);
}

#[test]
fn real_join_of_an_uploading_volumetric_job_has_no_tile_queues() {
    let Ok(Joined::Ready(join)) = joined(fixtures::JOIN_UPLOADING_VOLUMETRIC) else {
        panic!("the real volumetric answer must join");
    };
    let r = &join.response;
    assert_eq!(r.ingest_job.tile_index_queue, None);
    assert_eq!(r.ingest_job.ingest_queue, None);
    assert_eq!(
        r.ingest_bucket_name.as_deref(),
        Some("ingest.production.boss")
    );
    assert_eq!(r.datatype(), Some("uint8"));
}

#[test]
fn fields_the_client_does_not_use_never_fail_a_join() {
    // Every optional field of another shape than expected, and unknown ones added.
    let mut odd: serde_json::Value = serde_json::from_str(fixtures::JOIN_UPLOADING_TILE).unwrap();
    odd["ingest_job"]["tile_count"] = serde_json::json!("1024");
    odd["ingest_job"]["collection"] = serde_json::json!(7);
    odd["ingest_job"]["ingest_type"] = serde_json::json!("tile");
    odd["ingest_job"]["creator"] = serde_json::json!("someone");
    odd["resource"]["channel"] = serde_json::json!({"name": "ch1"});
    odd["KVIO_SETTINGS"] = serde_json::json!(null);
    odd["new_top_level_key"] = serde_json::json!([1, 2]);
    let Ok(Joined::Ready(join)) = joined(&odd.to_string()) else {
        panic!("unused fields must not fail a join");
    };
    assert_eq!(join.response.ingest_job.tile_count, None);
    assert_eq!(join.response.datatype(), None);
    assert_eq!(join.raw["new_top_level_key"], serde_json::json!([1, 2]));
}

#[test]
fn real_join_of_a_complete_volumetric_job_says_complete() {
    assert_eq!(
        joined(fixtures::JOIN_COMPLETE_VOLUMETRIC).err().as_deref(),
        Some("job 42 is already complete")
    );
}

#[test]
fn a_finished_tile_job_is_recognised_by_its_missing_queue() {
    assert!(is_queue_gone(&reply(400, fixtures::JOIN_FINISHED_TILE)));
    assert!(is_queue_gone(&reply(400, fixtures::CANCEL_FINISHED)));
    // A transient 400 of the join is not a finished job.
    assert!(!is_queue_gone(&reply(
        400,
        r#"{"status": 400, "code": 9001, "message": "An error occurred (Throttling) when calling the GetQueueUrl operation: Rate exceeded"}"#
    )));
    assert!(!is_queue_gone(&reply(404, fixtures::DELETED)));
}

#[test]
fn real_errors_name_the_job_and_what_to_do() {
    let base = "https://api.bossdb.io";
    let text = |status, body: &str| {
        map_error(base, "joining job 43", Some(43), status, body.as_bytes()).to_string()
    };
    assert_eq!(
        text(404, fixtures::DELETED),
        "job 43 was cancelled (it is DELETED); create a new job to ingest this data"
    );
    assert_eq!(
        text(404, fixtures::NO_SUCH_JOB),
        "job 43 does not exist on the Boss at https://api.bossdb.io; check the job id given with -j"
    );
    assert_eq!(
        text(403, fixtures::NOT_CREATOR),
        "job 43 was created by another user and only its creator may use it: Only the creator or \
         admin can join an ingest job"
    );
}

#[test]
fn real_status_answers_parse() {
    let st: StatusResponse = serde_json::from_str(fixtures::STATUS_UPLOADING).unwrap();
    assert_eq!(
        (
            st.id,
            st.status,
            st.total_message_count,
            st.current_message_count
        ),
        (42, JobStatus::Uploading, 1024, 517)
    );
    let st: StatusResponse = serde_json::from_str(fixtures::STATUS_COMPLETE).unwrap();
    assert_eq!(
        (st.status, st.current_message_count),
        (JobStatus::Complete, 0)
    );
}

#[test]
fn every_real_complete_answer_means_what_the_procedure_expects() {
    let expected: Vec<Result<CompleteAnswer, String>> =
        vec![
        Err("completing job 5 was refused by the Boss (HTTP 400, code 1006): You cannot complete \
             a job that is still preparing. You must cancel instead."
            .into()),
        Ok(CompleteAnswer::UploadQueueNotEmpty),
        Ok(CompleteAnswer::Wait { secs: 180.0 }),
        Ok(CompleteAnswer::Wait { secs: 180.0 }),
        Ok(CompleteAnswer::Wait { secs: 97.532117 }),
        Ok(CompleteAnswer::Completing),
        Ok(CompleteAnswer::Completing),
        Ok(CompleteAnswer::Complete),
        Err("completing job 5 was refused by the Boss (HTTP 400, code 1006): Ingest job has \
             already been cancelled."
            .into()),
        Err("completing job 5 was refused by the Boss (HTTP 400, code 1006): Ingest job has \
             failed during creation. You must Cancel instead."
            .into()),
    ];
    assert_eq!(fixtures::COMPLETE_ANSWERS.len(), expected.len());
    for ((state, status, body), want) in fixtures::COMPLETE_ANSWERS.iter().zip(expected) {
        assert_eq!(complete(*status, body), want, "complete in {state}");
    }
}

#[test]
fn real_cutouts_decode_to_the_array_the_renderer_compressed() {
    let region = Region {
        x: (0, 4),
        y: (0, 3),
        z: (0, 2),
    };
    let got = cutout::decode(&hex(fixtures::CUTOUT_UINT16_2X3X4), region.voxels()).unwrap();
    let want: Vec<u8> = (0u16..24).flat_map(|v| (v * 1000).to_le_bytes()).collect();
    assert_eq!((got.dtype.name(), got.bytes), ("uint16", want));
    let got = cutout::decode(&hex(fixtures::CUTOUT_UINT8_2X3X4), region.voxels()).unwrap();
    assert_eq!(
        (got.dtype.name(), got.bytes),
        ("uint8", (0u8..24).collect())
    );
}

#[test]
fn a_refused_cutout_names_the_accept_type_and_the_url() {
    let e = BackendError::Cutout {
        url: "https://api.bossdb.io/v1/cutout/c/e/h/0/0:4/0:3/0:2/".into(),
        accept: cutout::ACCEPT,
        status: 406,
        message: answer_text(&reply(406, fixtures::NOT_ACCEPTABLE)),
    };
    assert_eq!(
        e.to_string(),
        "the Boss refused the cutout \
         https://api.bossdb.io/v1/cutout/c/e/h/0/0:4/0:3/0:2/ asked for as application/blosc \
         (HTTP 406): Could not satisfy the request Accept header."
    );
}
