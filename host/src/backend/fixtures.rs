//! Answers of the real Boss, written out from its own code (boss `db9628b`, DRF 3.11.2,
//! python-blosc), never from `boss-sim`: the client's parsing is tested against these so that a
//! mistake the simulator shares with the client cannot hide. Each constant names the function
//! that builds it. Success bodies are DRF's compact JSON; error bodies are Django `JsonResponse`
//! (`BossHTTPError`), with `", "` and `": "` separators and the keys `status, code, message`.

/// `bossingest/views.py` `IngestJobView.get`, tile job still PREPARING (its populate step
/// function running): every top-level key in insertion order, `credentials: null`. `resource`
/// is `IngestManager._get_resource_data` (channel without `name`); the settings are
/// `boss/settings/production.py` `KVIO_SETTINGS`/`STATEIO_CONFIG`/`OBJECTIO_CONFIG`, with the
/// two keys the view pops removed and `id_index_new_chunk_threshold` a string.
pub const JOIN_PREPARING: &str = r#"{"ingest_job":{"id":42,"collection":"col1","experiment":"exp1","channel":"ch1","status":0,"ingest_queue":"https://queue.amazonaws.com/123456789012/production-boss-ingest-42","upload_queue":"https://queue.amazonaws.com/123456789012/production-boss-upload-42","tile_count":1024,"ingest_type":0,"tile_index_queue":"https://queue.amazonaws.com/123456789012/production-boss-42-index"},"credentials":null,"tile_bucket_name":"tiles.production.boss","ingest_bucket_name":"ingest.production.boss","KVIO_SETTINGS":{"cache_host":"cache.production.boss","cache_db":0,"read_timeout":1209600},"STATEIO_CONFIG":{"cache_state_host":"cache-state.production.boss","cache_state_db":0},"OBJECTIO_CONFIG":{"s3_flush_queue":"https://sqs.us-east-1.amazonaws.com/123456789012/S3flushProductionBoss","cuboid_bucket":"cuboids.production.boss","page_in_lambda_function":"multiLambda-production-boss","page_out_lambda_function":"multiLambda-production-boss","ingest_lambda_function":"tileIngestLambda-production-boss","s3_index_table":"s3index.production.boss","id_index_table":"idIndex.production.boss","id_count_table":"idCount.production.boss","prod_mailing_list":"arn:aws:sns:us-east-1:123456789012:BossMailingList","id_index_new_chunk_threshold":"100"},"resource":{"boss_key":"col1&exp1&ch1","lookup_key":"7&8&9","channel":{"type":"image","datatype":"uint16","base_resolution":0},"experiment":{"num_hierarchy_levels":1,"hierarchy_method":"anisotropic"},"coord_frame":{"x_voxel_size":4.0,"y_voxel_size":4.0,"z_voxel_size":40.0}},"ingest_lambda":"deprecated"}"#;

/// `IngestJobView.get`, tile job UPLOADING (also the PREPARING → UPLOADING join, and
/// WAIT_ON_QUEUES/COMPLETING): as [`JOIN_PREPARING`] with status 1 and the Vault `iam_user`
/// credentials of `bossutils/ingestcreds.py` `IngestCredentials.get_credentials`.
pub const JOIN_UPLOADING_TILE: &str = r#"{"ingest_job":{"id":42,"collection":"col1","experiment":"exp1","channel":"ch1","status":1,"ingest_queue":"https://queue.amazonaws.com/123456789012/production-boss-ingest-42","upload_queue":"https://queue.amazonaws.com/123456789012/production-boss-upload-42","tile_count":1024,"ingest_type":0,"tile_index_queue":"https://queue.amazonaws.com/123456789012/production-boss-42-index"},"credentials":{"access_key":"AKIAIOSFODNN7EXAMPLE","secret_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","security_token":null},"tile_bucket_name":"tiles.production.boss","ingest_bucket_name":"ingest.production.boss","KVIO_SETTINGS":{"cache_host":"cache.production.boss","cache_db":0,"read_timeout":1209600},"STATEIO_CONFIG":{"cache_state_host":"cache-state.production.boss","cache_state_db":0},"OBJECTIO_CONFIG":{"s3_flush_queue":"https://sqs.us-east-1.amazonaws.com/123456789012/S3flushProductionBoss","cuboid_bucket":"cuboids.production.boss","page_in_lambda_function":"multiLambda-production-boss","page_out_lambda_function":"multiLambda-production-boss","ingest_lambda_function":"tileIngestLambda-production-boss","s3_index_table":"s3index.production.boss","id_index_table":"idIndex.production.boss","id_count_table":"idCount.production.boss","prod_mailing_list":"arn:aws:sns:us-east-1:123456789012:BossMailingList","id_index_new_chunk_threshold":"100"},"resource":{"boss_key":"col1&exp1&ch1","lookup_key":"7&8&9","channel":{"type":"image","datatype":"uint16","base_resolution":0},"experiment":{"num_hierarchy_levels":1,"hierarchy_method":"anisotropic"},"coord_frame":{"x_voxel_size":4.0,"y_voxel_size":4.0,"z_voxel_size":40.0}},"ingest_lambda":"deprecated"}"#;

