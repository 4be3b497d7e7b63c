//! The dashboard: `GET /` renders tasks, queue health, spend per day by model, budget gauges and
//! the routing table as one server-rendered page; `GET /api/{tasks,queue,spend,budgets,routing}`
//! return the same data as JSON.
//!
//! It shows repository names, issue titles and money, so it is closed unless Orion listens only on
//! loopback: with `ORION_DASHBOARD_TOKEN` set, every request must present it (as
//! `Authorization: Bearer …` or the `orion_dashboard` cookie that `GET /?token=…` sets); without
//! one, a loopback listener is open and any other listener refuses with 403 saying what to set.
//! The webhooks are not affected either way.

pub mod data;
pub mod page;

use std::net::SocketAddr;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::config::{DASHBOARD_TOKEN_ENV, Secret};

/// The cookie `GET /?token=…` sets, so a browser needs the token in a URL only once.
pub const COOKIE: &str = "orion_dashboard";

/// Tasks the dashboard lists (most recently changed first).
const TASK_LIMIT: i64 = 100;

/// The dashboard's routes, to be merged into the app router.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/api/tasks", get(api_tasks))
        .route("/api/queue", get(api_queue))
        .route("/api/spend", get(api_spend))
        .route("/api/budgets", get(api_budgets))
        .route("/api/routing", get(api_routing))
}

/// Why a request may not see the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A token is configured and the request did not present it.
    Unauthorized,
    /// Orion listens beyond loopback and no token is configured: nobody may see it.
    NoTokenConfigured,
}

/// Whether a request presenting `presented` may see the dashboard of an Orion listening on
/// `listen` with `token` configured.
pub fn decide(
    token: Option<&Secret>,
    listen: &str,
    presented: Option<&str>,
) -> Result<(), Refusal> {
    match token {
        Some(token) => match presented {
            Some(p) if same(token.expose(), p) => Ok(()),
            _ => Err(Refusal::Unauthorized),
        },
        None if is_loopback(listen) => Ok(()),
        None => Err(Refusal::NoTokenConfigured),
    }
}

fn is_loopback(listen: &str) -> bool {
    listen
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback())
}

/// Compares in time independent of where the strings differ (and of their lengths): both are
/// hashed, and the digests compared without an early exit.
fn same(expected: &str, presented: &str) -> bool {
    let (a, b) = (Sha256::digest(expected), Sha256::digest(presented));
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    diff == 0
}

/// The token a request carries: a bearer token first, else the cookie.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|v| {
            form_urlencoded::parse(format!("t={v}").as_bytes())
                .next()
                .map(|(_, t)| t.into_owned())
                .unwrap_or_default()
        })
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                format!(
                    "The dashboard needs its token ({DASHBOARD_TOKEN_ENV}): send it as \
                     `Authorization: Bearer <token>`, or open /?token=<token> once in a browser.\n"
                ),
            )
                .into_response(),
            Refusal::NoTokenConfigured => (
                StatusCode::FORBIDDEN,
                format!(
                    "The dashboard is closed: Orion listens beyond localhost and no token is \
                     configured. Set {DASHBOARD_TOKEN_ENV} and restart, or listen on 127.0.0.1.\n"
                ),
            )
                .into_response(),
        }
    }
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), Refusal> {
    decide(
        state.dashboard_token(),
        &state.config().server.listen,
        presented(headers).as_deref(),
    )
}

/// Proof that the request may see the dashboard; the API handlers take it as an argument.
pub struct Authorized;

impl FromRequestParts<AppState> for Authorized {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refusal> {
        authorize(state, &parts.headers).map(|()| Authorized)
    }
}

/// A read that failed: logged, and answered with 500 and the reason.
struct ReadError(anyhow::Error);

impl From<anyhow::Error> for ReadError {
    fn from(e: anyhow::Error) -> Self {
        Self(e)
    }
}

impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        tracing::error!(error = %format!("{:#}", self.0), "dashboard read failed");
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not read the dashboard data: {:#}\n", self.0),
        )
            .into_response()
    }
}

#[derive(Debug, Deserialize)]
struct Entry {
    token: Option<String>,
}

