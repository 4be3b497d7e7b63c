//! A Slack-compatible incoming webhook: `POST {url}` with `{"text": …}`, answered `200 ok`.
//!
//! The URL is the credential (whoever has it can post to the channel), so it comes from
//! `ORION_SLACK_WEBHOOK_URL`, is never printed (errors name its host only), and the client's
//! `Debug` hides it. Slack's documented failures: `400 invalid_payload`, `403
//! action_prohibited`, `404 no_service` / `channel_not_found`, `410 channel_is_archived` (all
//! final: the URL or the channel must change), `429` with `Retry-After`, and `5xx`. A 5xx, a
//! 429, a timeout or a failed connection is tried again with backoff (a `Retry-After` wins);
//! a webhook post cannot be looked up afterwards, so a timeout after Slack received the post
//! may show the report twice: delivery is at least once.

use std::time::Duration;

use reqwest::StatusCode;

use super::config::ReportConfig;
use crate::config::Secret;

/// Where the webhook URL comes from.
pub const SLACK_WEBHOOK_URL_ENV: &str = "ORION_SLACK_WEBHOOK_URL";

/// The longest `Retry-After` waited for within one delivery; a longer one fails the delivery as
/// transient and the heartbeat job retries it later.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Why a post did not go through.
#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// The webhook refused the message (4xx other than 429): retrying will not help; the URL,
    /// the channel or the app must be fixed.
    #[error(
        "the Slack webhook at {host} ({SLACK_WEBHOOK_URL_ENV}) refused the report: {status} {body}"
    )]
    Rejected {
        host: String,
        status: u16,
        body: String,
    },
    /// 5xx, 429, timeouts or network failures, still failing after the retries.
    #[error(
        "the Slack webhook at {host} ({SLACK_WEBHOOK_URL_ENV}) is unavailable after {attempts} attempt(s): {message}"
    )]
    Unavailable {
        host: String,
        attempts: u32,
        message: String,
    },
}

impl SlackError {
    /// Worth retrying later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The webhook, ready to post. Cheap to clone.
#[derive(Clone)]
pub struct SlackWebhook {
    http: reqwest::Client,
    url: Secret,
    host: String,
    timeout: Duration,
    max_retries: u32,
    backoff: crate::queue::Backoff,
}

impl std::fmt::Debug for SlackWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlackWebhook({} <url redacted>)", self.host)
    }
}

/// Why one try failed.
enum Try {
    Again(String, Option<Duration>),
    Final(SlackError),
}

impl SlackWebhook {
    /// The webhook at `url`, or what is wrong with the URL (without the URL itself).
    pub fn new(url: &Secret, config: &ReportConfig) -> Result<Self, String> {
        let parsed: http::Uri = url
            .expose()
            .trim()
            .parse()
            .map_err(|_| format!("{SLACK_WEBHOOK_URL_ENV} is not a URL"))?;
        let host = match (parsed.scheme_str(), parsed.host()) {
            (Some("http" | "https"), Some(host)) => host.to_owned(),
            _ => return Err(format!("{SLACK_WEBHOOK_URL_ENV} is not an http(s) URL")),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("orion-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the Slack HTTP client: {e}"))?;
        Ok(Self {
            http,
            url: Secret::new(url.expose().trim()),
            host,
            timeout: Duration::from_millis(config.slack_timeout_ms),
            max_retries: config.slack_max_retries,
            backoff: crate::queue::Backoff {
                base: Duration::from_millis(config.slack_retry_base_ms),
                max: Duration::from_millis(
                    config.slack_retry_max_ms.max(config.slack_retry_base_ms),
                ),
            },
        })
    }

    /// The webhook's host, for logs and errors.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Posts `payload` (`{"text": …}`), retrying what may succeed later.
    pub async fn post(&self, payload: &serde_json::Value) -> Result<(), SlackError> {
        let mut failures = 0u32;
        loop {
            let (message, retry_after) = match self.try_once(payload).await {
                Ok(()) => return Ok(()),
                Err(Try::Final(e)) => return Err(e),
                Err(Try::Again(message, retry_after)) => (message, retry_after),
            };
            failures += 1;
            let too_long = retry_after.is_some_and(|wait| wait > MAX_RETRY_AFTER);
            if failures > self.max_retries || too_long {
                return Err(SlackError::Unavailable {
                    host: self.host.clone(),
                    attempts: failures,
                    message,
                });
            }
            let pause =
                retry_after.unwrap_or_else(|| self.backoff.delay(failures, &mut rand::rng()));
            tracing::warn!(host = %self.host, attempt = failures, %message, wait_ms = pause.as_millis() as u64, "Slack webhook failed, retrying");
            tokio::time::sleep(pause).await;
        }
    }

    async fn try_once(&self, payload: &serde_json::Value) -> Result<(), Try> {
        let exchange = async {
            let response = self
                .http
                .post(self.url.expose())
                .json(payload)
                .send()
                .await?;
            let status = response.status();
            let retry_after = crate::llm::error::retry_after(response.headers());
            let body = response.text().await?;
            Ok::<_, reqwest::Error>((status, retry_after, body))
        };
        let (status, retry_after, body) = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => {
                return Err(Try::Again(
                    format!("no answer within {} ms", self.timeout.as_millis()),
                    None,
                ));
            }
            Ok(Err(e)) => {
                // The error names the URL, which is the secret: only its kind and cause go on.
                let e = e.without_url();
                return Err(Try::Again(
                    format!("network: {}", crate::forge::error_chain(&e)),
                    None,
                ));
            }
            Ok(Ok(answer)) => answer,
        };
        let body = crate::text::head(body.trim(), 200).to_owned();
        if status.is_success() {
            return Ok(());
        }
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Try::Again(
                format!("{} {body}", status.as_u16()),
                retry_after,
            ));
        }
        Err(Try::Final(SlackError::Rejected {
            host: self.host.clone(),
            status: status.as_u16(),
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_checked_and_never_shown() {
        let config = ReportConfig::default();
        let secret = "https://hooks.slack.com/services/T000/B000/XXXXSECRET";
        let hook = SlackWebhook::new(&Secret::new(secret), &config).unwrap();
        assert_eq!(hook.host(), "hooks.slack.com");
        assert!(!format!("{hook:?}").contains("XXXXSECRET"));
        let err =
            SlackWebhook::new(&Secret::new("hooks.slack.com/services/x"), &config).unwrap_err();
        assert!(err.contains(SLACK_WEBHOOK_URL_ENV), "{err}");
        let err = SlackWebhook::new(&Secret::new("ftp://h/x"), &config).unwrap_err();
        assert!(err.contains("http(s)"), "{err}");
        let rejected = SlackError::Rejected {
            host: "hooks.slack.com".into(),
            status: 404,
            body: "no_service".into(),
        };
        assert!(!rejected.is_transient());
        assert_eq!(
            rejected.to_string(),
            "the Slack webhook at hooks.slack.com (ORION_SLACK_WEBHOOK_URL) refused the report: 404 no_service"
        );
    }
}