/// `IngestJobView.get`, volumetric job UPLOADING: no ingest or tile-index queue.
pub const JOIN_UPLOADING_VOLUMETRIC: &str = r#"{"ingest_job":{"id":43,"collection":"col1","experiment":"exp1","channel":"ch1","status":1,"ingest_queue":null,"upload_queue":"https://queue.amazonaws.com/123456789012/production-boss-upload-43","tile_count":64,"ingest_type":1,"tile_index_queue":null},"credentials":{"access_key":"AKIAIOSFODNN7EXAMPLE","secret_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY","security_token":null},"tile_bucket_name":"tiles.production.boss","ingest_bucket_name":"ingest.production.boss","KVIO_SETTINGS":{"cache_host":"cache.production.boss","cache_db":0,"read_timeout":1209600},"STATEIO_CONFIG":{"cache_state_host":"cache-state.production.boss","cache_state_db":0},"OBJECTIO_CONFIG":{"s3_flush_queue":"https://sqs.us-east-1.amazonaws.com/123456789012/S3flushProductionBoss","cuboid_bucket":"cuboids.production.boss","page_in_lambda_function":"multiLambda-production-boss","page_out_lambda_function":"multiLambda-production-boss","ingest_lambda_function":"tileIngestLambda-production-boss","s3_index_table":"s3index.production.boss","id_index_table":"idIndex.production.boss","id_count_table":"idCount.production.boss","prod_mailing_list":"arn:aws:sns:us-east-1:123456789012:BossMailingList","id_index_new_chunk_threshold":"100"},"resource":{"boss_key":"col1&exp1&ch1","lookup_key":"7&8&9","channel":{"type":"image","datatype":"uint8","base_resolution":0},"experiment":{"num_hierarchy_levels":1,"hierarchy_method":"anisotropic"},"coord_frame":{"x_voxel_size":4.0,"y_voxel_size":4.0,"z_voxel_size":40.0}},"ingest_lambda":"deprecated"}"#;

/// `IngestJobView.get` of a COMPLETE or DELETED tile job: the tile-index queue is looked up
/// (ndingest `NDQueue.__init__`) before the status, cleanup deleted it, and the view's catch-all
/// turns botocore's `ClientError` into `BossError(str(err), BOSS_SYSTEM_ERROR)`: HTTP 400.
pub const JOIN_FINISHED_TILE: &str = r#"{"status": 400, "code": 9001, "message": "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: The specified queue does not exist for this wsdl version."}"#;

/// `IngestJobView.get`, COMPLETE (or FAILED) branch of a volumetric job: `{ingest_job}` only,
/// queues nulled by `IngestCleaner`.
pub const JOIN_COMPLETE_VOLUMETRIC: &str = r#"{"ingest_job":{"id":43,"collection":"col1","experiment":"exp1","channel":"ch1","status":2,"ingest_queue":null,"upload_queue":null,"tile_count":64,"ingest_type":1,"tile_index_queue":null}}"#;

/// `IngestJobView.get` and `IngestJobStatusView.get` of a DELETED job (status for tile and
/// volumetric alike; join for volumetric only): `BossError(..., INVALID_REQUEST)`, HTTP 404.
pub const DELETED: &str =
    r#"{"status": 404, "code": 2004, "message": "The job with id 43 has been deleted"}"#;

