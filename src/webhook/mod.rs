//! The webhook edge: `POST /webhooks/github` and `POST /webhooks/linear`.
//!
//! A request is bounded in size, authenticated (HMAC over the raw bytes), parsed into Orion's own
//! [`Event`], deduplicated and persisted with its jobs in one transaction — then answered. Nothing
//! slow happens here: the work runs later, on the queue.
//!
//! | situation                                   | answer |
//! |---------------------------------------------|--------|
//! | body over `server.max_body_bytes`           | 413    |
//! | signature missing, malformed or wrong       | 401    |
//! | Linear timestamp missing or outside window  | 401 (an authentication failure: a replay) |
//! | GitHub event or delivery header missing     | 400    |
//! | signed but unreadable (bad JSON, bad shape) | 400, and the delivery is recorded as `unreadable` |
//! | `ping`                                      | 200    |
//! | an event Orion does not act on              | 202 (Linear: 200), counted, not stored |
//! | a delivery id seen before                   | 200, nothing created |
//! | stored                                      | 202 (Linear: 200) |
//! | the jobs for an event could not be built    | 500    |
//! | the database failed                         | 503 (Linear retries; GitHub deliveries can be redelivered) |
//!
//! Linear documents that it retries any delivery not answered with 200, so Linear's acceptances
//! are 200; GitHub's are 202, which GitHub treats as success.

pub mod github;
pub mod linear;
pub mod signature;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::Instrument;

use crate::app::AppState;
use crate::event::{DeliveryId, Event, Source};
use crate::store::{DeliveryRecord, IngestOutcome, now_ms};
use github::{Parsed, Unreadable};

/// What the edge answered, in the JSON body GitHub shows in its delivery log.
fn reply(status: StatusCode, outcome: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "outcome": outcome, "message": message.into() })),
    )
        .into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Reads the body up to the limit, refusing early on a declared `Content-Length` over it.
async fn read_body(
    state: &AppState,
    source: Source,
    headers: &HeaderMap,
    body: Body,
) -> Result<axum::body::Bytes, Response> {
    let limit = state.config().server.max_body_bytes;
    let too_large = || {
        state
            .metrics()
            .delivery(source.as_str(), "unknown", "too_large");
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the body is larger than the {limit}-byte limit (server.max_body_bytes)"),
        )
    };
    if header_str(headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}

pub async fn github(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let metrics = state.metrics().clone();
    let reject = |outcome: &str, status: StatusCode, message: String| {
        metrics.delivery("github", "unknown", outcome);
        tracing::info!(outcome, %message, "rejected a GitHub delivery");
        reply(status, outcome, message)
    };
    let body = match read_body(&state, Source::Github, &headers, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    if let Err(e) = signature::verify_github(
        state.github_secrets(),
        header_str(&headers, signature::GITHUB_SIGNATURE_HEADER),
        &body,
    ) {
        return reject("unauthorized", StatusCode::UNAUTHORIZED, e.to_string());
    }
    let (Some(event_header), Some(delivery)) = (
        header_str(&headers, "X-GitHub-Event"),
        header_str(&headers, "X-GitHub-Delivery"),
    ) else {
        return reject(
            "bad_request",
            StatusCode::BAD_REQUEST,
            "X-GitHub-Event and X-GitHub-Delivery headers are required".to_owned(),
        );
    };
    let delivery = DeliveryId(delivery.to_owned());
    let span = tracing::info_span!("delivery", source = "github", delivery = %delivery, event = event_header, repo = tracing::field::Empty);
    let event_header = event_header.to_owned();
    async move {
        let is_form = header_str(&headers, header::CONTENT_TYPE.as_str())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let parsed = if is_form {
            form_payload(&body).and_then(|json| github::parse(&event_header, &json))
        } else {
            github::parse(&event_header, &body)
        };
        accept(
            &state,
            Source::Github,
            delivery,
            &event_header,
            &body,
            parsed,
        )
        .await
    }
    .instrument(span)
    .await
}

/// GitHub webhooks configured with content type `application/x-www-form-urlencoded` send the JSON
/// as the `payload` form field; the signature still covers the raw form body.
fn form_payload(body: &[u8]) -> Result<Vec<u8>, Unreadable> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned().into_bytes())
        .ok_or_else(|| Unreadable("form body without a `payload` field".to_owned()))
}

