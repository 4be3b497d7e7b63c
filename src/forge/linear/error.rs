//! What can go wrong talking to Linear, in the terms callers branch on.

use std::time::Duration;

/// A Linear call that did not succeed. Transient failures were already retried where repeating
/// the request was safe; what reaches a caller is final for this attempt. `operation` is the
/// GraphQL operation name Orion sent (`CommentCreate`, `IssueRead`…).
#[derive(Debug, thiserror::Error)]
pub enum LinearError {
    /// The key is wrong, revoked or expired (HTTP 401, or a GraphQL error coded
    /// `AUTHENTICATION_ERROR`).
    #[error("Linear rejected Orion's API key for {operation}: {message}")]
    Unauthorized { operation: String, message: String },
    /// The key works but may not do this (a team the key is not scoped to, a read-only key).
    #[error("Linear forbids {operation}: {message}")]
    Forbidden { operation: String, message: String },
    /// The issue, comment, team, label or workflow state does not exist, or the key cannot see it.
    #[error("{what} not found in Linear ({operation})")]
    NotFound { operation: String, what: String },
    /// A rate limit that resets later than Orion is willing to wait.
    #[error("Linear rate limit for {operation}: {message} (resets in {}s)", .reset_in.as_secs())]
    RateLimited {
        operation: String,
        message: String,
        reset_in: Duration,
    },
    /// 5xx, a timeout or a network failure, still failing after the retries.
    #[error("Linear unavailable for {operation} after {attempts} attempt(s): {message}")]
    Unavailable {
        operation: String,
        message: String,
        attempts: u32,
    },
    /// A mutation that is not safe to repeat (creating a comment) failed in a way that leaves its
    /// outcome unknown. Callers look for the effect before repeating it.
    #[error("outcome of {operation} is unknown: {message}")]
    Ambiguous { operation: String, message: String },
    /// Linear answered with GraphQL `errors` (usually in an HTTP 200): a bad input, a refused
    /// mutation, a query too complex.
    #[error("Linear refused {operation}: {message}{}", code_suffix(.code))]
    GraphQl {
        operation: String,
        code: Option<String>,
        message: String,
    },
    /// A non-2xx answer without GraphQL errors Orion can read.
    #[error("Linear answered {status} to {operation}: {message}")]
    Rejected {
        operation: String,
        status: u16,
        message: String,
    },
    /// Linear answered with data Orion cannot read: a schema change or a bug.
    #[error("unexpected answer from Linear to {operation}: {message}")]
    Decode { operation: String, message: String },
    /// The effect journal (Orion's database) failed; the write's state is unknown to Orion.
    #[error("the effect journal failed: {0}")]
    Journal(String),
    /// Orion cannot make the call at all (a bad API URL, an unusable idempotency key).
    #[error("{0}")]
    Setup(String),
}

fn code_suffix(code: &Option<String>) -> String {
    code.as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default()
}

impl LinearError {
    /// Worth retrying later (by the queue): Linear was down, slow or rate limited, or the
    /// outcome is unknown. Everything else will fail the same way again.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Unavailable { .. }
                | Self::Ambiguous { .. }
                | Self::Journal(_)
        )
    }
}
