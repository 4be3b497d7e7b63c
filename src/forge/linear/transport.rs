//! The single place GraphQL requests are sent, so timeouts, retries and rate limits are handled
//! once and the same way for every operation.
//!
//! **Linear's wire rules** (sources: Linear's rate-limiting page,
//! <https://linear.app/developers/rate-limiting>, as summarised from the page in a public
//! fetched copy; and Linear's GraphQL docs, <https://linear.app/developers/graphql>):
//! - One endpoint, `POST {api_url}/graphql`, JSON `{query, variables}`. A personal API key goes
//!   in `Authorization` as is; an OAuth access token as `Bearer <token>`.
//! - Errors come back as GraphQL `errors` (`message`, `extensions.code`, `extensions.type`,
//!   `extensions.userPresentableMessage`), typically with HTTP 200: the status alone says
//!   nothing, so every answer's `errors` is read.
//! - Over a limit, Linear answers HTTP **400** (not 429) with an error whose `extensions.code`
//!   is `RATELIMITED`. Every answer carries `X-RateLimit-Requests-{Limit,Remaining,Reset}` and
//!   `X-RateLimit-Complexity-{Limit,Remaining,Reset}`, resets in UTC epoch **milliseconds**;
//!   endpoint-specific limits add `X-RateLimit-Endpoint-Requests-{Limit,Remaining,Reset}`. The
//!   limits are leaky buckets refilled over an hour (API keys: 2,500 requests and 3,000,000
//!   complexity points per hour per user; one query at most 10,000 points).
//!
//! **What is retried.** A request Linear certainly did not act on is repeated: any query, and any
//! request refused with `RATELIMITED`. A 5xx, a timeout or a broken connection after a mutation
//! was sent leaves its outcome unknown, so unless the mutation is idempotent by nature (editing a
//! comment, setting a state, adding a label) it fails as [`LinearError::Ambiguous`] and the
//! caller (the sticky comment's journal) looks for the effect before trying again.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::client::LinearAuth;
use super::error::LinearError;
use crate::config::LinearConfig;

/// Used when a rate-limited answer names no reset time in the future: Linear's buckets refill
/// continuously, so a minute frees a useful share of them.
const RATE_LIMIT_DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// Rate-limit waits per request, on top of the failure retries.
const MAX_RATE_LIMIT_WAITS: u32 = 5;
/// The reset headers Linear may send, each a UTC epoch in milliseconds. The longest wait wins:
/// whichever bucket is empty must refill.
const RESET_HEADERS: [&str; 3] = [
    "x-ratelimit-requests-reset",
    "x-ratelimit-complexity-reset",
    "x-ratelimit-endpoint-requests-reset",
];

/// One GraphQL operation, described so it can be sent again.
pub(crate) struct Call {
    /// The operation name in `document` (`query IssueRead(…)`), for logs, errors and the fake.
    pub operation: &'static str,
    pub document: &'static str,
    pub variables: serde_json::Value,
    /// Repeating it cannot create a second effect (queries, updates), so a 5xx or timeout may be
    /// retried blindly.
    pub idempotent: bool,
}

/// Linear as one key sees it. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Transport {
    http: reqwest::Client,
    endpoint: String,
    auth: Arc<LinearAuth>,
    config: Arc<LinearConfig>,
}

/// Why one try failed, before deciding whether to try again.
enum Try {
    /// Linear did not act on it: safe to repeat.
    Repeatable(String),
    /// It may have been acted on.
    Unknown(String),
    RateLimited {
        wait: Duration,
        message: String,
    },
    Final(LinearError),
}

/// Linear's answer envelope.
#[derive(serde::Deserialize, Default)]
struct Envelope {
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<GraphQlError>,
}

#[derive(serde::Deserialize, Default, Clone)]
struct GraphQlError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    extensions: Extensions,
}

#[derive(serde::Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
struct Extensions {
    code: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    user_presentable_message: Option<String>,
}

impl GraphQlError {
    fn code(&self) -> &str {
        self.extensions.code.as_deref().unwrap_or("")
    }
    fn text(&self) -> String {
        match &self.extensions.user_presentable_message {
            Some(m) if !m.is_empty() && m != &self.message => format!("{} ({m})", self.message),
            _ => self.message.clone(),
        }
    }
    fn is_authentication(&self) -> bool {
        self.code().eq_ignore_ascii_case("AUTHENTICATION_ERROR")
            || self
                .extensions
                .kind
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().contains("authentication"))
    }
}

