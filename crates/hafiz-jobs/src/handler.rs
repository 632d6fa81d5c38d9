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
