//! What can go wrong talking to GitHub, in the terms callers branch on.

use std::time::Duration;

/// A GitHub call that did not succeed. Transient failures were already retried where repeating
/// the request was safe; what reaches a caller is final for this attempt.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// 404: missing, or (GitHub's way of hiding it) not visible to these credentials.
    #[error("{what} not found on GitHub (or not visible to Orion's credentials)")]
    NotFound { what: String },
    /// 422: GitHub understood the request and refused it; `details` are its per-field reasons.
    #[error("GitHub refused {what}: {message}{}", details_suffix(.details))]
    Validation {
        what: String,
        message: String,
        details: Vec<String>,
    },
    /// 401: the credentials are wrong, revoked or expired.
    #[error("GitHub rejected Orion's credentials for {what}: {message}")]
    Unauthorized { what: String, message: String },
    /// 403 that is not a rate limit: the App lacks a permission, or the repository forbids it.
    #[error("GitHub forbids {what}: {message}")]
    Forbidden { what: String, message: String },
    /// A rate limit that resets later than Orion is willing to wait.
    #[error("GitHub rate limit for {what}: {message} (resets in {}s)", .reset_in.as_secs())]
    RateLimited {
        what: String,
        message: String,
        reset_in: Duration,
    },
    /// 5xx, a timeout or a network failure, still failing after the retries.
    #[error("GitHub unavailable for {what} after {attempts} attempt(s): {message}")]
    Unavailable {
        what: String,
        message: String,
        attempts: u32,
    },
    /// A write that is not safe to repeat failed in a way that leaves its outcome unknown (a
    /// 5xx or timeout after the request was sent). Callers look for the effect before repeating
    /// it; the effect journal does that.
    #[error("outcome of {what} is unknown: {message}")]
    Ambiguous { what: String, message: String },
    /// Any other refusal (400, 409, 410…).
    #[error("GitHub answered {status} to {what}: {message}")]
    Rejected {
        what: String,
        status: u16,
        message: String,
    },
    /// GitHub answered 2xx with a body Orion cannot read: a GHES version mismatch or a bug.
    #[error("unexpected answer from GitHub to {what}: {message}")]
    Decode { what: String, message: String },
    /// The effect journal (Orion's database) failed; the write's state is unknown to Orion.
    #[error("the effect journal failed: {0}")]
    Journal(String),
    /// Orion cannot make the call at all (no credentials, a bad installation, a bad key).
    #[error("{0}")]
    Setup(String),
}

fn details_suffix(details: &[String]) -> String {
    if details.is_empty() {
        String::new()
    } else {
        format!(" ({})", details.join("; "))
    }
}

impl ForgeError {
    /// Worth retrying later (by the queue): GitHub was down, slow or rate limited, or the
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

    /// Whether GitHub refused because the thing already exists (a pull request for the branch),
    /// which for an idempotent caller means "look it up".
    pub fn is_already_exists(&self) -> bool {
        match self {
            Self::Validation {
                message, details, ..
            } => std::iter::once(message)
                .chain(details)
                .any(|m| m.contains("already exists")),
            _ => false,
        }
    }
}
