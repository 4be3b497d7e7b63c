//! What can go wrong in a model call, as the variants the router branches on: wait and retry,
//! try another model, or give up on the task.
//!
//! [`ProviderError::from_response`] turns an HTTP error answer of either provider into a variant,
//! from the status, the error body (`{"error":{"type","code","message"}}` for OpenAI,
//! `{"type":"error","error":{"type","message"},"request_id"}` for Anthropic) and the headers.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::config::Provider;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// 429. `retry_after` from `retry-after`/`retry-after-ms`, or from OpenAI's "try again in 20s".
    #[error("rate limited{}: {message}", wait(*retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Anthropic's 529 (or an `overloaded_error` event mid-stream): the provider is saturated.
    #[error("overloaded{}: {message}", wait(*retry_after))]
    Overloaded {
        retry_after: Option<Duration>,
        message: String,
    },
    /// Any other 5xx.
    #[error("server error {status}: {message}")]
    Server { status: u16, message: String },
    /// No answer in time (our timeout, a 408/504, or the provider's `timeout_error`).
    #[error("timed out: {message}")]
    Timeout { message: String },
    /// Connection refused, reset, DNS: the provider could not be reached at all.
    #[error("unreachable: {message}")]
    Unreachable { message: String },
    /// The prompt does not fit the model's context window: only a larger window helps.
    #[error("context too long: {message}")]
    ContextTooLong { message: String },
    /// The provider rejected the request itself (a 400/404/422 that is not about length).
    #[error("invalid request ({status}): {message}")]
    InvalidRequest { status: u16, message: String },
    /// 401/403: the key is wrong, revoked, or lacks access to the model.
    #[error("authentication failed ({status}): {message}")]
    Auth { status: u16, message: String },
    /// Out of credit or quota on the provider's side (not Orion's budget).
    #[error("billing or quota: {message}")]
    Billing { message: String },
    /// The answer could not be used: not JSON, tool arguments that are not JSON, a schema miss.
    #[error("malformed output: {message}")]
    MalformedOutput { message: String },
    /// Orion's own circuit breaker: the model failed repeatedly and is cooling down.
    #[error("circuit open for {model}: cooling down for {}s more", retry_in.as_secs())]
    CircuitOpen { model: String, retry_in: Duration },
}

fn wait(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {} ms)", d.as_millis()))
        .unwrap_or_default()
}

impl ProviderError {
    /// Worth retrying the same model after a pause.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Overloaded { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Unreachable { .. }
        )
    }

    /// Counts towards opening the model's circuit: the model (not the request) is failing.
    pub fn trips_breaker(&self) -> bool {
        self.is_transient() || matches!(self, Self::Auth { .. } | Self::Billing { .. })
    }

    /// How long the provider asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Overloaded { retry_after, .. } => {
                *retry_after
            }
            Self::CircuitOpen { retry_in, .. } => Some(*retry_in),
            _ => None,
        }
    }

    /// A short stable name for ledgers, metrics and the routing history.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "rate_limited",
            Self::Overloaded { .. } => "overloaded",
            Self::Server { .. } => "server_error",
            Self::Timeout { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::ContextTooLong { .. } => "context_too_long",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::Auth { .. } => "auth",
            Self::Billing { .. } => "billing",
            Self::MalformedOutput { .. } => "malformed_output",
            Self::CircuitOpen { .. } => "circuit_open",
        }
    }

    /// Classifies an error answer. `body` may be anything: a proxy's HTML page still yields a
    /// variant from the status.
    pub fn from_response(provider: Provider, status: u16, headers: &HeaderMap, body: &str) -> Self {
        let detail = ErrorDetail::parse(body);
        let message = match (&detail.message, &detail.request_id) {
            (Some(m), Some(id)) => format!("{m} (request {id})"),
            (Some(m), None) => m.clone(),
            (None, _) => {
                let snippet: String = body.chars().take(200).collect();
                if snippet.trim().is_empty() {
                    format!("HTTP {status} with an empty body")
                } else {
                    format!("HTTP {status}: {snippet}")
                }
            }
        };
        let lower = message.to_lowercase();
        let kind = detail.kind.as_deref().unwrap_or("");
        let code = detail.code.as_deref().unwrap_or("");
        let retry_after = retry_after(headers).or_else(|| {
            // OpenAI states the wait in the message; its headers do not always carry it.
            detail.message.as_deref().and_then(wait_in_message)
        });

        if code == "insufficient_quota"
            || kind == "billing_error"
            || status == 402
            || lower.contains("credit balance")
        {
            return Self::Billing { message };
        }
        if code == "context_length_exceeded"
            || lower.contains("prompt is too long")
            || lower.contains("maximum context length")
            || lower.contains("context window")
        {
            return Self::ContextTooLong { message };
        }
        match (status, kind) {
            (_, "overloaded_error") | (529, _) => Self::Overloaded {
                retry_after,
                message,
            },
            (_, "rate_limit_error") | (429, _) => Self::RateLimited {
                retry_after,
                message,
            },
            (_, "authentication_error" | "permission_error") | (401 | 403, _) => {
                Self::Auth { status, message }
            }
            (_, "timeout_error") | (408 | 504, _) => Self::Timeout { message },
            (_, "api_error") | (500..=599, _) => Self::Server { status, message },
            _ => {
                // An Anthropic error *event* inside a 200 stream carries its type but no status.
                let _ = provider;
                Self::InvalidRequest { status, message }
            }
        }
    }
}