/// The page; `?token=…` trades the token for the cookie and redirects to a clean URL.
async fn index(
    State(state): State<AppState>,
    Query(entry): Query<Entry>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    if let Some(token) = entry.token {
        decide(
            state.dashboard_token(),
            &state.config().server.listen,
            Some(&token),
        )
        .map_err(IntoResponse::into_response)?;
        let mut redirect = Redirect::to("/").into_response();
        if state.dashboard_token().is_some() {
            let value: String = form_urlencoded::byte_serialize(token.as_bytes()).collect();
            let cookie =
                format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000");
            let cookie = HeaderValue::from_str(&cookie)
                .map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
            redirect.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return Ok(redirect);
    }
    authorize(&state, &headers).map_err(IntoResponse::into_response)?;
    let dashboard = gather(&state).await.map_err(IntoResponse::into_response)?;
    Ok(Html(page::render(&dashboard)).into_response())
}

async fn gather(state: &AppState) -> Result<page::Dashboard, ReadError> {
    let store = state.store();
    let now = crate::store::now_ms();
    let budgets = state.llm().router().settings().budgets.clone();
    Ok(page::Dashboard {
        now,
        tasks: data::tasks(store, TASK_LIMIT).await?,
        queue: data::queue(store).await?,
        spend: data::spend(store, 30, now).await?,
        budgets: data::budgets(store, &budgets, now).await?,
        routing: data::routing(store).await?,
    })
}

async fn api_tasks(
    _: Authorized,
    State(state): State<AppState>,
) -> Result<Json<Vec<data::TaskRow>>, ReadError> {
    Ok(Json(data::tasks(state.store(), TASK_LIMIT).await?))
}

async fn api_queue(
    _: Authorized,
    State(state): State<AppState>,
) -> Result<Json<data::QueueHealth>, ReadError> {
    Ok(Json(data::queue(state.store()).await?))
}

#[derive(Debug, Deserialize)]
struct SpendQuery {
    days: Option<u32>,
}

/// `?days=N` (default 30, at most 366).
async fn api_spend(
    _: Authorized,
    State(state): State<AppState>,
    Query(q): Query<SpendQuery>,
) -> Result<Json<data::Spend>, ReadError> {
    let days = q.days.unwrap_or(30).clamp(1, 366);
    Ok(Json(
        data::spend(state.store(), days, crate::store::now_ms()).await?,
    ))
}

async fn api_budgets(
    _: Authorized,
    State(state): State<AppState>,
) -> Result<Json<Vec<data::BudgetGauge>>, ReadError> {
    // The live budgets: a reloaded configuration applies here as it does to the calls.
    let budgets = state.llm().router().settings().budgets.clone();
    Ok(Json(
        data::budgets(state.store(), &budgets, crate::store::now_ms()).await?,
    ))
}

async fn api_routing(
    _: Authorized,
    State(state): State<AppState>,
) -> Result<Json<Vec<data::RoutingRow>>, ReadError> {
    Ok(Json(data::routing(state.store()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_without_a_token_is_open_anything_else_needs_one() {
        assert_eq!(decide(None, "127.0.0.1:3000", None), Ok(()));
        assert_eq!(decide(None, "[::1]:3000", None), Ok(()));
        assert_eq!(
            decide(None, "0.0.0.0:3000", Some("anything")),
            Err(Refusal::NoTokenConfigured)
        );
        let token = Secret::new("s3cret");
        for listen in ["127.0.0.1:3000", "0.0.0.0:3000"] {
            assert_eq!(decide(Some(&token), listen, Some("s3cret")), Ok(()));
            assert_eq!(
                decide(Some(&token), listen, Some("s3cret ")),
                Err(Refusal::Unauthorized)
            );
            assert_eq!(
                decide(Some(&token), listen, None),
                Err(Refusal::Unauthorized)
            );
        }
    }

    #[test]
    fn the_token_is_read_from_the_bearer_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("other=1; orion_dashboard=a%2Bb%3Bc; x=2"),
        );
        assert_eq!(presented(&h).as_deref(), Some("a+b;c"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert_eq!(presented(&h).as_deref(), Some("tok"));
    }
}
