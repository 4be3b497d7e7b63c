//! The HTTP edge: `POST /graphql`, authentication, fault injection, rate-limit headers and the
//! request log around every operation.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::model::{GqlError, KeyKind, Model};
use super::operations;

/// One way Linear can fail a request, aimed at one operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 400 with a `RATELIMITED` error and `X-RateLimit-Requests-Reset` this far ahead, as
    /// Linear answers an exhausted bucket. Nothing is applied.
    RateLimited { reset_in: Duration },
    /// A 5xx before anything is applied: a retry is always safe.
    ServerError(u16),
    /// The operation is applied, then a 5xx: the ambiguous case for a mutation.
    ServerErrorAfterApply(u16),
    /// The operation is applied, then the answer comes after this delay, to trip client timeouts.
    SlowAfterApply(Duration),
    /// HTTP 200 with an `INVALID_INPUT` GraphQL error carrying this message, as Linear refuses a
    /// mutation whose input it rejects. Nothing is applied.
    Refuse(String),
}

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// The operation name from the document (`None` if it had none).
    pub operation: Option<String>,
    pub variables: Value,
    pub status: u16,
    /// Whether the `Authorization` header named a known key in its right form.
    pub authenticated: bool,
}

#[derive(Default)]
pub(super) struct Traffic {
    pub faults: Vec<(String, Fault)>,
    pub records: Vec<RequestRecord>,
}

pub(super) struct Shared {
    model: Mutex<Model>,
    traffic: Mutex<Traffic>,
}

impl Shared {
    pub fn new(model: Model) -> Self {
        Self {
            model: Mutex::new(model),
            traffic: Mutex::default(),
        }
    }
    pub fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn traffic(&self) -> MutexGuard<'_, Traffic> {
        self.traffic.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/graphql", post(graphql))
        .with_state(shared)
}

/// The operation name of a document: `query IssueRead(…)` → `IssueRead`.
fn operation_name(document: &str) -> Option<String> {
    let mut words = document
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    while let Some(word) = words.next() {
        if word == "query" || word == "mutation" {
            return words.next().map(str::to_owned);
        }
    }
    None
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Linear's request-quota headers, which it sends on every answer.
fn quota_headers(remaining: u64, reset_ms: u64) -> [(&'static str, HeaderValue); 3] {
    [
        ("x-ratelimit-requests-limit", HeaderValue::from(2500u64)),
        (
            "x-ratelimit-requests-remaining",
            HeaderValue::from(remaining),
        ),
        ("x-ratelimit-requests-reset", HeaderValue::from(reset_ms)),
    ]
}

fn gql_response(status: u16, body: Value, remaining: u64, reset_ms: u64) -> Response {
    let mut response = (
        StatusCode::from_u16(status).expect("a valid status"),
        axum::Json(body),
    )
        .into_response();
    for (name, value) in quota_headers(remaining, reset_ms) {
        response.headers_mut().insert(name, value);
    }
    response
}

async fn graphql(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let document = request.get("query").and_then(Value::as_str).unwrap_or("");
    let variables = request.get("variables").cloned().unwrap_or(json!({}));
    let operation = operation_name(document);
    let viewer = {
        let model = shared.model();
        let header = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (presented, kind) = match header.strip_prefix("Bearer ") {
            Some(token) => (token, KeyKind::OAuth),
            None => (header, KeyKind::Personal),
        };
        model
            .keys
            .get(presented)
            .filter(|(_, k)| *k == kind)
            .map(|(user, _)| user.clone())
    };
    let authenticated = viewer.is_some();
    let record = |status: u16| RequestRecord {
        operation: operation.clone(),
        variables: variables.clone(),
        status,
        authenticated,
    };
    let reset_soon = now_ms() + 3_600_000;
    let Some(viewer) = viewer else {
        // Linear's answer to a missing or wrong key: a GraphQL error coded AUTHENTICATION_ERROR.
        let error = GqlError {
            status: 400,
            message: "Authentication required, not authenticated".into(),
            kind: "authentication error",
            code: "AUTHENTICATION_ERROR",
            user_message: "You need to authenticate to access this operation.".into(),
        };
        shared.traffic().records.push(record(400));
        return gql_response(400, error.body(), 2499, reset_soon);
    };
    let fault = {
        let mut traffic = shared.traffic();
        let name = operation.as_deref().unwrap_or("");
        traffic
            .faults
            .iter()
            .position(|(op, _)| op == name)
            .map(|i| traffic.faults.remove(i).1)
    };
    match &fault {
        Some(Fault::RateLimited { reset_in }) => {
            shared.traffic().records.push(record(400));
            let body = json!({ "errors": [{
                "message": "Rate limit exceeded",
                "extensions": { "type": "ratelimited", "code": "RATELIMITED", "userError": true,
                    "userPresentableMessage": "Too many requests. Please wait before trying again." }
            }] });
            return gql_response(400, body, 0, now_ms() + reset_in.as_millis() as u64);
        }
        Some(Fault::Refuse(message)) => {
            shared.traffic().records.push(record(200));
            let error = GqlError::invalid_input("Argument Validation Error", message.clone());
            return gql_response(200, error.body(), 2499, reset_soon);
        }
        Some(Fault::ServerError(status)) => {
            shared.traffic().records.push(record(*status));
            return (
                StatusCode::from_u16(*status).unwrap(),
                "upstream connect error or disconnect/reset before headers",
            )
                .into_response();
        }
        _ => {}
    }
    let result = {
        let mut model = shared.model();
        match operation.as_deref() {
            None => Err(GqlError::validation(
                "The fake Linear needs a named operation (query Name { … })",
            )),
            Some(name) => operations::answer(&mut model, &viewer, name, document, &variables),
        }
    };
    let (status, body) = match result {
        Ok(data) => (200, json!({ "data": data })),
        Err(error) => (error.status, error.body()),
    };
    // Recorded before any delay: a client that gives up hangs up, and the fake's answer (with
    // this record) would otherwise be dropped with the connection.
    match fault {
        Some(Fault::ServerErrorAfterApply(code)) => {
            shared.traffic().records.push(record(code));
            return (StatusCode::from_u16(code).unwrap(), "bad gateway").into_response();
        }
        Some(Fault::SlowAfterApply(delay)) => {
            shared.traffic().records.push(record(status));
            tokio::time::sleep(delay).await;
        }
        _ => shared.traffic().records.push(record(status)),
    }
    gql_response(status, body, 2499, reset_soon)
}

#[cfg(test)]
mod tests {
    #[test]
    fn operation_names_are_read_from_documents() {
        assert_eq!(
            super::operation_name("query IssueRead($id: String!) { issue(id: $id) { id } }")
                .as_deref(),
            Some("IssueRead")
        );
        assert_eq!(
            super::operation_name("mutation CommentCreate($input: X!) { x }").as_deref(),
            Some("CommentCreate")
        );
        assert_eq!(super::operation_name("{ viewer { id } }"), None);
    }
}
