use async_trait::async_trait;

/// How an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// Worth another attempt (after backoff), while attempts remain.
    Retry(String),
    /// Retrying cannot help (bad payload, the object is gone): dead at once.
    Permanent(String),
}

impl JobFailure {
    pub fn message(&self) -> &str {
        match self {
            JobFailure::Retry(m) | JobFailure::Permanent(m) => m,
        }
    }
}

/// What a handler gets for one attempt.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: String,
    pub kind: String,
    /// The payload, unsealed.
    pub payload: Vec<u8>,
    /// 1 on the first attempt.
    pub attempt: u32,
    pub progress: Progress,
}

/// Saves a long job's progress into its payload (see [`Progress::save`]).
#[derive(Clone)]
pub struct Progress {
    pub(crate) meta: std::sync::Arc<dyn hafiz_meta::Metadata>,
    pub(crate) id: String,
    pub(crate) worker: String,
    pub(crate) sealer: Option<crate::Sealer>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").field("id", &self.id).finish()
    }
}

impl Progress {
    /// Replace the job's payload with `state`: a later attempt (after a crash or a
    /// lost lease) starts from it. Fails when this attempt no longer holds the lease.
    pub async fn save(&self, state: &impl serde::Serialize) -> Result<(), JobFailure> {
        let plain = serde_json::to_vec(state)
            .map_err(|e| JobFailure::Permanent(format!("checkpoint: {e}")))?;
        let payload = match &self.sealer {
            Some(s) => s.seal(&self.id, &plain),
            None => plain,
        };
        self.meta
            .apply(hafiz_meta::Command::Jobs(
                hafiz_meta::jobs::JobCommand::Checkpoint {
                    id: self.id.clone(),
                    worker: self.worker.clone(),
                    payload,
                    now: crate::now_millis(),
                },
            ))
            .await
            .map(|_| ())
            .map_err(|e| JobFailure::Retry(format!("checkpoint: {e}")))
    }
}

impl JobContext {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, JobFailure> {
        serde_json::from_slice(&self.payload)
            .map_err(|e| JobFailure::Permanent(format!("payload: {e}")))
    }
}

/// Runs the jobs of one kind. Must be idempotent: an attempt whose worker died runs
/// again once its lease expires. The `Ok` value is the job's result (JSON text, kept
/// for export).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn run(&self, job: JobContext) -> Result<Option<String>, JobFailure>;
}