/// The fields both providers' error bodies share in some spelling.
#[derive(Debug, Default)]
struct ErrorDetail {
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

impl ErrorDetail {
    fn parse(body: &str) -> Self {
        #[derive(Deserialize)]
        struct Body {
            error: Option<Inner>,
            request_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct Inner {
            #[serde(rename = "type")]
            kind: Option<String>,
            code: Option<serde_json::Value>,
            message: Option<String>,
        }
        let Ok(b) = serde_json::from_str::<Body>(body) else {
            return Self::default();
        };
        let Some(e) = b.error else {
            return Self::default();
        };
        Self {
            kind: e.kind,
            code: e.code.map(|c| match c {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            message: e.message,
            request_id: b.request_id,
        }
    }
}

/// `retry-after-ms` (OpenAI), else `retry-after` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Duration::try_from_secs_f64(ms / 1000.0).ok();
    }
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Reads "Please try again in 20s." / "in 125ms." / "in 1m30.5s." from an OpenAI message.
pub fn wait_in_message(message: &str) -> Option<Duration> {
    let at = message.find("try again in ")? + "try again in ".len();
    let token: String = message[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let token = token.trim_end_matches('.');
    let mut total = 0.0f64;
    let mut rest = token;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * factor;
        any = true;
    }
    if any {
        Duration::try_from_secs_f64(total).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_in_openai_messages() {
        let s = |m: &str| wait_in_message(m).map(|d| d.as_millis());
        assert_eq!(s("Please try again in 20s. Visit"), Some(20_000));
        assert_eq!(s("Please try again in 125ms. Visit"), Some(125));
        assert_eq!(s("try again in 1m30.5s."), Some(90_500));
        assert_eq!(s("try again later"), None);
        assert_eq!(s("no hint"), None);
    }

    #[test]
    fn retry_after_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = HeaderMap::new();
        let later = SystemTime::now() + Duration::from_secs(120);
        h.insert(
            "retry-after",
            httpdate::fmt_http_date(later).parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn statuses_without_bodies_still_classify() {
        let h = HeaderMap::new();
        let e = |status| ProviderError::from_response(Provider::Openai, status, &h, "<html>");
        assert_eq!(e(502).kind(), "server_error");
        assert_eq!(e(401).kind(), "auth");
        assert_eq!(e(504).kind(), "timeout");
        assert_eq!(e(404).kind(), "invalid_request");
        assert_eq!(e(529).kind(), "overloaded");
        assert_eq!(e(429).kind(), "rate_limited");
        assert!(e(502).to_string().contains("<html>"));
    }

    #[test]
    fn context_and_quota_errors() {
        let h = HeaderMap::new();
        let openai = r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
        assert_eq!(
            ProviderError::from_response(Provider::Openai, 400, &h, openai).kind(),
            "context_too_long"
        );
        let anthropic = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"}}"#;
        assert_eq!(
            ProviderError::from_response(Provider::Anthropic, 400, &h, anthropic).kind(),
            "context_too_long"
        );
        let quota = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
        assert_eq!(
            ProviderError::from_response(Provider::Openai, 429, &h, quota).kind(),
            "billing"
        );
        // Anthropic reports an empty account as an invalid request.
        let credit = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}"#;
        assert_eq!(
            ProviderError::from_response(Provider::Anthropic, 400, &h, credit).kind(),
            "billing"
        );
    }

    #[test]
    fn absurd_waits_do_not_panic() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "1e20".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", "1e25".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        assert_eq!(wait_in_message("try again in 99999999999999999999h."), None);
    }
}
