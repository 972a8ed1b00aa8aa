//! The job operations of the Boss ingest API (protocol §2) as the service performs them: create,
//! join, status, complete and cancel, on the simulator's job state.
//!
//! Each operation checks the caller and the job's state, changes the state, and returns a domain
//! answer or a [`JobError`]. Nothing here knows HTTP: `rest` alone maps these to status codes and
//! bodies, so the state machine can be read (and changed) without the wire in the way.

use crate::aws::AwsError;
use crate::job_config::{self, JobRequest};
use crate::plan::{JobPlan, Span};
use crate::resources::{Channel, Missing};
use crate::service;
use crate::state::{Job, JobQueues, JobStats, Queue, Sim};
use boss_protocol::api::{CompleteBody, CreateResponse, Credentials, StatusResponse};
use boss_protocol::status::{IngestType, JobStatus};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// The per-job operations, for the service's "not the creator" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Join,
    Status,
    Complete,
    Cancel,
}

impl Operation {
    fn verb(self) -> &'static str {
        match self {
            Operation::Join => "join",
            Operation::Status => "check the status of",
            Operation::Complete => "complete",
            Operation::Cancel => "cancel",
        }
    }
}

/// botocore's text for the SQS lookup of a deleted queue, which the real views pass on as a
/// 9001 system error (`NDQueue.__init__` → `get_queue_by_name`).
pub const NO_SUCH_QUEUE: &str = "An error occurred (AWS.SimpleQueueService.NonExistentQueue) when \
     calling the GetQueueUrl operation: The specified queue does not exist for this wsdl version.";

/// Why an operation was refused, in the service's terms (texts as boss `bossingest/views.py`
/// and `ingest_manager.py` word them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The config failed the schema or validator checks (1004).
    #[error("Could not validate the schema: {0}")]
    Invalid(String),
    /// The config names a collection, experiment or channel that does not exist (4000).
    #[error("{}", missing_text(.0))]
    MissingResource(Missing),
    /// No job with that id (4004).
    #[error("The ingest job with id {0} does not exist")]
    NotFound(u64),
    /// The caller did not create the job (3003).
    #[error("Only the creator or admin can {} an ingest job", .0.verb())]
    NotCreator(Operation),
    /// The job was cancelled (2004).
    #[error("The job with id {0} has been deleted")]
    Deleted(u64),
    /// Not valid in the job's state (1006).
    #[error("{0}")]
    Refused(String),
    /// The service's own "system error" (9001), which it answers with 400.
    #[error("{0}")]
    System(String),
    /// The simulator's AWS backend failed under an operation.
    #[error("{0}")]
    Backend(String),
}

fn missing_text(missing: &Missing) -> String {
    match missing {
        Missing::Collection(n) => format!("Collection {n} not found"),
        Missing::Experiment(n) => format!("Experiment {n} not found"),
        Missing::Channel(n) => format!("Channel {n} not found"),
    }
}

/// Looks a job up for `user`: unknown, or someone else's, is an error.
fn owned<'a>(
    jobs: &'a mut BTreeMap<u64, Job>,
    id: u64,
    user: &str,
    operation: Operation,
) -> Result<&'a mut Job, JobError> {
    let job = jobs.get_mut(&id).ok_or(JobError::NotFound(id))?;
    if job.owner != user {
        return Err(JobError::NotCreator(operation));
    }
    Ok(job)
}

