//! The background job queue: list and export (JSON or CSV), inspect, retry, cancel,
//! purge. Reads and changes go through the metadata (jobs are metadata), so any node
//! answers for the whole cluster.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use hafiz_meta::Command;
use hafiz_meta::jobs::{Job as MetaJob, JobCommand, JobQuery, JobState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AdminState;
use crate::auth::Caller;
use crate::error::{AdminError, AdminResult, ErrorBody};
use crate::model::rfc3339;

type St = State<Arc<AdminState>>;

const MAX_PAGE: usize = 10_000;

fn now() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: String,
    /// queued, leased, succeeded, failed (awaiting a retry), dead or cancelled.
    pub state: String,
    pub priority: u8,
    pub attempts: u32,
    pub max_attempts: u32,
    pub timeout_seconds: f64,
    pub next_run: String,
    pub created: String,
    pub updated: String,
    pub depends_on: Vec<String>,
    /// The worker holding the lease, and until when.
    pub leased_by: Option<String>,
    pub lease_until: Option<String>,
    pub last_error: Option<String>,
    /// What the job reported on success (JSON text).
    pub result: Option<String>,
    /// The job's input as JSON text; absent when sealed (it carries user data).
    pub payload: Option<String>,
    pub sealed: bool,
}

impl From<MetaJob> for Job {
    fn from(j: MetaJob) -> Job {
        Job {
            payload: (!j.sealed).then(|| String::from_utf8_lossy(&j.payload).into_owned()),
            sealed: j.sealed,
            id: j.id,
            kind: j.kind,
            state: j.state.as_str().to_string(),
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            timeout_seconds: j.timeout_ms as f64 / 1000.0,
            next_run: rfc3339(j.next_run),
            created: rfc3339(j.created),
            updated: rfc3339(j.updated),
            depends_on: j.depends_on,
            leased_by: j.lease.as_ref().map(|l| l.worker.clone()),
            lease_until: j.lease.as_ref().map(|l| rfc3339(l.until)),
            last_error: j.last_error,
            result: j.result,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobList {
    pub jobs: Vec<Job>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
    /// Jobs per kind and state, over the whole queue.
    pub counts: Vec<JobCount>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobCount {
    pub kind: String,
    pub state: String,
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Purged {
    pub purged: usize,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// queued, leased, succeeded, failed, dead or cancelled
    pub state: Option<String>,
    pub kind: Option<String>,
    /// Ids greater than this (the previous page's `next_after`).
    pub after: Option<String>,
    /// At most this many (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// json (default) or csv: the page as a CSV file with a header row.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PurgeParams {
    /// A terminal state (succeeded, dead, cancelled); all three when absent.
    pub state: Option<String>,
    pub kind: Option<String>,
    /// RFC 3339: only jobs last changed before this (default: now).
    pub before: Option<String>,
}

fn parse_state(s: Option<&str>) -> AdminResult<Option<JobState>> {
    s.map(|s| {
        JobState::parse(s).ok_or_else(|| {
            AdminError::InvalidRequest(format!(
                "unknown job state {s:?} (queued, leased, succeeded, failed, dead, cancelled)"
            ))
        })
    })
    .transpose()
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> AdminResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| AdminError::InvalidRequest(e.body_text()))
}

#[utoipa::path(get, path = "/v1/jobs", operation_id = "ListJobs", tag = "jobs",
    params(ListParams),
    responses((status = 200, body = JobList), (status = 400, body = ErrorBody)))]
pub async fn list(
    State(st): St,
    Extension(c): Extension<Caller>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> AdminResult<Response> {
    c.require(&st, "ListJobs").await?;
    let p = query(params)?;
    let limit = p.limit.unwrap_or(1000).clamp(1, MAX_PAGE);
    let jobs = st
        .s3
        .meta
        .jobs(JobQuery {
            state: parse_state(p.state.as_deref())?,
            kind: p.kind,
            after: p.after,
            limit,
        })
        .await?;
    let next_after = (jobs.len() == limit)
        .then(|| jobs.last().map(|j| j.id.clone()))
        .flatten();
    let jobs: Vec<Job> = jobs.into_iter().map(Job::from).collect();
    match p.format.as_deref() {
        None | Some("json") => {
            let counts = st
                .s3
                .meta
                .job_counts()
                .await?
                .into_iter()
                .map(|((kind, state), count)| JobCount {
                    kind,
                    state: state.as_str().to_string(),
                    count,
                })
                .collect();
            Ok(Json(JobList {
                jobs,
                next_after,
                counts,
            })
            .into_response())
        }
        Some("csv") => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record([
                "id",
                "kind",
                "state",
                "priority",
                "attempts",
                "max_attempts",
                "next_run",
                "created",
                "updated",
                "depends_on",
                "last_error",
                "result",
            ])
            .map_err(|e| AdminError::Internal(e.to_string()))?;
            for j in &jobs {
                w.write_record([
                    j.id.as_str(),
                    &j.kind,
                    &j.state,
                    &j.priority.to_string(),
                    &j.attempts.to_string(),
                    &j.max_attempts.to_string(),
                    &j.next_run,
                    &j.created,
                    &j.updated,
                    &j.depends_on.join(" "),
                    j.last_error.as_deref().unwrap_or(""),
                    j.result.as_deref().unwrap_or(""),
                ])
                .map_err(|e| AdminError::Internal(e.to_string()))?;
            }
            let body = w
                .into_inner()
                .map_err(|e| AdminError::Internal(e.to_string()))?;
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Some(next) = next_after
                && let Ok(v) = http::HeaderValue::from_str(&next)
            {
                resp.headers_mut().insert("x-hafiz-next-after", v);
            }
            Ok(resp)
        }
        Some(f) => Err(AdminError::InvalidRequest(format!(
            "unknown format {f:?} (json or csv)"
        ))),
    }
}

async fn require_job(st: &AdminState, id: &str) -> AdminResult<MetaJob> {
    st.s3
        .meta
        .job(id)
        .await?
        .ok_or_else(|| AdminError::not_found("NoSuchJob", format!("no job with id {id}")))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", operation_id = "GetJob", tag = "jobs",
    params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<Job>> {
    c.require(&st, "GetJob").await?;
    Ok(Json(require_job(&st, &id).await?.into()))
}

async fn change(st: &AdminState, cmd: JobCommand) -> AdminResult<Json<Job>> {
    let out = st.s3.meta.apply(Command::Jobs(cmd)).await?;
    let job = out
        .jobs
        .into_iter()
        .next()
        .ok_or_else(|| AdminError::Internal("the job command changed no job".into()))?;
    Ok(Json(job.into()))
}

#[utoipa::path(post, path = "/v1/jobs/{id}/retry", operation_id = "RetryJob", tag = "jobs",
    params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<Job>> {
    c.require(&st, "RetryJob").await?;
    change(&st, JobCommand::Retry { id, now: now() }).await
}

#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", operation_id = "CancelJob", tag = "jobs",
    params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
) -> AdminResult<Json<Job>> {
    c.require(&st, "CancelJob").await?;
    change(&st, JobCommand::Cancel { id, now: now() }).await
}

#[utoipa::path(delete, path = "/v1/jobs", operation_id = "PurgeJobs", tag = "jobs",
    params(PurgeParams),
    responses((status = 200, body = Purged), (status = 400, body = ErrorBody)))]
pub async fn purge(
    State(st): St,
    Extension(c): Extension<Caller>,
    params: Result<Query<PurgeParams>, QueryRejection>,
) -> AdminResult<Json<Purged>> {
    c.require(&st, "PurgeJobs").await?;
    let p = query(params)?;
    let state = parse_state(p.state.as_deref())?;
    if let Some(s) = state
        && !s.is_terminal()
    {
        return Err(AdminError::InvalidRequest(format!(
            "only finished jobs are purged (succeeded, dead, cancelled), not {}",
            s.as_str()
        )));
    }
    let before = match &p.before {
        Some(t) => {
            hafiz_s3::audit::parse_time(t).map_err(|e| AdminError::InvalidRequest(e.to_string()))?
        }
        None => now() + 1,
    };
    let mut purged = 0;
    loop {
        let out = st
            .s3
            .meta
            .apply(Command::Jobs(JobCommand::Purge {
                states: state.into_iter().collect(),
                kind: p.kind.clone(),
                before,
                max: 1000,
            }))
            .await?;
        purged += out.jobs.len();
        if out.jobs.len() < 1000 {
            break;
        }
    }
    Ok(Json(Purged { purged }))
}
