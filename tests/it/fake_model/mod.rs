//! A fake model server for end-to-end tests, scripted per role.
//!
//! Every system prompt Orion sends starts with `Orion role: <name>.`, so the fake answers each
//! request from the script of that role (triage, plan, implement, review, fix, recover, report)
//! instead of from one global queue: the pipeline's calls can interleave in any order and each
//! step still gets its own answers. It speaks both real wire formats, chosen by path: OpenAI Chat
//! Completions at `/v1/chat/completions` and Anthropic Messages at `/v1/messages`, with bodies
//! built from the corpus's recorded responses, so the *real* model layer parses them.
//!
//! A test reads as a script:
//!
//! ```ignore
//! let fake = FakeModel::start().await;
//! fake.script("triage", [Answer::json(json!({"label": "bug"}))]);
//! fake.script("implement", [Answer::tool("edit_file", json!({…})), Answer::text("Done.")]);
//! // … run Orion with `settings(&fake)` and `keys()` …
//! assert_eq!(fake.requests("implement")[1].tool_results[0].content, "…");
//! assert!(fake.misses().is_empty());
//! ```
//!
//! A request nobody scripted is answered 500 and recorded in [`FakeModel::misses`], so a test
//! proves Orion asked for nothing it did not expect.

mod anthropic;
mod openai;
mod script;
mod selftest;
mod server;
mod settings;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

pub use settings::{keys, settings};

use script::Script;

/// One scripted model turn. The fake renders it in the wire format of the request it answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A final text answer (`finish_reason: stop` / `stop_reason: end_turn`).
    Text(String),
    /// A structured answer: the JSON as message content on the OpenAI wire (what
    /// `response_format: json_schema` yields); on the Anthropic wire, the `tool_use` input of the
    /// tool the request forces (Orion's way of asking Claude for JSON), else JSON text.
    Json(Value),
    /// One assistant turn calling these tools, in order, with generated call ids: `tool_calls`
    /// with JSON-string arguments on OpenAI, `tool_use` blocks on Anthropic.
    Tools(Vec<(String, Value)>),
    /// An HTTP error. An empty `body` stands for the provider's own error body for `status`, in
    /// the shapes of the corpus (Anthropic's recorded 429 and 529, OpenAI's recorded 429, the
    /// documented shape otherwise); any other body is sent byte for byte (a proxy's HTML page).
    Error { status: u16, body: String },
    /// A 200 whose body is not a valid answer of the API.
    Garbage(String),
}

impl Answer {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn json(value: Value) -> Self {
        Self::Json(value)
    }

    /// A turn calling one tool.
    pub fn tool(name: &str, args: Value) -> Self {
        Self::Tools(vec![(name.to_owned(), args)])
    }

    /// The provider's own error answer for `status` on whichever wire was asked (see
    /// [`Answer::Error`]).
    pub fn error(status: u16) -> Self {
        Self::Error {
            status,
            body: String::new(),
        }
    }
}

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    OpenAi,
    Anthropic,
}

/// A tool result Orion sent back, as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenToolResult {
    /// The tool of the call it answers, looked up by call id in the conversation ("" if the id
    /// matches no call: Orion answered a call that was never made).
    pub tool: String,
    pub call_id: String,
    pub content: String,
    /// Anthropic's `is_error`; `None` on the OpenAI wire, which has no such field.
    pub is_error: Option<bool>,
}

/// What Orion sent in one request, reduced to what a test asserts on.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenRequest {
    /// 1-based across all roles: the `N` of "request N" in a miss.
    pub number: usize,
    pub wire: Wire,
    /// From the system prompt's first line; `None` when it has no `Orion role: <name>.` line.
    pub role: Option<String>,
    /// The `model` field: the model id on the wire, which [`settings`] makes equal to the
    /// configured model's name.
    pub model: String,
    pub system: String,
    /// The text of the last user message that has text (a turn of tool results has none).
    pub last_user_text: String,
    /// Names of the tools offered. On Anthropic the forced output tool is not among them: it is
    /// how Orion asks for a structured answer, reported as [`SeenRequest::output`].
    pub tools: Vec<String>,
    /// The structured answer asked for: the schema's name, or `json_object` for JSON mode.
    pub output: Option<String>,
    /// The tool results this request answers with: those after the conversation's last
    /// assistant turn, so a tool loop's results are each recorded once.
    pub tool_results: Vec<SeenToolResult>,
    /// The whole body, for anything the fields above leave out.
    pub body: Value,
}

/// A fake model provider on `127.0.0.1:0`, answering from per-role scripts. Dropping it stops
/// the server.
pub struct FakeModel {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeModel {
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the fake model");
        let addr = listener.local_addr().expect("bound address");
        let app = server::router(Arc::clone(&script));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the fake model serves");
        });
        Self {
            addr,
            script,
            server,
        }
    }

    /// `ModelConfig.base_url` for the OpenAI wire: Orion posts to `{base_url}/chat/completions`.
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `ModelConfig.base_url` for the Anthropic wire: Orion posts to `{base_url}/v1/messages`.
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Appends answers for `role`, consumed in order by requests of any model.
    pub fn script(&self, role: &str, answers: impl IntoIterator<Item = Answer>) {
        let answers = checked(answers);
        self.lock()
            .by_role
            .entry(role.to_owned())
            .or_default()
            .extend(answers);
    }

    /// The answer for `role` whenever its script (and any [`FakeModel::for_model`] script) is
    /// used up. Without one, such a request is a miss.
    pub fn fallback(&self, role: &str, answer: Answer) {
        check(&answer);
        self.lock().fallbacks.insert(role.to_owned(), answer);
    }

    /// Appends answers for `role` asked of `model` (the `model` field on the wire). They take
    /// precedence over the role's script, so a test can make the cheap model fail and watch the
    /// task escalate to the strong one, which then reads the role's script.
    pub fn for_model(&self, model: &str, role: &str, answers: impl IntoIterator<Item = Answer>) {
        let answers = checked(answers);
        self.lock()
            .by_model
            .entry((model.to_owned(), role.to_owned()))
            .or_default()
            .extend(answers);
    }

    /// What Orion sent for `role`, oldest first.
    pub fn requests(&self, role: &str) -> Vec<SeenRequest> {
        self.lock()
            .seen
            .iter()
            .filter(|r| r.role.as_deref() == Some(role))
            .cloned()
            .collect()
    }

    /// Requests the script had no answer for (or that were not model calls at all), described.
    pub fn misses(&self) -> Vec<String> {
        self.lock().misses.clone()
    }

    /// How long the "model" thinks before every answer, to give benchmarks a realistic shape.
    pub fn latency(&self, d: Duration) {
        self.lock().latency = d;
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().expect("fake model script lock")
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Rejects answers the server could not send, at the test line that scripts them rather than
/// as a dropped connection later.
fn check(answer: &Answer) {
    if let Answer::Error { status, .. } = answer {
        let valid =
            StatusCode::from_u16(*status).is_ok_and(|s| s.is_client_error() || s.is_server_error());
        assert!(
            valid,
            "Answer::Error needs an HTTP error status, not {status}"
        );
    }
}

fn checked(answers: impl IntoIterator<Item = Answer>) -> Vec<Answer> {
    let answers: Vec<Answer> = answers.into_iter().collect();
    answers.iter().for_each(check);
    answers
}
