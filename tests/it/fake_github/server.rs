//! The HTTP edge: routing, authentication, rate-limit headers, fault injection, holds and the
//! traffic log, wrapped around every endpoint in one middleware so no handler can forget them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng;
use serde_json::json;
use tokio::sync::watch;

use super::auth::{AuthKind, Caller, authenticate};
use super::faults::{Fault, FaultState};
use super::model::{Model, now};
use super::respond::{ApiError, doc, json_response};
use super::{apps, checks, graphql, issues, pulls, reactions, repos, reviews};

/// One request the fake answered, for assertions on what the client did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub status: u16,
    pub auth: AuthKind,
}

/// State shared by the edge, the handlers and the test-facing [`super::FakeGitHub`].
pub(super) struct Shared {
    model: Mutex<Model>,
    traffic: Mutex<Traffic>,
    pub(super) shutdown: watch::Receiver<bool>,
}

#[derive(Default)]
pub(super) struct Traffic {
    pub(super) faults: FaultState,
    pub(super) records: Vec<RequestRecord>,
    pub(super) unexpected: Vec<RequestRecord>,
    /// Rate-limit buckets: key (`installation:ID`, `user:LOGIN`, `app`) → (used, reset).
    pub(super) buckets: HashMap<String, (u64, i64)>,
}

impl Shared {
    pub(super) fn new(model: Model, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            model: Mutex::new(model),
            traffic: Mutex::new(Traffic::default()),
            shutdown,
        }
    }

    /// The model, even after a handler panicked while holding it: one failed assertion in a
    /// handler must not turn every later request into a poisoned-lock panic.
    pub(super) fn model(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn traffic(&self) -> MutexGuard<'_, Traffic> {
        self.traffic.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(super) type AppState = State<Arc<Shared>>;

/// What authentication concluded, handed from the edge to the [`Caller`] extractor.
#[derive(Clone)]
struct Authenticated(Result<Caller, ApiError>);

/// Marks the answer of a request that matched no route.
#[derive(Clone)]
struct Unrouted;

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(Authenticated(Ok(caller))) => Ok(caller.clone()),
            Some(Authenticated(Err(error))) => Err(error.clone()),
            None => Err(ApiError::unauthorized("Bad credentials")),
        }
    }
}

pub(super) fn router(shared: Arc<Shared>) -> Router {
    let repo = |path: &str| format!("/repos/{{owner}}/{{repo}}{path}");
    Router::new()
        .route("/app", get(apps::get_app))
        .route("/app/installations", get(apps::list_installations))
        .route(
            "/app/installations/{id}/access_tokens",
            post(apps::create_token),
        )
        .route("/installation/repositories", get(apps::installation_repos))
        .route("/user", get(apps::get_user))
        .route("/graphql", post(graphql::answer))
        .route(&repo(""), get(repos::get_repo))
        .route(&repo("/labels"), get(issues::list_repo_labels))
        .route(&repo("/contents"), get(repos::root_contents))
        .route(&repo("/contents/{*path}"), get(repos::contents))
        .route(
            &repo("/collaborators/{user}/permission"),
            get(repos::permission),
        )
        .route(
            &repo("/issues"),
            get(issues::list_issues).post(issues::create_issue),
        )
        .route(
            &repo("/issues/{number}"),
            get(issues::get_issue).patch(issues::update_issue),
        )
        .route(
            &repo("/issues/{number}/comments"),
            get(issues::list_comments).post(issues::create_comment),
        )
        .route(
            &repo("/issues/comments/{id}"),
            get(issues::get_comment)
                .patch(issues::update_comment)
                .delete(issues::delete_comment),
        )
        .route(&repo("/issues/{number}/events"), get(issues::list_events))
        .route(
            &repo("/issues/{number}/labels"),
            get(issues::list_labels).post(issues::add_labels),
        )
        .route(
            &repo("/issues/{number}/labels/{name}"),
            axum::routing::delete(issues::remove_label),
        )
        .route(
            &repo("/issues/{number}/reactions"),
            get(reactions::list_issue).post(reactions::create_issue),
        )
        .route(
            &repo("/issues/comments/{id}/reactions"),
            get(reactions::list_comment).post(reactions::create_comment),
        )
        .route(&repo("/check-runs"), post(checks::create))
        .route(
            &repo("/check-runs/{id}"),
            get(checks::get_one).patch(checks::update),
        )
        .route(
            &repo("/commits/{ref}/check-runs"),
            get(checks::list_for_ref),
        )
        .route(&repo("/commits/{ref}/status"), get(checks::combined_status))
        .route(&repo("/pulls"), get(pulls::list).post(pulls::create))
        .route(
            &repo("/pulls/{number}"),
            get(pulls::get_one).patch(pulls::update),
        )
        .route(&repo("/pulls/{number}/files"), get(pulls::files))
        .route(
            &repo("/pulls/{number}/reviews"),
            get(reviews::list).post(reviews::create),
        )
        .route(
            &repo("/pulls/{number}/comments"),
            get(reviews::list_comments),
        )
        .route(
            &repo("/pulls/{number}/comments/{id}/replies"),
            post(reviews::reply),
        )
        .fallback(unexpected)
        .method_not_allowed_fallback(unexpected)
        .layer(middleware::from_fn_with_state(shared.clone(), edge))
        .with_state(shared)
}