/// `IngestManager.get_ingest_job` for an id that does not exist, HTTP 404.
pub const NO_SUCH_JOB: &str =
    r#"{"status": 404, "code": 4004, "message": "The ingest job with id 999 does not exist"}"#;

/// `IngestServiceView.is_user_or_admin` refusing a join, HTTP 403.
pub const NOT_CREATOR: &str = r#"{"status": 403, "code": 3003, "message": "Only the creator or admin can join an ingest job"}"#;

/// `IngestJobStatusView.get`, UPLOADING (visible upload-queue messages only).
pub const STATUS_UPLOADING: &str =
    r#"{"id":42,"status":1,"total_message_count":1024,"current_message_count":517}"#;

/// `IngestJobStatusView.get`, COMPLETE: no SQS call, count 0.
pub const STATUS_COMPLETE: &str =
    r#"{"id":42,"status":2,"total_message_count":1024,"current_message_count":0}"#;

/// `IngestJobView.delete` of a COMPLETE job or a second cancel: `cleanup_ingest_job` wraps the
/// failing upload-queue lookup as "Unable to complete cleanup {e}", HTTP 400.
pub const CANCEL_FINISHED: &str = r#"{"status": 400, "code": 9001, "message": "Unable to complete cleanup An error occurred (AWS.SimpleQueueService.NonExistentQueue) when calling the GetQueueUrl operation: The specified queue does not exist for this wsdl version."}"#;

/// `IngestJobCompleteView.post` (with `IngestManager.try_enter_wait_on_queue_state` and
/// `try_start_completing`) in each state: (what the state is, HTTP status, body).
pub const COMPLETE_ANSWERS: &[(&str, u16, &str)] = &[
    (
        "PREPARING",
        400,
        r#"{"status": 400, "code": 1006, "message": "You cannot complete a job that is still preparing. You must cancel instead."}"#,
    ),
    (
        "UPLOADING or WAIT_ON_QUEUES, upload queue not empty",
        400,
        r#"{"status": 400, "code": 1006, "message": "Upload queue is not empty"}"#,
    ),
    (
        "UPLOADING or WAIT_ON_QUEUES, ingest or tile-index queue not empty",
        400,
        r#"{"wait_secs":180,"info":"Internal queues not empty yet"}"#,
    ),
    (
        "UPLOADING, all queues empty",
        202,
        r#"{"job_status":6,"wait_secs":180}"#,
    ),
    (
        "WAIT_ON_QUEUES, timer running",
        400,
        r#"{"job_status":6,"wait_secs":97.532117}"#,
    ),
    (
        "WAIT_ON_QUEUES, timer elapsed",
        202,
        r#"{"job_status":5,"wait_secs":0}"#,
    ),
    ("COMPLETING", 202, r#"{"job_status":5}"#),
    // DRF renders {"job_status":2}; nginx sends a 204 without a body.
    ("COMPLETE", 204, ""),
    (
        "DELETED",
        400,
        r#"{"status": 400, "code": 1006, "message": "Ingest job has already been cancelled."}"#,
    ),
    (
        "FAILED",
        400,
        r#"{"status": 400, "code": 1006, "message": "Ingest job has failed during creation. You must Cancel instead."}"#,
    ),
];

/// `bossspatialdb/renderers.py` `BloscRenderer` (the cutout view's default, `Content-Type:
/// application/blosc`): `blosc.compress(arr, typesize=16)` of the (2, 3, 4) uint16 array
/// `arange(24) * 1000`, as python-blosc writes it (bytes taken from python-blosc 1.11.4).
pub const CUTOUT_UINT16_2X3X4: &str = "020113103000000030000000400000000000e803d007b80ba00f88137017581b401f28231027f82ae02ec832b036983a803e68425046384a204e0852f055d859";

/// The same renderer for the (2, 3, 4) uint8 array `arange(24)`: `typesize=8`.
pub const CUTOUT_UINT8_2X3X4: &str =
    "02011308180000001800000028000000000102030405060708090a0b0c0d0e0f1011121314151617";

/// DRF's `NotAcceptable` text, for an `Accept` no renderer matches.
pub const NOT_ACCEPTABLE: &str = r#"{"detail":"Could not satisfy the request Accept header."}"#;
