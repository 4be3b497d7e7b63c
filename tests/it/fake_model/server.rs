//! The HTTP side: one route per wire, the answer picked from the script, the reply rendered in
//! the wire's format.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

use super::script::Script;
use super::{Answer, SeenRequest, Wire, anthropic, openai};

type Shared = Arc<Mutex<Script>>;

pub(super) fn router(script: Shared) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai_call))
        .route("/v1/messages", post(anthropic_call))
        .fallback(elsewhere)
        .with_state(script)
}

async fn openai_call(State(script): State<Shared>, body: Bytes) -> Response {
    exchange(Wire::OpenAi, &script, &body).await
}

async fn anthropic_call(State(script): State<Shared>, body: Bytes) -> Response {
    exchange(Wire::Anthropic, &script, &body).await
}

async fn elsewhere(State(script): State<Shared>, method: Method, uri: Uri) -> Response {
    let mut s = lock(&script);
    let number = s.next_number();
    let miss = format!(
        "request {number}: {method} {} is not a model endpoint (the fake serves \
         POST /v1/chat/completions and POST /v1/messages)",
        uri.path()
    );
    s.misses.push(miss.clone());
    Reply::new(404, miss).into_response()
}

async fn exchange(wire: Wire, script: &Shared, body: &[u8]) -> Response {
    let raw = String::from_utf8_lossy(body);
    // Decide under the lock, think outside it: concurrent calls overlap as they would at a
    // real provider.
    let (reply, latency) = {
        let mut s = lock(script);
        let number = s.next_number();
        (decide(wire, &mut s, number, &raw), s.latency)
    };
    tokio::time::sleep(latency).await;
    reply.into_response()
}

fn decide(wire: Wire, s: &mut Script, number: usize, raw: &str) -> Reply {
    let parsed = serde_json::from_str::<Value>(raw)
        .map_err(|e| format!("the body is not JSON: {e}"))
        .and_then(|body| match wire {
            Wire::OpenAi => openai::parse(number, body),
            Wire::Anthropic => anthropic::parse(number, body),
        });
    let request = match parsed {
        Ok(r) => r,
        Err(why) => {
            return s.miss(
                400,
                format!("request {number} is not a valid {wire} request: {why}"),
            );
        }
    };
    s.seen.push(request.clone());
    let Some(role) = request.role.clone() else {
        return s.miss(
            500,
            format!(
                "request {number} has no `Orion role: <name>.` first line in its system prompt"
            ),
        );
    };
    let Some(answer) = s.answer(&request.model, &role) else {
        return s.miss(
            500,
            format!("no scripted answer for role {role} (request {number})"),
        );
    };
    let turn = match &answer {
        Answer::Garbage(body) => return Reply::new(200, body.clone()),
        Answer::Error { status, body } if body.is_empty() => {
            return match wire {
                Wire::OpenAi => openai::error(*status),
                Wire::Anthropic => anthropic::error(*status, number),
            };
        }
        Answer::Error { status, body } => return Reply::new(*status, body.clone()),
        Answer::Text(text) => Turn::Text(text),
        Answer::Json(value) => Turn::Json(value),
        Answer::Tools(calls) => Turn::Tools(calls),
    };
    let prompt_tokens = tokens(raw);
    match wire {
        Wire::OpenAi => openai::answer(&turn, &request, prompt_tokens),
        Wire::Anthropic => anthropic::answer(&turn, &request, prompt_tokens),
    }
}

impl Script {
    fn miss(&mut self, status: u16, why: String) -> Reply {
        self.misses.push(why.clone());
        Reply::new(status, why)
    }
}

fn lock(script: &Shared) -> MutexGuard<'_, Script> {
    script.lock().expect("fake model script lock")
}

/// A scripted model turn, for a wire to render.
pub(super) enum Turn<'a> {
    Text(&'a str),
    Json(&'a Value),
    Tools(&'a [(String, Value)]),
}

/// What the fake sends back.
pub(super) struct Reply {
    status: u16,
    body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Self {
        Self::new(status, body.to_string())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).expect("statuses are checked when scripted");
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body,
        )
            .into_response()
    }
}

impl std::fmt::Display for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::OpenAi => "OpenAI Chat Completions",
            Self::Anthropic => "Anthropic Messages",
        })
    }
}

/// Tokens billed for `text`: about four characters each, as real tokenizers average on English
/// and code, so costs come out non-zero and in proportion.
pub(super) fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// The role a system prompt declares on its first line: `Orion role: plan.` → `plan`.
pub(super) fn role_of(system: &str) -> Option<String> {
    let line = system.lines().next()?.trim();
    let name = line.strip_prefix("Orion role: ")?.strip_suffix('.')?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The text of a content field: a string, or the `text` of an array of content blocks.
pub(super) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Ids unique per fake server, and recognisable as the fake's in a failure message.
pub(super) fn fake_id(request: &SeenRequest) -> String {
    format!("fake{:06}", request.number)
}

pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A JSON file of `corpus/llm-api`: the recorded and documented shapes the fake's answers copy.
pub(super) fn corpus_json(path: &str) -> Value {
    let path = crate::support::corpus().join("llm-api").join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