impl Transport {
    pub(crate) fn new(config: &LinearConfig, auth: LinearAuth) -> Result<Self, LinearError> {
        let root = config.api_url.trim_end_matches('/');
        let uri: http::Uri = root
            .parse()
            .map_err(|e| LinearError::Setup(format!("linear.api_url {root:?}: {e}")))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
            return Err(LinearError::Setup(format!(
                "linear.api_url {root:?} is not an http(s) URL"
            )));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("orion-bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| LinearError::Setup(format!("building the Linear HTTP client: {e}")))?;
        Ok(Self {
            http,
            endpoint: format!("{root}/graphql"),
            auth: Arc::new(auth),
            config: Arc::new(config.clone()),
        })
    }

    pub(crate) fn config(&self) -> &LinearConfig {
        &self.config
    }

    pub(crate) fn backoff(&self) -> crate::queue::Backoff {
        crate::queue::Backoff {
            base: Duration::from_millis(self.config.retry_base_ms),
            max: Duration::from_millis(self.config.retry_max_ms.max(self.config.retry_base_ms)),
        }
    }

    /// Sends `call`, retrying what is safe to retry, and reads its `data` as `T`.
    pub(crate) async fn run<T: DeserializeOwned>(&self, call: &Call) -> Result<T, LinearError> {
        let data = self.send(call).await?;
        serde_path_to_error::deserialize(data).map_err(|e| LinearError::Decode {
            operation: call.operation.to_owned(),
            message: format!("at {}: {}", e.path(), e.inner()),
        })
    }

    async fn send(&self, call: &Call) -> Result<serde_json::Value, LinearError> {
        let backoff = self.backoff();
        let max_wait = Duration::from_secs(self.config.max_rate_limit_wait_s);
        let (mut failures, mut waits) = (0u32, 0u32);
        let operation = || call.operation.to_owned();
        loop {
            let pause = match self.try_once(call).await {
                Ok(data) => return Ok(data),
                Err(Try::Final(e)) => return Err(e),
                Err(Try::Unknown(message)) if !call.idempotent => {
                    return Err(LinearError::Ambiguous {
                        operation: operation(),
                        message,
                    });
                }
                Err(Try::Repeatable(message) | Try::Unknown(message)) => {
                    failures += 1;
                    if failures > self.config.max_retries {
                        return Err(LinearError::Unavailable {
                            operation: operation(),
                            message,
                            attempts: failures,
                        });
                    }
                    tracing::warn!(operation = call.operation, attempt = failures, %message, "Linear call failed, retrying");
                    backoff.delay(failures, &mut rand::rng())
                }
                Err(Try::RateLimited { wait, message }) => {
                    waits += 1;
                    if wait > max_wait || waits > MAX_RATE_LIMIT_WAITS {
                        return Err(LinearError::RateLimited {
                            operation: operation(),
                            message,
                            reset_in: wait,
                        });
                    }
                    tracing::warn!(operation = call.operation, wait_s = wait.as_secs_f64(), %message, "Linear rate limit, waiting");
                    wait
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    async fn try_once(&self, call: &Call) -> Result<serde_json::Value, Try> {
        let body = serde_json::json!({
            "query": call.document,
            "variables": call.variables,
            "operationName": call.operation,
        });
        let request = self
            .http
            .post(&self.endpoint)
            .header(reqwest::header::AUTHORIZATION, self.auth.header_value())
            .json(&body);
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, bytes))
        };
        let (status, headers, bytes) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(Try::Unknown(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                )));
            }
            // A refused connection never reached Linear; anything later might have.
            Ok(Err(e)) if e.is_connect() => {
                return Err(Try::Repeatable(format!(
                    "connecting: {}",
                    crate::forge::error_chain(&e)
                )));
            }
            Ok(Err(e)) => {
                return Err(Try::Unknown(format!(
                    "network: {}",
                    crate::forge::error_chain(&e)
                )));
            }
            Ok(Ok(exchange)) => exchange,
        };
        classify(
            status,
            &headers,
            &bytes,
            call.operation,
            crate::store::now_ms() as u64,
        )
    }
}

