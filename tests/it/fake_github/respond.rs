//! How the fake answers: GitHub's error bodies, JSON bodies and `Link`-header pagination.
//!
//! Client code branches on these shapes (status, `message`, `errors`, `retry-after`, `Link`), so
//! they are built in one place and copied from what api.github.com actually sends.

use axum::extract::Query;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Documentation links GitHub puts in error bodies, per area.
pub(super) mod doc {
    pub const REST: &str = "https://docs.github.com/rest";
    pub const REPOS: &str = "https://docs.github.com/rest/repos/repos#get-a-repository";
    pub const ISSUES: &str = "https://docs.github.com/rest/issues/issues#get-an-issue";
    pub const CREATE_ISSUE: &str = "https://docs.github.com/rest/issues/issues#create-an-issue";
    pub const UPDATE_ISSUE: &str = "https://docs.github.com/rest/issues/issues#update-an-issue";
    pub const GRAPHQL: &str = "https://docs.github.com/graphql";
    pub const COMMENTS: &str = "https://docs.github.com/rest/issues/comments";
    pub const CREATE_COMMENT: &str =
        "https://docs.github.com/rest/issues/comments#create-an-issue-comment";
    pub const REMOVE_LABEL: &str =
        "https://docs.github.com/rest/issues/labels#remove-a-label-from-an-issue";
    pub const LABELS: &str = "https://docs.github.com/rest/issues/labels";
    pub const REACTIONS: &str = "https://docs.github.com/rest/reactions/reactions";
    pub const CONTENTS: &str = "https://docs.github.com/rest/repos/contents#get-repository-content";
    pub const CHECKS: &str = "https://docs.github.com/rest/checks/runs";
    pub const PULLS: &str = "https://docs.github.com/rest/pulls/pulls";
    pub const CREATE_PULL: &str = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request";
    pub const REVIEWS: &str =
        "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";
    pub const REVIEW_COMMENTS: &str = "https://docs.github.com/rest/pulls/comments";
    pub const PERMISSION: &str = "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user";
    pub const USER: &str = "https://docs.github.com/rest/users/users#get-the-authenticated-user";
    pub const SECONDARY: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
    pub const PRIMARY: &str = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-the-primary-rate-limits";
}

/// An error answer, shaped like GitHub's: `{message, documentation_url, status, errors?}`.
#[derive(Debug, Clone)]
pub(super) struct ApiError {
    status: StatusCode,
    body: Value,
    headers: Vec<(&'static str, String)>,
}

pub(super) type ApiResult = Result<Response, ApiError>;

impl ApiError {
    pub(super) fn new(status: StatusCode, message: &str, documentation_url: &str) -> Self {
        Self {
            status,
            body: json!({
                "message": message,
                "documentation_url": documentation_url,
                "status": status.as_u16().to_string(),
            }),
            headers: Vec::new(),
        }
    }

    pub(super) fn not_found(documentation_url: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", documentation_url)
    }

    pub(super) fn forbidden(message: &str, documentation_url: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, message, documentation_url)
    }

    pub(super) fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message, doc::REST)
    }

    /// 400 for a body that is not JSON, as GitHub words it.
    pub(super) fn bad_json(documentation_url: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "Problems parsing JSON",
            documentation_url,
        )
    }

    /// 422 "Validation Failed" with structured `errors` objects (resource, field, code, message).
    pub(super) fn validation(errors: Value, documentation_url: &str) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation Failed",
            documentation_url,
        );
        error.body["errors"] = errors;
        error
    }

    /// 422 "Unprocessable Entity" whose `errors` is one sentence joining every problem, the way
    /// GitHub reports review-thread failures ("a, b, and c").
    pub(super) fn unprocessable(problems: &[String], documentation_url: &str) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Unprocessable Entity",
            documentation_url,
        );
        error.body["errors"] = json!([to_sentence(problems)]);
        error
    }

    /// 422 "Invalid request.\n\n…", GitHub's answer to a body that breaks the endpoint's schema.
    pub(super) fn invalid_request(detail: &str, documentation_url: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Invalid request.\n\n{detail}"),
            documentation_url,
        )
    }

    /// 422 for a required body field that is missing or not a string.
    pub(super) fn missing(field: &str, documentation_url: &str) -> Self {
        Self::invalid_request(&format!("\"{field}\" wasn't supplied."), documentation_url)
    }

    pub(super) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = json_response(self.status, &self.body);
        for (name, value) in self.headers {
            response
                .headers_mut()
                .insert(name, HeaderValue::from_str(&value).expect("header value"));
        }
        response
    }
}

/// Rails' `to_sentence`, which GitHub uses to join validation messages.
fn to_sentence(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

/// A JSON body with GitHub's content type.
pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

pub(super) fn ok(body: Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, &body))
}

pub(super) fn created(body: Value) -> ApiResult {
    Ok(json_response(StatusCode::CREATED, &body))
}

/// Parses a JSON request body; GitHub answers 400 to anything that is not a JSON document.
pub(super) fn parse_body(body: &[u8], documentation_url: &str) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| ApiError::bad_json(documentation_url))
}

/// A required string field of a request body.
pub(super) fn required_str<'a>(
    body: &'a Value,
    field: &str,
    documentation_url: &str,
) -> Result<&'a str, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing(field, documentation_url))
}

/// The query string as ordered pairs (GitHub's Link URLs keep the caller's parameters).
pub(super) fn query_pairs(uri: &Uri) -> Vec<(String, String)> {
    Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map(|q| q.0)
        .unwrap_or_default()
}

pub(super) fn query_param(uri: &Uri, name: &str) -> Option<String> {
    query_pairs(uri)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// One page of `items` per `per_page` (default 30, at most 100) and `page`, with GitHub's `Link`
/// header pointing at the fake's own absolute URLs. `wrap` builds the body from the page's items
/// and the total, for endpoints that answer `{total_count, …}` instead of a bare array.
pub(super) fn paginate(
    api: &str,
    uri: &Uri,
    items: Vec<Value>,
    wrap: impl FnOnce(Vec<Value>, usize) -> Value,
) -> ApiResult {
    let per_page = query_param(uri, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map_or(30, |n| n.min(100));
    let page = query_param(uri, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let page_items: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut response = json_response(StatusCode::OK, &wrap(page_items, total));
    let link_to = |n: usize| {
        let mut pairs: Vec<(String, String)> = query_pairs(uri)
            .into_iter()
            .filter(|(k, _)| k != "page")
            .collect();
        pairs.push(("page".to_owned(), n.to_string()));
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("<{api}{}?{}>", uri.path(), query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to((page - 1).min(last))));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
    }
    if !links.is_empty() {
        response.headers_mut().insert(
            header::LINK,
            HeaderValue::from_str(&links.join(", ")).expect("link header"),
        );
    }
    Ok(response)
}

/// A bare JSON array page.
pub(super) fn paginate_array(api: &str, uri: &Uri, items: Vec<Value>) -> ApiResult {
    paginate(api, uri, items, |page, _| Value::Array(page))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(super) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Like [`encode`] but keeps `/`, for file paths inside URLs.
pub(super) fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}
