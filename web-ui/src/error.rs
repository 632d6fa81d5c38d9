//! What can go wrong in a console request, and how the page shows it: the S3 or
//! admin API's own code and message, never a blank page or a stack trace.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConsoleError {
    /// The S3 or admin API refused the call.
    #[error("{code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// A form or query the console cannot use.
    #[error("{0}")]
    BadInput(String),
    /// The request's CSRF token is missing or not the session's.
    #[error(
        "the form has expired or did not come from this console: reload the page and try again"
    )]
    Csrf,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn internal(e: impl std::fmt::Display) -> ConsoleError {
        ConsoleError::Internal(e.to_string())
    }

    pub fn status(&self) -> u16 {
        match self {
            ConsoleError::Api { status, .. } => *status,
            ConsoleError::BadInput(_) => 400,
            ConsoleError::Csrf => 403,
            ConsoleError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            ConsoleError::Api { code, .. } => code,
            ConsoleError::BadInput(_) => "InvalidRequest",
            ConsoleError::Csrf => "InvalidCsrfToken",
            ConsoleError::Internal(_) => "InternalError",
        }
    }

    /// The line a page shows.
    pub fn shown(&self) -> String {
        match self {
            ConsoleError::Api { code, message, .. } if message.is_empty() => code.clone(),
            ConsoleError::Api { code, message, .. } => format!("{code}: {message}"),
            // Details are in the server's log, not in a page.
            ConsoleError::Internal(_) => "InternalError: the server failed; see its log".into(),
            e => e.to_string(),
        }
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;
