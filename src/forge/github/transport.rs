//! One authenticated GitHub API handle and the single place requests are sent, so timeouts,
//! retries and rate limits are handled once and the same way for every operation.
//!
//! **What is retried.** A request GitHub certainly did not act on is repeated: any read, and any
//! write GitHub refused with a rate limit (403/429 with `retry-after` or an exhausted
//! `x-ratelimit-remaining`). A 5xx, a timeout or a broken connection after a *write* was sent
//! leaves its outcome unknown (GitHub's 502s regularly come after the comment was created), so
//! unless the write is idempotent by nature (adding a label, a reaction, editing a body) it is
//! not blindly repeated: it fails as [`ForgeError::Ambiguous`] and the effect journal looks for
//! the effect before trying again. That is what makes "no duplicate comments or PRs" hold.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http::header::{ACCEPT, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::de::DeserializeOwned;

use super::GitHubConfig;
use super::conditional::{ReadCache, ReadCost, Stored};
use super::error::ForgeError;

/// GitHub's documented advice when a secondary rate limit comes without `retry-after`.
const SECONDARY_LIMIT_DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// Rate-limit waits per request, on top of the failure retries; a limit that keeps coming back
/// after this many waits is reported rather than waited on forever.
const MAX_RATE_LIMIT_WAITS: u32 = 5;
/// Pages of a list Orion reads at most (100 items each): GitHub itself caps PR files at 3,000.
pub(crate) const MAX_PAGES: usize = 50;

/// One request, described so it can be sent again.
pub(crate) struct Call {
    pub method: Method,
    /// Path and query below the API root, starting with `/`.
    pub path: String,
    pub body: Option<serde_json::Value>,
    pub accept: &'static str,
    /// Repeating it cannot create a second effect (reads, PATCH/PUT/DELETE, adding a label or a
    /// reaction), so a 5xx or timeout may be retried blindly.
    pub idempotent: bool,
    /// For error messages and logs: "creating a comment on octo/widgets#4".
    pub what: String,
    /// A conditional read: the ETag of the copy Orion holds. GitHub answers 304 Not Modified
    /// (free of rate limit) when it is still current.
    pub if_none_match: Option<String>,
}

pub(crate) const JSON: &str = "application/vnd.github+json";
pub(crate) const DIFF: &str = "application/vnd.github.diff";

impl Call {
    pub fn get(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            body: None,
            accept: JSON,
            idempotent: true,
            what: what.into(),
            if_none_match: None,
        }
    }

    /// A write; `idempotent` says whether repeating it is harmless.
    pub fn write(
        method: Method,
        path: impl Into<String>,
        body: serde_json::Value,
        idempotent: bool,
        what: impl Into<String>,
    ) -> Self {
        Self {
            method,
            path: path.into(),
            body: Some(body),
            accept: JSON,
            idempotent,
            what: what.into(),
            if_none_match: None,
        }
    }
}

/// A successful answer: a 2xx, or a 304 to a conditional read (with an empty body).
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// GitHub as one set of credentials sees it: the App itself (JWT), one installation, or a
/// personal access token. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    /// Shared, not cloned: cloning an `Octocrab` copies its token cache, so clones made before
    /// a token was minted would each mint their own.
    crab: Arc<Octocrab>,
    config: Arc<GitHubConfig>,
    /// Whose view of GitHub this is (`app`, `installation:42`, `token`): a conditional read's
    /// copy belongs to one view, since what GitHub answers depends on who asks.
    scope: Arc<str>,
}

/// Why one try failed, before deciding whether to try again.
enum Try {
    /// GitHub did not act on it (a read, or a write rejected up front): safe to repeat.
    Repeatable(String),
    /// It may have been acted on.
    Unknown(String),
    RateLimited {
        wait: Duration,
        message: String,
    },
    Final(ForgeError),
}

impl Api {
    pub(crate) fn new(crab: Octocrab, config: Arc<GitHubConfig>, scope: &str) -> Self {
        Self {
            crab: Arc::new(crab),
            config,
            scope: scope.into(),
        }
    }

    pub(crate) fn octocrab(&self) -> &Octocrab {
        &self.crab
    }

