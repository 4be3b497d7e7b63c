//! A fake model provider on loopback and the model layer pointed at it, with a fresh migrated
//! database per test and typed views of the ledger tables.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use orion_bot::llm::{
    CallError, ChatRequest, ChatResponse, Complexity, KeyLookup, Llm, LlmConfig, LlmSettings,
    ModelConfig, Provider, ProviderError, Risk, TaskKind, TaskRun, TaskSpec, TiersConfig, Usage,
};
use serde_json::{Value, json};
use sqlx::Row;
use tempfile::TempDir;

use crate::support::corpus;

/// One scripted answer of the fake provider.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// How long the provider "thinks" before answering.
    pub delay: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn ok(body: impl Into<String>) -> Self {
        Self::new(200, body)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// A provider that accepted the request and never answers (within any test's patience).
    pub fn silence() -> Self {
        Self::ok("{}").after(Duration::from_secs(300))
    }
}

/// A request as the fake provider received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    /// The body byte for byte, for "this string never left Orion".
    pub raw: String,
    pub json: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Debug, Default)]
struct Script {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    unscripted: AtomicUsize,
}

/// A model provider on 127.0.0.1 that speaks both wire formats (it answers any path) from a
/// script, in order. Dropping it checks that the whole script was used and that no request came
/// that the test did not expect.
pub struct FakeProvider {
    addr: SocketAddr,
    script: Arc<Script>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let script = Arc::new(Script::default());
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            script,
            server,
        }
    }

    /// As the OpenAI SDK takes it: Orion posts to `{base_url}/chat/completions`.
    pub fn openai_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// As the Anthropic SDK takes it: Orion posts to `{base_url}/v1/messages`.
    pub fn anthropic_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.replies.lock().unwrap().extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.script.received.lock().unwrap().len()
    }

    pub fn last(&self) -> Received {
        self.received().pop().expect("a request was received")
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.server.abort();
        if std::thread::panicking() {
            return;
        }
        let left = self.script.replies.lock().unwrap().len();
        assert_eq!(left, 0, "{left} scripted replies were never asked for");
        let unscripted = self.script.unscripted.load(Ordering::SeqCst);
        assert_eq!(unscripted, 0, "{unscripted} requests came unscripted");
    }
}

async fn answer(
    State(script): State<Arc<Script>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw = String::from_utf8_lossy(&body).into_owned();
    script.received.lock().unwrap().push(Received {
        at: Instant::now(),
        method,
        path: uri.path().to_owned(),
        headers,
        json: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    });
    let Some(reply) = script.replies.lock().unwrap().pop_front() else {
        script.unscripted.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::IM_A_TEAPOT, "unscripted request").into_response();
    };
    tokio::time::sleep(reply.delay).await;
    let status = StatusCode::from_u16(reply.status).unwrap();
    let mut response = (status, reply.body).into_response();
    let h = response.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    for (name, value) in reply.headers {
        h.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response
}

pub const OPENAI_KEY: &str = "sk-proj-orionOperatorKey0123456789abcd";
pub const ANTHROPIC_KEY: &str = "sk-ant-api03-orionOperatorKey012345678";
pub const ACME_OPENAI_KEY: &str = "sk-proj-acmeOwnKey0123456789abcdefghij";
pub const GLOBEX_CLAUDE_KEY: &str = "sk-ant-api03-globexOwnKey0123456789abc";
/// A webhook secret: it has no token shape, so only the configured-value pass can catch it.
pub const WEBHOOK_SECRET: &str = "correct-horse-battery-staple-42";