/// `POST /ingest/`: validates the config, creates the queues and starts the job's worker.
pub async fn create(
    sim: &Arc<Sim>,
    user: &str,
    config: &Value,
) -> Result<CreateResponse, JobError> {
    let request = job_config::validate(config).map_err(JobError::Invalid)?;
    let channel = sim
        .resources
        .channel(&request.collection, &request.experiment, &request.channel)
        .map_err(JobError::MissingResource)?
        .clone();
    let plan = plan_for(&request, &channel);
    let id = {
        let mut inner = sim.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        id
    };
    let queues = create_queues(sim, id, request.ingest_type)
        .await
        .map_err(|e| {
            log::error!("job {id}: creating queues failed: {e}");
            JobError::Backend(format!(
                "Could not create the queues of ingest job {id}: {e}"
            ))
        })?;
    let mut job = Job {
        id,
        owner: user.to_string(),
        channel,
        plan,
        status: JobStatus::Preparing,
        created: Instant::now(),
        filled: false,
        queues,
        wait_started: None,
        prepare_failed: false,
        tile_objects: Default::default(),
        pending: Default::default(),
        assembled: Default::default(),
        tile_puts: Default::default(),
        stats: JobStats::default(),
        paused: false,
    };
    let response = CreateResponse {
        id,
        collection: request.collection.clone(),
        experiment: request.experiment.clone(),
        channel: request.channel.clone(),
        status: JobStatus::Preparing,
        ingest_queue: job.queues.ingest.as_ref().map(|q| q.public_url.clone()),
        upload_queue: Some(job.queues.upload.public_url.clone()),
        tile_count: job.tile_count(),
        ingest_type: request.ingest_type,
    };
    // Counted before the job existed (globally); it belongs to the job.
    crate::state::bump(&mut job.stats.rest_requests, "create");
    sim.lock().jobs.insert(id, job);
    log::info!(
        "job {id}: created ({} {} messages)",
        request.ingest_type,
        response.tile_count
    );
    service::spawn_job(sim.clone(), id);
    Ok(response)
}

fn plan_for(request: &JobRequest, channel: &Channel) -> JobPlan {
    let span = |(start, stop): (u64, u64)| Span { start, stop };
    let [x, y, z, t] = request.extent;
    let (step_x, step_y, step_z, step_t) = match (request.tile_size, request.chunk_size) {
        (Some((tx, ty, tt)), _) => (tx, ty, 1, tt),
        (None, Some((cx, cy, cz))) => (cx, cy, cz, 1),
        // validate() always sets the size that matches the ingest type.
        (None, None) => (1, 1, 1, 1),
    };
    JobPlan {
        ingest_type: request.ingest_type,
        ids: channel.ids(),
        resolution: channel.base_resolution,
        x: span(x),
        y: span(y),
        z: span(z),
        t: span(t),
        step_x,
        step_y,
        step_z,
        step_t,
    }
}

async fn create_queues(sim: &Sim, id: u64, kind: IngestType) -> Result<JobQueues, AwsError> {
    let make = |suffix: &str| format!("boss-sim-{}-{id}-{suffix}", sim.tag);
    let queue = |name: String| async move {
        let moto_url = sim
            .admin
            .create_queue(&name, sim.timing.visibility_timeout_secs)
            .await?;
        Ok::<_, AwsError>(Queue {
            public_url: sim.public_queue_url(&moto_url),
            name,
            moto_url,
        })
    };
    let upload = queue(make("upload")).await?;
    if kind == IngestType::Volumetric {
        return Ok(JobQueues {
            upload,
            tile_index: None,
            ingest: None,
            tile_error: None,
        });
    }
    Ok(JobQueues {
        upload,
        tile_index: Some(queue(make("tile-index")).await?),
        ingest: Some(queue(make("ingest")).await?),
        tile_error: Some(queue(make("tile-error")).await?),
    })
}

/// What a join sees of a job: its state after the join, and what the answer is built from.
#[derive(Debug, Clone)]
pub struct Joined {
    pub id: u64,
    pub status: JobStatus,
    pub channel: Channel,
    pub plan: JobPlan,
    pub tile_count: u64,
    pub queues: JobQueues,
    /// Freshly minted keys, in the states that have them (1, 5, 6).
    pub credentials: Option<Credentials>,
}

impl Joined {
    /// COMPLETE (and FAILED) answer with the job alone.
    pub fn finished(&self) -> bool {
        matches!(self.status, JobStatus::Complete | JobStatus::Failed)
    }
}