/// The API root of GitHub Enterprise Server.
const ENTERPRISE_PREFIX: &str = "/api/v3";

/// A request that came in below [`ENTERPRISE_PREFIX`] (the log records the path as sent).
#[derive(Clone)]
struct EnterprisePrefix;

/// Serves `/api/v3/...` as `/...`, like a GHES host, marking the request so the log shows the
/// path the client really used.
pub(super) fn strip_enterprise_prefix(mut request: Request) -> Request {
    let Some(rest) = request.uri().path().strip_prefix(ENTERPRISE_PREFIX) else {
        return request;
    };
    if !rest.starts_with('/') {
        return request;
    }
    let rewritten = match request.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    *request.uri_mut() = rewritten.parse().expect("a path taken from a valid URI");
    request.extensions_mut().insert(EnterprisePrefix);
    request
}

async fn unexpected() -> Response {
    let mut response = ApiError::not_found(doc::REST).into_response();
    response.extensions_mut().insert(Unrouted);
    response
}

/// Every request passes here: authenticate, maybe fail on purpose, serve, stamp GitHub's headers,
/// record, and maybe withhold the answer.
async fn edge(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let path = match request.extensions().get::<EnterprisePrefix>() {
        Some(_) => format!("{ENTERPRISE_PREFIX}{}", request.uri().path()),
        None => request.uri().path().to_owned(),
    };
    let request_id = request_id();
    let authenticated = authenticate(
        &shared.model(),
        request.headers().get(header::AUTHORIZATION),
    );
    let auth = match &authenticated {
        Ok(caller) => caller.kind(),
        Err((kind, _)) => kind.clone(),
    };
    let fault = shared.traffic().faults.pick(&method, &path);
    let if_none_match = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);

    let mut served = false;
    let mut response = match &fault {
        Some(
            fault @ (Fault::BadGateway
            | Fault::SecondaryRateLimit { .. }
            | Fault::TooManyRequests { .. }
            | Fault::PrimaryRateLimit { .. }),
        ) => fault_response(fault, &auth, &shared.model(), &request_id),
        _ => {
            request
                .extensions_mut()
                .insert(Authenticated(authenticated.map_err(|(_, error)| error)));
            served = true;
            next.run(request).await
        }
    };
    let routed = response.extensions().get::<Unrouted>().is_none();
    if served && fault == Some(Fault::BadGatewayAfterApply) {
        response = bad_gateway();
    }
    if method == "GET" && response.status() == StatusCode::OK {
        response = conditional(response, if_none_match.as_deref()).await;
    }
    // GitHub does not count a 304 to an authorised conditional request against the rate limit.
    let charged = response.status() != StatusCode::NOT_MODIFIED;
    let rate = shared.traffic().spend(&auth, charged);

    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_str(&value).expect("header value"));
    };
    set("x-ratelimit-limit", rate.0.to_string());
    set("x-ratelimit-remaining", rate.1.to_string());
    set("x-ratelimit-reset", rate.3.to_string());
    set("x-ratelimit-used", rate.2.to_string());
    set("x-ratelimit-resource", "core".to_owned());
    set("x-github-request-id", request_id);
    set("x-github-media-type", "github.v3; format=json".to_owned());
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    if matches!(auth, AuthKind::PersonalToken(_)) {
        set("x-oauth-scopes", "repo".to_owned());
        set("x-accepted-oauth-scopes", String::new());
    }

    let record = RequestRecord {
        method: method.clone(),
        path: path.clone(),
        status: response.status().as_u16(),
        auth,
    };
    let hold = {
        let mut traffic = shared.traffic();
        traffic.records.push(record.clone());
        if !routed {
            traffic.unexpected.push(record);
        }
        if served && routed {
            traffic.faults.take_hold(&method, &path)
        } else {
            None
        }
    };
    if let Some(Fault::Slow(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    if let Some(hold) = hold {
        hold.hold(shared.shutdown.clone()).await;
    }
    response
}

impl Traffic {
    /// Spends one request of the caller's hourly budget (unless not `charged`):
    /// `(limit, remaining, used, reset)`.
    fn spend(&mut self, auth: &AuthKind, charged: bool) -> (u64, u64, u64, i64) {
        let (key, limit) = match auth {
            AuthKind::Installation(id) => (format!("installation:{id}"), 5000),
            AuthKind::PersonalToken(login) => (format!("user:{login}"), 5000),
            AuthKind::AppJwt => ("app".to_owned(), 5000),
            AuthKind::Anonymous | AuthKind::Invalid => ("anonymous".to_owned(), 60),
        };
        let now = now().timestamp();
        let bucket = self.buckets.entry(key).or_insert((0, now + 3600));
        if bucket.1 <= now {
            *bucket = (0, now + 3600);
        }
        bucket.0 += charged as u64;
        (limit, limit.saturating_sub(bucket.0), bucket.0, bucket.1)
    }
}

/// GitHub's conditional requests: every 200 to a GET carries an `ETag` (weak, a hash of the
/// body); a request whose `If-None-Match` names the current one gets 304 Not Modified, no body.
async fn conditional(response: Response, if_none_match: Option<&str>) -> Response {
    use sha2::Digest;
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the fake's own body");
    let etag = format!("W/\"{}\"", hex::encode(sha2::Sha256::digest(&bytes)));
    let matches = if_none_match.is_some_and(|sent| {
        sent.split(',')
            .any(|tag| tag.trim().trim_start_matches("W/") == etag.trim_start_matches("W/"))
    });
    parts.headers.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("header value"),
    );
    if matches {
        parts.status = StatusCode::NOT_MODIFIED;
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.remove(header::CONTENT_TYPE);
        return Response::from_parts(parts, axum::body::Body::empty());
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

fn request_id() -> String {
    let mut rng = rand::rng();
    format!(
        "{:04X}:{:04X}:{:07X}:{:07X}:{:08X}",
        rng.random::<u16>(),
        rng.random::<u16>(),
        rng.random_range(0..0x1000_0000u32),
        rng.random_range(0..0x1000_0000u32),
        now().timestamp() as u32,
    )
}

fn bad_gateway() -> Response {
    json_response(
        StatusCode::BAD_GATEWAY,
        &json!({ "message": "Server Error" }),
    )
}

fn fault_response(fault: &Fault, auth: &AuthKind, model: &Model, request_id: &str) -> Response {
    let secondary = format!(
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID {request_id}."
    );
    match *fault {
        Fault::SecondaryRateLimit { retry_after_secs } => {
            ApiError::forbidden(&secondary, doc::SECONDARY)
                .with_header("retry-after", retry_after_secs.to_string())
                .into_response()
        }
        Fault::TooManyRequests { retry_after_secs } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, &secondary, doc::SECONDARY)
                .with_header("retry-after", retry_after_secs.to_string())
                .into_response()
        }
        Fault::PrimaryRateLimit { reset_in_secs } => {
            let who = match auth {
                AuthKind::Installation(id) => format!("installation ID {id}"),
                AuthKind::PersonalToken(login) => {
                    format!("user ID {}", model.user(login).map_or(0, |u| u.id))
                }
                _ => "127.0.0.1".to_owned(),
            };
            let reset = now().timestamp() + reset_in_secs as i64;
            ApiError::forbidden(
                &format!("API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include the request ID {request_id}."),
                doc::PRIMARY,
            )
            .with_header("x-ratelimit-remaining", "0".to_owned())
            .with_header("x-ratelimit-reset", reset.to_string())
            .into_response()
        }
        _ => bad_gateway(),
    }
}