pub async fn linear(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let metrics = state.metrics().clone();
    let reject = |outcome: &str, status: StatusCode, message: String| {
        metrics.delivery("linear", "unknown", outcome);
        tracing::info!(outcome, %message, "rejected a Linear delivery");
        reply(status, outcome, message)
    };
    let Some(secret) = state.linear_secret() else {
        return reject(
            "not_configured",
            StatusCode::SERVICE_UNAVAILABLE,
            "Linear webhooks are not configured: set ORION_LINEAR_WEBHOOK_SECRET to the webhook's signing secret".to_owned(),
        );
    };
    let body = match read_body(&state, Source::Linear, &headers, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    if let Err(e) = signature::verify_linear(
        secret,
        header_str(&headers, signature::LINEAR_SIGNATURE_HEADER),
        &body,
    ) {
        return reject("unauthorized", StatusCode::UNAUTHORIZED, e.to_string());
    }
    let header_delivery = header_str(&headers, "Linear-Delivery").map(str::to_owned);
    let envelope = match linear::Envelope::read(&body) {
        Ok(e) => e,
        Err(unreadable) => {
            // Signed, so genuinely from Linear: record it even though it cannot be read.
            let delivery = header_delivery.unwrap_or_else(|| {
                format!(
                    "derived-{}",
                    &signature::sign_hex("orion-unreadable", &body)[..32]
                )
            });
            return accept(
                &state,
                Source::Linear,
                DeliveryId(delivery),
                "unknown",
                &body,
                Err(unreadable),
            )
            .await;
        }
    };
    // The signed body's timestamp wins over the unsigned header (Linear SDK's rule).
    let timestamp = envelope
        .webhook_timestamp
        .or_else(|| header_str(&headers, "Linear-Timestamp").and_then(|v| v.parse::<f64>().ok()));
    let tolerance_ms = state.config().linear.timestamp_tolerance_secs as f64 * 1000.0;
    match timestamp {
        None => {
            return reject(
                "stale",
                StatusCode::UNAUTHORIZED,
                "no webhookTimestamp in the body and no Linear-Timestamp header: cannot rule out a replay".to_owned(),
            );
        }
        Some(ts) if (now_ms() as f64 - ts).abs() > tolerance_ms => {
            return reject(
                "stale",
                StatusCode::UNAUTHORIZED,
                format!(
                    "webhookTimestamp is {:.0} s from now, outside the {} s window (linear.timestamp_tolerance_secs)",
                    (now_ms() as f64 - ts) / 1000.0,
                    state.config().linear.timestamp_tolerance_secs
                ),
            );
        }
        Some(_) => {}
    }
    let delivery =
        DeliveryId(header_delivery.unwrap_or_else(|| envelope.derived_delivery_id(&body)));
    let event_name = format!(
        "linear.{}.{}",
        envelope.entity.as_deref().unwrap_or("unknown"),
        envelope.action.as_deref().unwrap_or("unknown")
    );
    let span = tracing::info_span!("delivery", source = "linear", delivery = %delivery, event = %event_name, repo = tracing::field::Empty);
    let parsed = envelope.into_parsed();
    accept(&state, Source::Linear, delivery, &event_name, &body, parsed)
        .instrument(span)
        .await
}

/// The common tail of both edges: persist what was parsed (or the fact it could not be), answer.
async fn accept(
    state: &AppState,
    source: Source,
    delivery: DeliveryId,
    event_header: &str,
    body: &[u8],
    parsed: Result<Parsed, Unreadable>,
) -> Response {
    let metrics = state.metrics();
    let received_at = now_ms();
    let (record, event_name) = match parsed {
        Ok(Parsed::Ping) => {
            metrics.delivery(source.as_str(), "ping", "ping");
            return reply(
                StatusCode::OK,
                "ping",
                "pong: the webhook reaches Orion and its signature verifies",
            );
        }
        Ok(Parsed::Ignored) => {
            metrics.delivery(source.as_str(), event_header, "ignored");
            tracing::debug!("acknowledged an event Orion does not act on");
            return reply(
                accepted_status(source),
                "ignored",
                format!("Orion does not act on {event_header} events"),
            );
        }
        Ok(Parsed::Event(kind)) => {
            let event = Event {
                source,
                delivery: delivery.clone(),
                received_at_ms: received_at,
                kind: *kind,
            };
            let name = event.name();
            if let Some(repo) = event.repo() {
                tracing::Span::current().record("repo", repo.as_str());
            }
            let jobs = match crate::jobs::for_event(&event, state.config().queue.max_attempts) {
                Ok(jobs) => jobs,
                Err(e) => {
                    metrics.delivery(source.as_str(), &name, "error");
                    return reply(StatusCode::INTERNAL_SERVER_ERROR, "error", format!("{e:#}"));
                }
            };
            let record = DeliveryRecord {
                source,
                delivery_id: delivery.0.clone(),
                event: name.clone(),
                repo: event.repo().map(|r| r.0.clone()),
                received_at,
                error: None,
                body: None,
                jobs,
            };
            (record, name)
        }
        Err(Unreadable(error)) => {
            tracing::warn!(%error, "a signed delivery could not be read; recording it");
            let record = DeliveryRecord {
                source,
                delivery_id: delivery.0.clone(),
                event: event_header.to_owned(),
                repo: None,
                received_at,
                error: Some(error),
                body: Some(body[..body.len().min(MAX_KEPT_BODY)].to_vec()),
                jobs: Vec::new(),
            };
            (record, event_header.to_owned())
        }
    };
    let unreadable = record.error.clone();
    match state.ingest().submit(record).await {
        Ok(IngestOutcome::Duplicate) => {
            metrics.delivery(source.as_str(), &event_name, "duplicate");
            tracing::info!("redelivery of a known delivery; nothing new created");
            reply(
                StatusCode::OK,
                "duplicate",
                format!("delivery {delivery} was already received"),
            )
        }
        Ok(IngestOutcome::Stored { jobs }) => match unreadable {
            Some(error) => {
                metrics.delivery(source.as_str(), &event_name, "unreadable");
                reply(
                    StatusCode::BAD_REQUEST,
                    "unreadable",
                    format!("recorded, but the payload could not be read: {error}"),
                )
            }
            None => {
                metrics.delivery(source.as_str(), &event_name, "accepted");
                tracing::info!(jobs, "delivery stored");
                reply(
                    accepted_status(source),
                    "accepted",
                    format!("{event_name} stored with {jobs} job(s)"),
                )
            }
        },
        Err(e) => {
            metrics.delivery(source.as_str(), &event_name, "error");
            tracing::error!(error = %format!("{e:#}"), "could not persist a delivery");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                "Orion could not store the delivery; retry or redeliver it",
            )
        }
    }
}

/// The success status each sender expects (see the module docs).
fn accepted_status(source: Source) -> StatusCode {
    match source {
        Source::Github => StatusCode::ACCEPTED,
        Source::Linear => StatusCode::OK,
    }
}

/// How much of an unreadable body is kept for inspection.
const MAX_KEPT_BODY: usize = 1024 * 1024;