/// `GET /ingest/{id}`, in the order of boss `IngestJobView.get`: the tile-index queue of a tile
/// job is looked up first (so a finished tile job, whose queues are gone, is a 9001 error);
/// then DELETED; then the first join after the upload queue is filled moves the job to
/// UPLOADING; every join in a state with credentials mints a new key pair.
pub fn join(sim: &Sim, id: u64, user: &str) -> Result<Joined, JobError> {
    let needs_keys = {
        let mut inner = sim.lock();
        let job = owned(&mut inner.jobs, id, user, Operation::Join)?;
        let finished = matches!(job.status, JobStatus::Complete | JobStatus::Deleted);
        if finished && job.ingest_type() == IngestType::Tile {
            return Err(JobError::System(NO_SUCH_QUEUE.into()));
        }
        if job.status == JobStatus::Deleted {
            return Err(JobError::Deleted(id));
        }
        if job.status == JobStatus::Preparing && job.filled && job.prepare_failed {
            return Err(JobError::System(format!(
                "Error generating ingest job messages Delete the ingest job with id {id} and try \
                 again."
            )));
        }
        if job.status == JobStatus::Preparing
            && job.filled
            && job.created.elapsed() >= sim.timing.prepare
        {
            job.status = JobStatus::Uploading;
            log::info!("job {id}: UPLOADING");
        }
        job.status.has_credentials()
    };
    let credentials = needs_keys.then(|| {
        let (access_key, secret_key) = sim.mint(id);
        Credentials {
            access_key,
            secret_key,
            security_token: None,
        }
    });
    let inner = sim.lock();
    let job = inner.jobs.get(&id).ok_or(JobError::Deleted(id))?;
    Ok(Joined {
        id,
        status: job.status,
        channel: job.channel.clone(),
        plan: job.plan.clone(),
        tile_count: job.tile_count(),
        queues: job.queues.clone(),
        credentials,
    })
}

/// `GET /ingest/{id}/status`: counts visible upload messages only.
pub async fn status(sim: &Sim, id: u64, user: &str) -> Result<StatusResponse, JobError> {
    let (status, total, upload) = {
        let mut inner = sim.lock();
        let job = owned(&mut inner.jobs, id, user, Operation::Status)?;
        if job.status == JobStatus::Deleted {
            return Err(JobError::Deleted(id));
        }
        (
            job.status,
            job.tile_count(),
            job.queues.upload.moto_url.clone(),
        )
    };
    let current = if status == JobStatus::Complete {
        0
    } else {
        sim.admin.depth(&upload).await.map(|d| d.0).unwrap_or(0)
    };
    Ok(StatusResponse {
        id,
        status,
        total_message_count: total,
        current_message_count: current,
    })
}

/// The answers of `POST /ingest/{id}/complete` that are not refusals.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// The job is COMPLETE.
    Done,
    /// The job moved on (or is COMPLETING): `{job_status, wait_secs}`.
    Accepted(CompleteBody),
    /// Not yet: wait `wait_secs` and ask again.
    NotYet(CompleteBody),
}

fn body(job_status: Option<JobStatus>, wait_secs: Option<f64>, info: Option<&str>) -> CompleteBody {
    CompleteBody {
        job_status,
        wait_secs,
        info: info.map(str::to_string),
    }
}

/// `POST /ingest/{id}/complete`: one step of the state machine of protocol §2.4.
pub async fn complete(sim: &Arc<Sim>, id: u64, user: &str) -> Result<Completion, JobError> {
    owned(&mut sim.lock().jobs, id, user, Operation::Complete)?;
    step_completion(sim, id).await.map_err(|e| {
        log::error!("job {id}: complete failed: {e}");
        JobError::Backend(format!("Could not complete ingest job {id}: {e}"))
    })?
}