/// Three models on one ladder, cheapest first: `gpt-mini` (tactical), `claude`, `gpt-big`.
pub fn settings(fake: &FakeProvider) -> LlmSettings {
    let openai = |id: &str, input: f64, output: f64, cached: f64| ModelConfig {
        provider: Provider::Openai,
        model: id.to_owned(),
        base_url: Some(fake.openai_url()),
        api_key_env: Some("OPENAI_API_KEY".to_owned()),
        input_usd_per_mtok: input,
        output_usd_per_mtok: output,
        cached_input_usd_per_mtok: Some(cached),
        cache_write_usd_per_mtok: None,
        context_window: 128_000,
        max_output_tokens: 16_384,
        tools: true,
        vision: false,
        structured: true,
        enabled: true,
        timeout_secs: 10,
    };
    let claude = ModelConfig {
        provider: Provider::Anthropic,
        model: "claude-haiku-4-5".to_owned(),
        base_url: Some(fake.anthropic_url()),
        api_key_env: Some("ANTHROPIC_API_KEY".to_owned()),
        input_usd_per_mtok: 1.0,
        output_usd_per_mtok: 5.0,
        cached_input_usd_per_mtok: Some(0.1),
        cache_write_usd_per_mtok: Some(1.25),
        context_window: 200_000,
        max_output_tokens: 64_000,
        ..openai("", 0.0, 0.0, 0.0)
    };
    LlmSettings {
        models: [
            ("gpt-mini".to_owned(), openai("gpt-5.4", 0.5, 2.0, 0.05)),
            ("claude".to_owned(), claude),
            ("gpt-big".to_owned(), openai("gpt-5.4-pro", 10.0, 40.0, 1.0)),
        ]
        .into(),
        tiers: TiersConfig {
            tactical: vec!["gpt-mini".to_owned()],
            strategic: vec!["claude".to_owned(), "gpt-big".to_owned()],
        },
        routing: Default::default(),
        budgets: Default::default(),
        llm: LlmConfig {
            retries: 0,
            retry_base_ms: 10,
            max_retry_wait_ms: 5_000,
            breaker_threshold: 100,
            breaker_cooldown_ms: 200,
            byok: BTreeMap::new(),
        },
    }
}

/// A ladder of just `model`.
pub fn only(s: &mut LlmSettings, model: &str) {
    s.tiers = TiersConfig {
        tactical: vec![model.to_owned()],
        strategic: Vec::new(),
    };
}

fn keys() -> KeyLookup {
    let map: BTreeMap<&str, &str> = [
        ("OPENAI_API_KEY", OPENAI_KEY),
        ("ANTHROPIC_API_KEY", ANTHROPIC_KEY),
        ("ACME_OPENAI_KEY", ACME_OPENAI_KEY),
        ("GLOBEX_CLAUDE_KEY", GLOBEX_CLAUDE_KEY),
    ]
    .into();
    Arc::new(move |name| map.get(name).map(|v| (*v).to_owned()))
}

/// A row of `llm_calls`, the spend ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub attempt_id: Option<i64>,
    pub installation: String,
    pub model: String,
    pub tier: String,
    pub usage: Usage,
    pub cost_nusd: i64,
    pub outcome: String,
    pub error: Option<String>,
}

/// A row of `llm_attempts`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRow {
    pub id: i64,
    pub model: String,
    pub rung: i64,
    /// An earlier attempt of the task had failed.
    pub escalated: bool,
    pub outcome: Option<String>,
    pub detail: Option<String>,
    pub usage: Usage,
    pub cost_nusd: i64,
}

fn usage_at(r: &sqlx::sqlite::SqliteRow, first: usize) -> Usage {
    let n = |i: usize| r.get::<i64, _>(first + i) as u64;
    Usage {
        input_tokens: n(0),
        output_tokens: n(1),
        cached_input_tokens: n(2),
        cache_write_tokens: n(3),
    }
}

/// The model layer with a fresh migrated database, pointed at a fresh fake provider.
pub struct Harness {
    pub llm: Llm,
    pub fake: FakeProvider,
    tasks: AtomicUsize,
    _dir: TempDir,
}

impl Harness {
    pub async fn start(tweak: impl FnOnce(&mut LlmSettings)) -> Self {
        Self::start_with(tweak, None).await
    }

    /// `clock`: a fixed Unix-ms time for budget periods and ledger rows.
    pub async fn start_with(tweak: impl FnOnce(&mut LlmSettings), clock: Option<i64>) -> Self {
        let fake = FakeProvider::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::support::fresh_store(dir.path()).await;
        let mut s = settings(&fake);
        tweak(&mut s);
        let mut llm = Llm::new(store, s, keys(), vec![WEBHOOK_SECRET.to_owned()])
            .await
            .unwrap();
        if let Some(at) = clock {
            llm = llm.with_clock(Arc::new(move || at));
        }
        Self {
            llm,
            fake,
            tasks: AtomicUsize::new(0),
            _dir: dir,
        }
    }