    /// Sends `call`, retrying what is safe to retry, and returns a 2xx answer or the error.
    pub(crate) async fn send(&self, call: &Call) -> Result<Answer, ForgeError> {
        let backoff = self.config.backoff();
        let max_wait = Duration::from_secs(self.config.max_rate_limit_wait_s);
        let (mut failures, mut waits) = (0u32, 0u32);
        loop {
            let outcome = self.try_once(call).await;
            let pause = match outcome {
                Ok(answer) => return Ok(answer),
                Err(Try::Final(e)) => return Err(e),
                Err(Try::Unknown(message)) if !call.idempotent => {
                    return Err(ForgeError::Ambiguous {
                        what: call.what.clone(),
                        message,
                    });
                }
                Err(Try::Repeatable(message) | Try::Unknown(message)) => {
                    failures += 1;
                    if failures > self.config.max_retries {
                        return Err(ForgeError::Unavailable {
                            what: call.what.clone(),
                            message,
                            attempts: failures,
                        });
                    }
                    tracing::warn!(what = %call.what, attempt = failures, %message, "GitHub call failed, retrying");
                    backoff.delay(failures, &mut rand::rng())
                }
                Err(Try::RateLimited { wait, message }) => {
                    waits += 1;
                    if wait > max_wait || waits > MAX_RATE_LIMIT_WAITS {
                        return Err(ForgeError::RateLimited {
                            what: call.what.clone(),
                            message,
                            reset_in: wait,
                        });
                    }
                    tracing::warn!(what = %call.what, wait_s = wait.as_secs_f64(), %message, "GitHub rate limit, waiting");
                    wait
                }
            };
            tokio::time::sleep(pause).await;
        }
    }

