//! boss-sim on its own, driven over HTTP with reqwest and through its AWS endpoint with the AWS
//! SDK (never through the client): the protocol as the service speaks it, the front door's key
//! and policy checks, chunk assembly read back through cutouts, faults, bad input — and, as proof
//! of fidelity, the Python reference client completing a job against it.

/// Defines each named `async fn(Backend)` test twice, as `<name>::embedded` and `<name>::moto`:
/// the simulator's own tests are the proof that the embedded backend behaves like moto.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::support::sim::Backend;

                #[tokio::test(flavor = "multi_thread")]
                async fn embedded() {
                    super::$name(Backend::Embedded).await
                }

                #[tokio::test(flavor = "multi_thread")]
                async fn moto() {
                    super::$name(Backend::Moto).await
                }
            }
        )*
    };
}

mod assembly;
mod backend;
mod cutout;
mod fidelity;
mod front_door;
mod lambda_fields;
mod queues;
mod rest;
mod startup;

use crate::support::sim::SimHandle;
use boss_protocol::api::Credentials;
use boss_protocol::status::{IngestType, JobStatus};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A join answer as the simulator sent it (`raw`, for the blocks a client passes on unchanged
/// and for tests of the answer's shape) and the fields the tests act on (`parsed`).
pub struct SimJoin {
    pub raw: Value,
    pub parsed: JoinView,
}

impl std::ops::Deref for SimJoin {
    type Target = JoinView;
    fn deref(&self) -> &JoinView {
        &self.parsed
    }
}

/// The fields of a join answer the tests use, read leniently (absent or `null` is `None`).
pub struct JoinView {
    pub ingest_job: JobView,
    pub credentials: Option<Credentials>,
    pub tile_bucket_name: Option<String>,
    pub ingest_bucket_name: Option<String>,
}

/// `ingest_job` of a join answer.
pub struct JobView {
    pub id: u64,
    pub status: JobStatus,
    pub ingest_queue: Option<String>,
    pub upload_queue: Option<String>,
    pub tile_index_queue: Option<String>,
    pub tile_count: Option<u64>,
    pub ingest_type: Option<IngestType>,
}

impl JoinView {
    /// Reads a 200 join answer; panics if it lacks the job's id or status.
    pub fn read(raw: &Value) -> JoinView {
        let job = &raw["ingest_job"];
        let text = |v: &Value| v.as_str().map(str::to_string);
        JoinView {
            ingest_job: JobView {
                id: job["id"].as_u64().expect("ingest_job.id"),
                status: serde_json::from_value(job["status"].clone()).expect("ingest_job.status"),
                ingest_queue: text(&job["ingest_queue"]),
                upload_queue: text(&job["upload_queue"]),
                tile_index_queue: text(&job["tile_index_queue"]),
                tile_count: job["tile_count"].as_u64(),
                ingest_type: serde_json::from_value(job["ingest_type"].clone()).ok(),
            },
            credentials: serde_json::from_value(raw["credentials"].clone()).ok(),
            tile_bucket_name: text(&raw["tile_bucket_name"]),
            ingest_bucket_name: text(&raw["ingest_bucket_name"]),
        }
    }
}

/// A v0.2 tile-job config for the simulator's channel `channel`.
pub fn tile_config(
    sim: &SimHandle,
    channel: &str,
    x: [u64; 2],
    y: [u64; 2],
    z: [u64; 2],
    tile: u64,
) -> Value {
    json!({
        "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
        "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
            "path_processor": {"class": "ingestclient.plugins.stack.ZindexStackPathProcessor", "params": {"root_dir": "/nonexistent", "extension": "png", "base_filename": "s<>"}},
            "tile_processor": {"class": "ingestclient.plugins.stack.ZindexStackTileProcessor", "params": {"filesystem": "local", "extension": "png"}}
        },
        "database": {"collection": "col", "experiment": "exp", "channel": channel},
        "ingest_job": {
            "ingest_type": "tile",
            "resolution": 0,
            "extent": {"x": x, "y": y, "z": z, "t": [0, 1]},
            "tile_size": {"x": tile, "y": tile, "z": 1, "t": 1}
        }
    })
}

/// A v0.2 volumetric-job config.
pub fn volumetric_config(
    sim: &SimHandle,
    channel: &str,
    x: [u64; 2],
    y: [u64; 2],
    z: [u64; 2],
    chunk: [u64; 3],
) -> Value {
    json!({
        "schema": {"name": "boss-v0.2-schema", "validator": "BossValidatorV02"},
        "client": {
            "backend": {"name": "boss", "class": "BossBackend", "host": sim.host(), "protocol": "http"},
            "path_processor": {"class": "ingestclient.plugins.zarr.ZarrPathProcessor", "params": {}},
            "chunk_processor": {"class": "ingestclient.plugins.zarr.ZarrChunkProcessor", "params": {}}
        },
        "database": {"collection": "col", "experiment": "exp", "channel": channel},
        "ingest_job": {
            "ingest_type": "volumetric",
            "resolution": 0,
            "extent": {"x": x, "y": y, "z": z, "t": [0, 1]},
            "chunk_size": {"x": chunk[0], "y": chunk[1], "z": chunk[2]}
        }
    })
}