    /// A fresh triage task for `installation`.
    pub fn task(&self, installation: &str) -> TaskRun {
        let n = self.tasks.fetch_add(1, Ordering::SeqCst) + 1;
        self.llm.task(TaskSpec {
            id: format!("{installation}/app#{n}/triage"),
            kind: TaskKind::Triage,
            complexity: Complexity::Low,
            risk: Risk::Low,
            installation: installation.to_owned(),
            repo: Some(format!("{installation}/app")),
            paths: Vec::new(),
        })
    }

    /// One task, one attempt, one call (with the configured retries), as `acme`.
    pub async fn call(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.call_as("acme", req).await
    }

    pub async fn call_as(
        &self,
        installation: &str,
        req: &ChatRequest,
    ) -> Result<ChatResponse, CallError> {
        crate::support::one_call(&mut self.task(installation), req).await
    }

    pub async fn provider_error(&self, req: &ChatRequest) -> ProviderError {
        match self.call(req).await {
            Err(CallError::Provider(e)) => e,
            other => panic!("expected a provider error, got {other:?}"),
        }
    }

    pub async fn calls(&self) -> Vec<CallRow> {
        sqlx::query(
            "SELECT attempt_id, installation, model, tier, input_tokens, output_tokens,
                    cached_input_tokens, cache_write_tokens, cost_nusd, outcome, error
             FROM llm_calls ORDER BY id",
        )
        .fetch_all(self.llm.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| CallRow {
            attempt_id: r.get(0),
            installation: r.get(1),
            model: r.get(2),
            tier: r.get(3),
            usage: usage_at(r, 4),
            cost_nusd: r.get(8),
            outcome: r.get(9),
            error: r.get(10),
        })
        .collect()
    }

    /// The `outcome` column of `llm_calls`, oldest first.
    pub async fn call_outcomes(&self) -> Vec<String> {
        self.calls().await.into_iter().map(|r| r.outcome).collect()
    }

    pub async fn attempts(&self) -> Vec<AttemptRow> {
        sqlx::query(
            "SELECT id, model, rung, outcome, detail, input_tokens, output_tokens,
                    cached_input_tokens, cache_write_tokens, cost_nusd, escalated
             FROM llm_attempts ORDER BY id",
        )
        .fetch_all(self.llm.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| AttemptRow {
            id: r.get(0),
            model: r.get(1),
            rung: r.get(2),
            outcome: r.get(3),
            detail: r.get(4),
            usage: usage_at(r, 5),
            cost_nusd: r.get(9),
            escalated: r.get(10),
        })
        .collect()
    }
}

/// A file of `corpus/llm-api`.
pub fn body(path: &str) -> String {
    let path = corpus().join("llm-api").join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn corpus_json(path: &str) -> Value {
    serde_json::from_str(&body(path)).unwrap()
}

/// The `error.message` of a corpus error body.
pub fn message_of(path: &str) -> String {
    corpus_json(path)["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The documented default completion, saying `content` instead.
pub fn openai_says(content: &str) -> String {
    let mut v = corpus_json("openai/chat-completion.default.response.json");
    v["choices"][0]["message"]["content"] = json!(content);
    v.to_string()
}

/// The recorded end-turn message, saying `text` instead.
pub fn anthropic_says(text: &str) -> String {
    let mut v = corpus_json("anthropic/messages.end-turn.response.json");
    v["content"][0]["text"] = json!(text);
    v.to_string()
}

/// The recorded tool-use message, calling `name` with `input` instead.
pub fn anthropic_calls(name: &str, input: Value) -> String {
    let mut v = corpus_json("anthropic/messages.tool-use.response.json");
    v["content"][0]["name"] = json!(name);
    v["content"][0]["input"] = input;
    v.to_string()
}