    async fn try_once(&self, call: &Call) -> Result<Answer, Try> {
        let mut builder = http::Request::builder()
            .method(call.method.clone())
            .uri(call.path.as_str())
            .header(ACCEPT, call.accept)
            .header(
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static("2022-11-28"),
            );
        if let Some(etag) = &call.if_none_match {
            builder = builder.header(http::header::IF_NONE_MATCH, etag.as_str());
        }
        let request = self
            .crab
            .build_request(builder, call.body.as_ref())
            .map_err(|e| Try::Final(ForgeError::Setup(format!("building {}: {e}", call.what))))?;
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let exchange = async {
            let response = self.crab.execute(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            Ok::<_, octocrab::Error>((parts, body))
        };
        let (parts, body) = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => {
                return Err(Try::Unknown(format!(
                    "no answer within {} ms",
                    timeout.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(transport_failure(e, &call.what)),
            Ok(Ok(exchange)) => exchange,
        };
        let status = parts.status;
        let not_modified = status == StatusCode::NOT_MODIFIED && call.if_none_match.is_some();
        if status.is_success() || not_modified {
            return Ok(Answer {
                status,
                headers: parts.headers,
                body,
            });
        }
        Err(classify(status, &parts.headers, &body, &call.what))
    }

    /// Sends `call` and reads the JSON answer as `T`.
    pub(crate) async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T, ForgeError> {
        let answer = self.send(call).await?;
        decode(&answer.body, &call.what)
    }

    /// Reads every page of a list (100 per page, following `Link: rel="next"`).
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<Vec<T>, ForgeError> {
        Ok(self.list_in(path, what, None, |page: Vec<T>| page).await?.0)
    }

    /// Reads every page of a list like [`Api::list`]; with `cache`, each page is asked for
    /// conditionally and an unchanged one (304) is read from the stored copy.
    pub(crate) async fn list_pages<T: DeserializeOwned>(
        &self,
        path: &str,
        what: &str,
        cache: Option<&ReadCache>,
    ) -> Result<(Vec<T>, ReadCost), ForgeError> {
        self.list_in(path, what, cache, |page: Vec<T>| page).await
    }

    /// [`Api::list_pages`] for the endpoints whose page is an object holding the list (check
    /// runs, an installation's repositories): `items_of` takes the list out of each page.
    pub(crate) async fn list_in<P: DeserializeOwned, T>(
        &self,
        path: &str,
        what: &str,
        cache: Option<&ReadCache>,
        items_of: impl Fn(P) -> Vec<T>,
    ) -> Result<(Vec<T>, ReadCost), ForgeError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=100"));
        let mut items = Vec::new();
        let mut cost = ReadCost::default();
        while let Some(path) = next.take() {
            let (body, link) = self.read_page(&path, what, cache, &mut cost).await?;
            let page: P = decode(&body, what)?;
            items.extend(items_of(page));
            if (cost.requests as usize) < MAX_PAGES {
                next = link;
            }
        }
        Ok((items, cost))
    }

    /// One page's body and the path of the page after it, conditionally when `cache` is given.
    pub(crate) async fn read_page(
        &self,
        path: &str,
        what: &str,
        cache: Option<&ReadCache>,
        cost: &mut ReadCost,
    ) -> Result<(Bytes, Option<String>), ForgeError> {
        let key = format!("{} {path}", self.scope);
        let held = match cache {
            Some(cache) => cache.get(&key).await,
            None => None,
        };
        let mut call = Call::get(path, what);
        call.if_none_match = held.as_ref().map(|c| c.etag.clone());
        let answer = self.send(&call).await?;
        cost.requests += 1;
        if let (Some(cache), Some(held)) = (cache, held)
            && answer.status == StatusCode::NOT_MODIFIED
        {
            cost.not_modified += 1;
            cache.touch(&key).await;
            return Ok((Bytes::from(held.body), held.next_page));
        }
        let link = next_page(&answer.headers);
        let etag = answer
            .headers
            .get(http::header::ETAG)
            .and_then(|v| v.to_str().ok());
        if let (Some(cache), Some(etag)) = (cache, etag) {
            let copy = Stored {
                etag: etag.to_owned(),
                body: answer.body.to_vec(),
                next_page: link.clone(),
            };
            cache.put(&key, &copy).await;
        }
        Ok((answer.body, link))
    }
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ForgeError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| ForgeError::Decode {
        what: what.to_owned(),
        message: format!("at {}: {}", e.path(), e.inner()),
    })
}

/// The path and query of the `rel="next"` link. Only the path is kept: the API root (and the
/// credentials with it) are never handed to a host a header named.
fn next_page(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(http::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        if !params.split(';').any(|p| p.trim() == "rel=\"next\"") {
            return None;
        }
        let url = target.trim().trim_start_matches('<').trim_end_matches('>');
        let uri: http::Uri = url.parse().ok()?;
        uri.path_and_query().map(|pq| pq.as_str().to_owned())
    })
}

/// A failure before an HTTP answer arrived. Minting the installation token happens inside
/// octocrab's `execute`; its failures come back as `Error::GitHub` and mean the actual request
/// was never sent.
fn transport_failure(error: octocrab::Error, what: &str) -> Try {
    match &error {
        octocrab::Error::GitHub { source, .. } => {
            let status = source.status_code;
            let message = format!(
                "minting an installation token: {} {}",
                status.as_u16(),
                source.message
            );
            if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                Try::Repeatable(message)
            } else if status == StatusCode::NOT_FOUND {
                Try::Final(ForgeError::Setup(format!(
                    "{what}: the GitHub App is not installed there (or the installation id is wrong): {message}"
                )))
            } else {
                Try::Final(ForgeError::Unauthorized {
                    what: what.to_owned(),
                    message,
                })
            }
        }
        octocrab::Error::JWT { .. } => Try::Final(ForgeError::Setup(format!(
            "{what}: signing the GitHub App token failed: {error}"
        ))),
        _ => Try::Unknown(format!("network: {}", crate::forge::error_chain(&error))),
    }
}

/// GitHub's error body: `{"message": …, "errors": […], "documentation_url": …}`.
#[derive(serde::Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<serde_json::Value>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8], what: &str) -> Try {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = if parsed.message.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_owned()
    } else {
        parsed.message.clone()
    };
    let what = what.to_owned();
    if (status == StatusCode::FORBIDDEN || status == StatusCode::TOO_MANY_REQUESTS)
        && let Some(wait) = rate_limit_wait(status, headers, &message)
    {
        return Try::RateLimited {
            wait,
            message: format!("{} {message}", status.as_u16()),
        };
    }
    if status.is_server_error() {
        return Try::Unknown(format!("{} {message}", status.as_u16()));
    }
    Try::Final(match status {
        StatusCode::NOT_FOUND => ForgeError::NotFound { what },
        StatusCode::UNAUTHORIZED => ForgeError::Unauthorized { what, message },
        StatusCode::FORBIDDEN => ForgeError::Forbidden { what, message },
        StatusCode::UNPROCESSABLE_ENTITY => ForgeError::Validation {
            what,
            message,
            details: parsed.errors.iter().map(validation_detail).collect(),
        },
        _ => ForgeError::Rejected {
            what,
            status: status.as_u16(),
            message,
        },
    })
}

