//! `[github]`: where the GitHub API is and how patiently Orion talks to it.

use serde::{Deserialize, Serialize};

use crate::config::Problem;

/// The environment variable that points Orion at GitHub Enterprise Server (or a test server);
/// it wins over `github.api_url`.
pub const API_URL_ENV: &str = "ORION_GITHUB_API_URL";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GitHubConfig {
    /// The REST API root: `https://api.github.com`, or `https://HOST/api/v3` for GitHub
    /// Enterprise Server. `ORION_GITHUB_API_URL` overrides it.
    pub api_url: String,
    /// A request that has not answered by then is abandoned (and retried when that is safe), so a
    /// hung connection cannot hold a task forever.
    pub request_timeout_ms: u64,
    /// Attempts after the first for a failed request that is safe to repeat (reads, and writes
    /// GitHub rejected before acting: rate limits). Writes whose outcome is unknown go back to the
    /// effect journal, which looks before it repeats.
    pub max_retries: u32,
    /// First backoff between retries; it doubles (with jitter) up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Longest Orion waits for a rate limit to reset before failing the call with the reset time.
    /// GitHub's primary limit resets hourly; a job that fails here is retried by the queue later.
    pub max_rate_limit_wait_s: u64,
    /// Refresh an installation token when it has less than this left, so a long push or clone
    /// does not start with a token about to expire.
    pub token_refresh_margin_s: u64,
}

impl Default for GitHubConfig {
    fn default() -> Self {
        Self {
            api_url: "https://api.github.com".to_owned(),
            request_timeout_ms: 30_000,
            max_retries: 4,
            retry_base_ms: 500,
            retry_max_ms: 20_000,
            max_rate_limit_wait_s: 300,
            token_refresh_margin_s: 300,
        }
    }
}

impl GitHubConfig {
    /// The pause between retries: `retry_base_ms` doubling up to `retry_max_ms`, with jitter.
    pub fn backoff(&self) -> crate::queue::Backoff {
        crate::queue::Backoff {
            base: std::time::Duration::from_millis(self.retry_base_ms),
            max: std::time::Duration::from_millis(self.retry_max_ms),
        }
    }

    /// Checks the section's keys, in the shape [`crate::config::Config::validate`] reports them.
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: &str, message: String, fix: &str| {
            out.push(Problem {
                key: format!("github.{key}"),
                message,
                fix: fix.to_owned(),
            })
        };
        match self.api_url.parse::<http::Uri>() {
            Ok(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() => {}
            _ => bad(
                "api_url",
                format!("{:?} is not an http(s) URL", self.api_url),
                "use https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server",
            ),
        }
        if self.request_timeout_ms == 0 {
            bad(
                "request_timeout_ms",
                "is 0".into(),
                "use a few seconds, e.g. 30000",
            );
        }
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            bad(
                "retry_base_ms",
                format!(
                    "{} with retry_max_ms {}: the base must be positive and not above the cap",
                    self.retry_base_ms, self.retry_max_ms
                ),
                "e.g. retry_base_ms = 500, retry_max_ms = 20000",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_key() {
        let mut out = Vec::new();
        GitHubConfig::default().validate(&mut out);
        assert_eq!(out, vec![]);

        let bad = GitHubConfig {
            api_url: "api.github.com".into(),
            request_timeout_ms: 0,
            retry_base_ms: 10,
            retry_max_ms: 5,
            ..GitHubConfig::default()
        };
        bad.validate(&mut out);
        let keys: Vec<_> = out.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "github.api_url",
                "github.request_timeout_ms",
                "github.retry_base_ms"
            ]
        );
    }
}