/// The view (`IngestJobCompleteView.post`) with `IngestManager.try_enter_wait_on_queue_state`
/// and `try_start_completing`. In both waiting states the queues are checked first (visible
/// messages only) and then the timer; only UPLOADING → WAIT_ON_QUEUES starts the timer.
async fn step_completion(
    sim: &Arc<Sim>,
    id: u64,
) -> Result<Result<Completion, JobError>, AwsError> {
    let Some((status, queues, wait_started)) = sim
        .lock()
        .jobs
        .get(&id)
        .map(|j| (j.status, j.queues.clone(), j.wait_started))
    else {
        return Ok(Err(JobError::NotFound(id)));
    };
    let wait = sim.timing.wait_on_queues;
    // `calculate_remaining_queue_wait` of a timestamp: never negative.
    let remaining = |started: Option<Instant>| match started {
        None => wait.as_secs_f64(),
        Some(t) => wait.saturating_sub(t.elapsed()).as_secs_f64(),
    };
    let set = |status: JobStatus| {
        if let Some(job) = sim.lock().jobs.get_mut(&id) {
            job.status = status;
            if status == JobStatus::WaitOnQueues {
                job.wait_started = Some(Instant::now());
            }
            log::info!("job {id}: {status}");
        }
    };
    let refused = |message: &str| Ok(Err(JobError::Refused(message.to_string())));
    let internal_not_empty = || {
        Completion::NotYet(body(
            None,
            Some(wait.as_secs_f64()),
            Some("Internal queues not empty yet"),
        ))
    };
    Ok(Ok(match status {
        JobStatus::Preparing => {
            return refused(
                "You cannot complete a job that is still preparing. You must cancel instead.",
            )
        }
        JobStatus::Complete => Completion::Done,
        JobStatus::Deleted => return refused("Ingest job has already been cancelled."),
        JobStatus::Failed => {
            return refused("Ingest job has failed during creation. You must Cancel instead.")
        }
        JobStatus::Completing => {
            Completion::Accepted(body(Some(JobStatus::Completing), None, None))
        }
        JobStatus::Uploading => match queues_empty(sim, &queues).await? {
            Queues::UploadNotEmpty => return refused("Upload queue is not empty"),
            Queues::InternalNotEmpty => internal_not_empty(),
            Queues::Empty => {
                set(JobStatus::WaitOnQueues);
                // Answered from the job as it was read: a job that waited before reports what
                // is left of that old wait (0 once it is over), a first one the whole wait.
                Completion::Accepted(body(
                    Some(JobStatus::WaitOnQueues),
                    Some(remaining(wait_started)),
                    None,
                ))
            }
        },
        JobStatus::WaitOnQueues => match queues_empty(sim, &queues).await? {
            Queues::UploadNotEmpty => {
                set(JobStatus::Uploading);
                return refused("Upload queue is not empty");
            }
            Queues::InternalNotEmpty => internal_not_empty(),
            Queues::Empty if remaining(wait_started) > 0.0 => Completion::NotYet(body(
                Some(JobStatus::WaitOnQueues),
                Some(remaining(wait_started)),
                None,
            )),
            Queues::Empty => {
                set(JobStatus::Completing);
                service::start_scan(sim.clone(), id);
                Completion::Accepted(body(Some(JobStatus::Completing), Some(0.0), None))
            }
        },
    }))
}

/// What `IngestManager.ensure_queues_empty` finds.
enum Queues {
    UploadNotEmpty,
    InternalNotEmpty,
    Empty,
}

/// The upload queue, then (tile jobs) the ingest and tile-index queues; visible messages only
/// (`bossingest/utils.get_sqs_num_msgs` reads `ApproximateNumberOfMessages`).
async fn queues_empty(sim: &Sim, queues: &JobQueues) -> Result<Queues, AwsError> {
    if sim.admin.depth(&queues.upload.moto_url).await?.0 > 0 {
        return Ok(Queues::UploadNotEmpty);
    }
    for q in [&queues.ingest, &queues.tile_index].into_iter().flatten() {
        if sim.admin.depth(&q.moto_url).await?.0 > 0 {
            return Ok(Queues::InternalNotEmpty);
        }
    }
    Ok(Queues::Empty)
}

/// `DELETE /ingest/{id}` (`IngestManager.cleanup_ingest_job`): deletes the queues, revokes the
/// keys; the job is DELETED. There is no state check: the upload queue is looked up first, so a
/// job whose queues are gone (COMPLETE, or cancelled already) is a 9001 error and keeps its state.
pub async fn cancel(sim: &Sim, id: u64, user: &str) -> Result<(), JobError> {
    let queues = {
        let mut inner = sim.lock();
        let job = owned(&mut inner.jobs, id, user, Operation::Cancel)?;
        if matches!(job.status, JobStatus::Complete | JobStatus::Deleted) {
            return Err(JobError::System(format!(
                "Unable to complete cleanup {NO_SUCH_QUEUE}"
            )));
        }
        job.status = JobStatus::Deleted;
        let queues = job.queues.clone();
        Sim::revoke(&mut inner, id);
        queues
    };
    log::info!("job {id}: DELETED");
    service::delete_queues(sim, &queues).await;
    Ok(())
}
