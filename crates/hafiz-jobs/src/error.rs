use hafiz_meta::MetaError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Meta(#[from] MetaError),
    #[error("no handler registered for job kind {0}")]
    UnknownKind(String),
    #[error("job payload: {0}")]
    Payload(String),
    #[error("sealed job payload could not be opened (wrong key material or tampered row)")]
    Unseal,
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleSpecError),
}

pub type JobsResult<T> = Result<T, JobError>;