/// GitHub lists 422 reasons as strings or as `{resource, field, code, message}` objects.
fn validation_detail(error: &serde_json::Value) -> String {
    match error {
        serde_json::Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let field = |k: &str| other.get(k).and_then(|v| v.as_str()).unwrap_or("?");
                format!("{} {} {}", field("resource"), field("field"), field("code"))
            }),
    }
}

/// How long a 403/429 asks Orion to wait, or `None` when it is not a rate limit (a 403 for a
/// missing permission must fail, not be waited on).
///
/// GitHub's rules: `retry-after` (seconds) wins; otherwise `x-ratelimit-remaining: 0` means the
/// primary limit, reset at `x-ratelimit-reset` (Unix seconds); otherwise a secondary limit
/// (recognised by its message, or any 429) means "wait at least a minute".
fn rate_limit_wait(status: StatusCode, headers: &HeaderMap, message: &str) -> Option<Duration> {
    if let Some(secs) = header_u64(headers, "retry-after") {
        return Some(Duration::from_secs(secs.max(1)));
    }
    if header_u64(headers, "x-ratelimit-remaining") == Some(0) {
        let reset = header_u64(headers, "x-ratelimit-reset")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        // One second past the reset: GitHub's clock and ours disagree by a little.
        return Some(Duration::from_secs(reset.saturating_sub(now) + 1));
    }
    let lower = message.to_ascii_lowercase();
    if status == StatusCode::TOO_MANY_REQUESTS || lower.contains("secondary rate limit") {
        return Some(SECONDARY_LIMIT_DEFAULT_WAIT);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn rate_limits_are_told_apart_from_missing_permissions() {
        let forbidden = StatusCode::FORBIDDEN;
        assert_eq!(
            rate_limit_wait(forbidden, &headers(&[("retry-after", "7")]), ""),
            Some(Duration::from_secs(7))
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let primary = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &(now + 30).to_string()),
        ]);
        let wait = rate_limit_wait(forbidden, &primary, "API rate limit exceeded").unwrap();
        assert!((30..=32).contains(&wait.as_secs()), "{wait:?}");
        assert_eq!(
            rate_limit_wait(
                forbidden,
                &headers(&[("x-ratelimit-remaining", "4999")]),
                "You have exceeded a secondary rate limit. Please wait a few minutes."
            ),
            Some(SECONDARY_LIMIT_DEFAULT_WAIT)
        );
        assert_eq!(
            rate_limit_wait(
                forbidden,
                &headers(&[("x-ratelimit-remaining", "4999")]),
                "Resource not accessible by integration"
            ),
            None
        );
        assert_eq!(
            rate_limit_wait(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), ""),
            Some(SECONDARY_LIMIT_DEFAULT_WAIT)
        );
    }

    #[test]
    fn next_link_keeps_only_the_path() {
        let h = headers(&[(
            "link",
            "<https://evil.example/repos/o/r/issues/1/comments?per_page=100&page=2>; rel=\"next\", <https://api.github.com/repos/o/r/issues/1/comments?per_page=100&page=5>; rel=\"last\"",
        )]);
        assert_eq!(
            next_page(&h).as_deref(),
            Some("/repos/o/r/issues/1/comments?per_page=100&page=2")
        );
        let last_only = headers(&[("link", "<https://api.github.com/x?page=1>; rel=\"prev\"")]);
        assert_eq!(next_page(&last_only), None);
    }

    #[test]
    fn validation_details_read_both_shapes() {
        let body = br#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for octo:orion/1-x."},"Pull request review thread line must be part of the diff",{"resource":"Issue","field":"title","code":"missing_field"}]}"#;
        let Try::Final(err) = classify(
            StatusCode::UNPROCESSABLE_ENTITY,
            &HeaderMap::new(),
            body,
            "x",
        ) else {
            panic!("422 is final");
        };
        assert!(err.is_already_exists());
        let text = err.to_string();
        assert!(text.contains("must be part of the diff"), "{text}");
        assert!(text.contains("Issue title missing_field"), "{text}");
    }
}