/// One answer, sorted into data or a reason to stop, retry or wait.
fn classify(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    operation: &str,
    now_ms: u64,
) -> Result<serde_json::Value, Try> {
    let envelope: Option<Envelope> = serde_json::from_slice(body).ok();
    let errors = envelope
        .as_ref()
        .map(|e| e.errors.clone())
        .unwrap_or_default();
    let first_text = || {
        errors.first().map(GraphQlError::text).unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(200)])
                .trim()
                .to_owned()
        })
    };
    let op = operation.to_owned();
    if let Some(limited) = errors.iter().find(|e| e.code() == "RATELIMITED") {
        return Err(Try::RateLimited {
            wait: rate_limit_wait(headers, now_ms),
            message: format!("{} {}", status.as_u16(), limited.text()),
        });
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(Try::RateLimited {
            wait: rate_limit_wait(headers, now_ms),
            message: format!("429 {}", first_text()),
        });
    }
    if status.is_server_error() {
        return Err(Try::Unknown(format!(
            "{} {}",
            status.as_u16(),
            first_text()
        )));
    }
    if status == StatusCode::UNAUTHORIZED || errors.iter().any(GraphQlError::is_authentication) {
        return Err(Try::Final(LinearError::Unauthorized {
            operation: op,
            message: first_text(),
        }));
    }
    if let Some(error) = errors.first() {
        let code = error.code().to_ascii_uppercase();
        return Err(Try::Final(
            if status == StatusCode::FORBIDDEN || code == "FORBIDDEN" {
                LinearError::Forbidden {
                    operation: op,
                    message: error.text(),
                }
            } else if let Some(what) = error.message.strip_prefix("Entity not found") {
                LinearError::NotFound {
                    operation: op,
                    what: what.trim_start_matches(':').trim().to_owned(),
                }
            } else {
                LinearError::GraphQl {
                    operation: op,
                    code: error.extensions.code.clone(),
                    message: error.text(),
                }
            },
        ));
    }
    if !status.is_success() {
        return Err(Try::Final(LinearError::Rejected {
            operation: op,
            status: status.as_u16(),
            message: first_text(),
        }));
    }
    match envelope.and_then(|e| e.data) {
        Some(data) if !data.is_null() => Ok(data),
        _ => Err(Try::Final(LinearError::Decode {
            operation: op,
            message: format!("no data and no errors: {}", first_text()),
        })),
    }
}

/// How long a rate-limited answer asks Orion to wait: until the latest reset header in the
/// future (epoch milliseconds), plus a little for clock skew; `retry-after` (seconds) if only that
/// is present; otherwise a minute.
fn rate_limit_wait(headers: &HeaderMap, now_ms: u64) -> Duration {
    let header = |name: &str| -> Option<u64> {
        headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()
            .map(|v| v as u64)
    };
    let latest_reset = RESET_HEADERS.iter().filter_map(|h| header(h)).max();
    if let Some(reset) = latest_reset.filter(|r| *r > now_ms) {
        return Duration::from_millis(reset - now_ms + 250);
    }
    if let Some(secs) = header("retry-after") {
        return Duration::from_secs(secs.max(1));
    }
    if latest_reset.is_some() {
        // The bucket has already refilled by the header's account: go again after a breath.
        return Duration::from_secs(1);
    }
    RATE_LIMIT_DEFAULT_WAIT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn linear_rate_limits_wait_for_the_latest_reset_in_milliseconds() {
        let now = 1_700_000_000_000u64;
        let h = headers(&[
            ("x-ratelimit-requests-reset", (now + 4_000).to_string()),
            ("x-ratelimit-complexity-reset", (now + 9_000).to_string()),
        ]);
        assert_eq!(rate_limit_wait(&h, now), Duration::from_millis(9_250));
        let past = headers(&[("x-ratelimit-requests-reset", (now - 5).to_string())]);
        assert_eq!(rate_limit_wait(&past, now), Duration::from_secs(1));
        assert_eq!(
            rate_limit_wait(&HeaderMap::new(), now),
            RATE_LIMIT_DEFAULT_WAIT
        );
    }

    #[test]
    fn a_400_with_ratelimited_is_a_wait_and_other_errors_name_the_operation() {
        let limited = br#"{"errors":[{"message":"Rate limit exceeded","extensions":{"code":"RATELIMITED"}}]}"#;
        let answer = classify(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            limited,
            "IssueRead",
            0,
        );
        assert!(matches!(answer, Err(Try::RateLimited { .. })));

        let refused = br#"{"data":null,"errors":[{"message":"Argument Validation Error","extensions":{"code":"INVALID_INPUT","userPresentableMessage":"Body is too long."}}]}"#;
        let Err(Try::Final(e)) = classify(
            StatusCode::OK,
            &HeaderMap::new(),
            refused,
            "CommentCreate",
            0,
        ) else {
            panic!("GraphQL errors are final");
        };
        let text = e.to_string();
        assert!(
            text.contains("CommentCreate") && text.contains("Body is too long"),
            "{text}"
        );

        let missing = br#"{"errors":[{"message":"Entity not found: Issue","extensions":{"code":"INVALID_INPUT"}}]}"#;
        let Err(Try::Final(e)) =
            classify(StatusCode::OK, &HeaderMap::new(), missing, "IssueRead", 0)
        else {
            panic!("not found is final");
        };
        assert!(
            matches!(e, LinearError::NotFound { ref what, .. } if what == "Issue"),
            "{e}"
        );
    }
}