/// A REST caller for one simulator.
pub struct Api<'a> {
    pub sim: &'a SimHandle,
    http: reqwest::Client,
}

/// Status code and JSON body (`Null` when the body is empty).
pub type Reply = (u16, Value);

impl<'a> Api<'a> {
    pub fn new(sim: &'a SimHandle) -> Api<'a> {
        Api {
            sim,
            http: reqwest::Client::new(),
        }
    }

    /// Calls `path` (e.g. `/latest/ingest/`) with `Authorization: Token <token>` if given.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sim.api))
            .header("Accept", "application/json");
        if let Some(token) = token {
            request = request.header("Authorization", format!("Token {token}"));
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request to boss-sim");
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("body {text:?} is not JSON: {e}"))
        };
        (status, value)
    }

    /// `GET path` with the token, as text (for what JSON parsing would lose, such as key order).
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.sim.api))
            .header("Accept", "application/json")
            .header("Authorization", format!("Token {}", self.sim.token))
            .send()
            .await
            .expect("request to boss-sim");
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    }

    pub async fn create(&self, config: &Value) -> Reply {
        self.call(
            reqwest::Method::POST,
            "/latest/ingest/",
            Some(&self.sim.token),
            Some(config.to_string()),
        )
        .await
    }

    /// Creates a job and returns its id, asserting the 201.
    pub async fn create_ok(&self, config: &Value) -> u64 {
        let (status, body) = self.create(config).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_u64().expect("job id")
    }

    pub async fn join(&self, id: u64) -> Reply {
        self.call(
            reqwest::Method::GET,
            &format!("/latest/ingest/{id}"),
            Some(&self.sim.token),
            None,
        )
        .await
    }

    /// Joins until the job leaves PREPARING and returns the answer with credentials.
    pub async fn join_uploading(&self, id: u64) -> (SimJoin, Credentials) {
        let start = Instant::now();
        loop {
            let (status, body) = self.join(id).await;
            assert_eq!(status, 200, "{body}");
            let parsed = JoinView::read(&body);
            if let Some(creds) = parsed.credentials.clone() {
                assert!(parsed.ingest_job.status.has_credentials(), "{body}");
                return (SimJoin { raw: body, parsed }, creds);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "job {id} stayed PREPARING"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn complete(&self, id: u64) -> Reply {
        self.call(
            reqwest::Method::POST,
            &format!("/latest/ingest/{id}/complete"),
            Some(&self.sim.token),
            None,
        )
        .await
    }

    pub async fn cancel(&self, id: u64) -> Reply {
        self.call(
            reqwest::Method::DELETE,
            &format!("/latest/ingest/{id}"),
            Some(&self.sim.token),
            None,
        )
        .await
    }

    pub async fn status(&self, id: u64) -> Reply {
        self.call(
            reqwest::Method::GET,
            &format!("/latest/ingest/{id}/status"),
            Some(&self.sim.token),
            None,
        )
        .await
    }

    /// `POST /sim/jobs/{id}/pause|resume`.
    pub async fn pause(&self, id: u64, paused: bool) {
        let verb = if paused { "pause" } else { "resume" };
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/sim/jobs/{id}/{verb}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    /// Raw voxels of a box through the cutout API (the shared read-back).
    pub async fn cutout_raw(
        &self,
        channel: &str,
        x: (u64, u64),
        y: (u64, u64),
        z: (u64, u64),
    ) -> Vec<u8> {
        crate::support::job::cutout(self.sim, channel, x, y, z).await
    }

    /// Where the simulator's moto runs (`GET /sim/info`).
    pub async fn moto_url(&self) -> String {
        let (_, info) = self
            .call(reqwest::Method::GET, "/sim/info", None, None)
            .await;
        info["moto"].as_str().expect("moto url").to_string()
    }
}

/// Clients straight to the simulator's moto (as the service itself), bypassing the front door.
pub fn moto_sqs(url: &str) -> aws_sdk_sqs::Client {
    let creds = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test");
    aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(url)
            .build(),
    )
}

/// Receives and deletes every message of a queue (bodies in receive order).
pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 2 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            empty_polls += 1;
            continue;
        }
        for m in messages {
            bodies.push(m.body.unwrap_or_default());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
    }
    bodies
}
