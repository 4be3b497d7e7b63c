//! The model layer: every model call Orion makes goes through [`Llm`].
//!
//! A caller describes its task ([`TaskSpec`]: kind, complexity, risk, the paths it touches, who it
//! is for) and runs it as a [`TaskRun`]. Each attempt is routed ([`router`]) to the cheapest model
//! that can do it, checked against the budgets ([`budget`]) with the call's worst-case cost,
//! redacted ([`redact`]), sent with retries and a per-model circuit breaker ([`breaker`]), and
//! recorded ([`ledger`]) so that routing learns ([`perf`]). A failed attempt escalates up the
//! ladder; the attempt cap or the top rung blocks the task with its reason.

pub mod anthropic;
pub mod breaker;
pub mod budget;
pub mod client;
pub mod config;
pub mod error;
pub mod ledger;
pub mod openai;
pub mod perf;
pub mod redact;
pub mod router;
mod task;
pub mod types;

use std::sync::{Arc, Mutex, RwLock};

pub use config::{
    BudgetConfig, BudgetLimits, LlmConfig, LlmSettings, ModelConfig, Provider, RoutingConfig,
    Strategy, Tier, TiersConfig,
};
pub use error::ProviderError;
pub use router::{Complexity, Needs, Risk, Route, Router, TaskKind};
pub use task::{Attempt, AttemptOutcome, Blocked, CallError, TaskRun, TaskSpec};
pub use types::{
    ChatRequest, ChatResponse, Message, OutputSchema, Part, Role, StopReason, ToolChoice, ToolSpec,
    Usage,
};

use crate::config::Secret;
use crate::metrics::Metrics;
use crate::store::Store;
use breaker::{Breakers, CircuitState};
use budget::Reservations;
use client::ProviderClient;
use perf::Performance;
use redact::Redactor;

/// Looks up an environment variable by name: API keys are read through it, so tests need not
/// touch the process environment.
pub type KeyLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment as a [`KeyLookup`].
pub fn process_env() -> KeyLookup {
    Arc::new(|name| std::env::var(name).ok())
}

/// Unix milliseconds now; replaceable so tests can roll budget periods over.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// An API key and whether it is an installation's own.
struct ApiKey {
    secret: Secret,
    byok: bool,
}

/// The model layer. Cheap to clone.
#[derive(Clone)]
pub struct Llm(Arc<Inner>);

struct Inner {
    router: RwLock<Arc<Router>>,
    redactor: RwLock<Arc<Redactor>>,
    perf: Mutex<Performance>,
    breakers: Breakers,
    reservations: Arc<Reservations>,
    client: ProviderClient,
    store: Store,
    keys: KeyLookup,
    /// Secret values that must never reach a prompt besides the API keys (webhook secrets).
    other_secrets: Vec<String>,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for Llm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Llm")
            .field("models", &self.router().ladder().len())
            .finish_non_exhaustive()
    }
}

impl Llm {
    /// Builds the layer and loads the routing history from the database.
    pub async fn new(
        store: Store,
        settings: LlmSettings,
        keys: KeyLookup,
        other_secrets: Vec<String>,
    ) -> anyhow::Result<Self> {
        let perf = ledger::load_performance(&store).await?;
        let redactor = build_redactor(&settings, &keys, &other_secrets);
        Ok(Self(Arc::new(Inner {
            router: RwLock::new(Arc::new(Router::new(settings))),
            redactor: RwLock::new(Arc::new(redactor)),
            perf: Mutex::new(perf),
            breakers: Breakers::default(),
            reservations: Arc::new(Reservations::default()),
            client: ProviderClient::new(),
            store,
            keys,
            other_secrets,
            clock: Arc::new(crate::store::now_ms),
            metrics: None,
        })))
    }

    /// Replaces the clock (tests: budget periods rolling over).
    pub fn with_clock(self, clock: Clock) -> Self {
        self.rebuild(|i| i.clock = clock)
    }

    pub fn with_metrics(self, metrics: Arc<Metrics>) -> Self {
        self.rebuild(|i| i.metrics = Some(metrics))
    }

    fn rebuild(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Arc::try_unwrap(self.0)
            .unwrap_or_else(|_| panic!("Llm::with_* is for construction, before clones exist"));
        f(&mut inner);
        Self(Arc::new(inner))
    }

    /// Swaps in a new configuration (SIGHUP or a changed file). Calls in flight finish on the
    /// old one; the next routing decision uses the new one.
    pub fn reload(&self, settings: LlmSettings) {
        let redactor = build_redactor(&settings, &self.0.keys, &self.0.other_secrets);
        *self.0.redactor.write().expect("redactor lock") = Arc::new(redactor);
        *self.0.router.write().expect("router lock") = Arc::new(Router::new(settings));
    }

    /// The router for the configuration in force.
    pub fn router(&self) -> Arc<Router> {
        Arc::clone(&self.0.router.read().expect("router lock"))
    }

    /// A snapshot of what routing has learned.
    pub fn performance(&self) -> Performance {
        self.0.perf.lock().expect("perf lock").clone()
    }

    pub fn circuit(&self, model: &str) -> CircuitState {
        self.0.breakers.state(model)
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// Starts running a task.
    pub fn task(&self, spec: TaskSpec) -> TaskRun {
        TaskRun::new(self.clone(), spec)
    }

    fn now(&self) -> i64 {
        (self.0.clock)()
    }

    /// The key for `model` as used by `installation`: the installation's own key for the model,
    /// else its key for the provider (only when the model is on that provider's own API: an
    /// OpenAI key must never be sent to DeepSeek or a local server), else the model's key.
    fn key_for(&self, installation: &str, model_name: &str, model: &ModelConfig) -> Option<ApiKey> {
        let router = self.router();
        let byok = router.settings().llm.byok.get(installation).and_then(|b| {
            b.get(model_name).or_else(|| {
                (model.base_url() == model.provider.default_base_url())
                    .then(|| b.get(model.provider.name()))
                    .flatten()
            })
        });
        let (var, own) = match byok {
            Some(var) => (var, true),
            None => (model.api_key_env.as_ref()?, false),
        };
        (self.0.keys)(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| ApiKey {
                secret: Secret::new(v),
                byok: own,
            })
    }

    fn redactor(&self) -> Arc<Redactor> {
        Arc::clone(&self.0.redactor.read().expect("redactor lock"))
    }
}

/// Everything that must never reach a prompt: every API key the configuration names, and the
/// webhook secrets; plus the token shapes [`Redactor`] knows.
fn build_redactor(settings: &LlmSettings, keys: &KeyLookup, other: &[String]) -> Redactor {
    let mut values: Vec<String> = other.to_vec();
    let vars = settings
        .models
        .values()
        .filter_map(|m| m.api_key_env.clone())
        .chain(settings.llm.byok.values().flat_map(|b| b.values().cloned()));
    for var in vars {
        if let Some(v) = keys(&var) {
            values.push(v);
        }
    }
    Redactor::new(values)
}

/// Redacts every text of a request: system prompt, messages, tool results and tool arguments.
pub fn redact_request(redactor: &Redactor, req: &ChatRequest) -> ChatRequest {
    let mut out = req.clone();
    out.system = redactor.redact(&out.system).into_owned();
    for m in &mut out.messages {
        for p in &mut m.parts {
            match p {
                Part::Text { text } => *text = redactor.redact(text).into_owned(),
                Part::ToolResult { content, .. } => {
                    *content = redactor.redact(content).into_owned()
                }
                Part::ToolCall { arguments, .. } => redact_json(redactor, arguments),
            }
        }
    }
    out
}

/// Redacts every string inside a JSON value, leaving its structure alone: redacting the
/// serialized text instead would miss secrets that JSON escapes (quotes, backslashes) and could
/// cut through the punctuation.
fn redact_json(redactor: &Redactor, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => {
            if let std::borrow::Cow::Owned(clean) = redactor.redact(text) {
                *text = clean;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| redact_json(redactor, v)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| redact_json(redactor, v)),
        _ => {}
    }
}

/// Reads a JSON answer from model text, tolerating a Markdown code fence around it.
pub fn json_answer(text: &str) -> Result<serde_json::Value, ProviderError> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.trim_end().strip_suffix("```"))
        .unwrap_or(t)
        .trim();
    serde_json::from_str(t).map_err(|e| ProviderError::MalformedOutput {
        message: if t.is_empty() {
            "the answer is empty, expected JSON".to_owned()
        } else {
            format!("the answer is not JSON: {e}")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_arguments_are_redacted_leaf_by_leaf() {
        let secret = r#"pa"ss\word-0123456789"#;
        let token = format!("ghp_{}", "Ab3d".repeat(9));
        let redactor = Redactor::new([secret]);
        let mut req = ChatRequest::new(format!("never say {secret}"), vec![]);
        req.messages.push(Message {
            role: Role::Assistant,
            parts: vec![Part::ToolCall {
                id: "call_1".into(),
                name: "run".into(),
                arguments: json!({
                    "cmd": format!("login --password '{secret}'"),
                    "env": [{"GITHUB_TOKEN": token}],
                    "retries": 3,
                }),
            }],
        });
        let clean = redact_request(&redactor, &req);
        assert!(!clean.system.contains(secret));
        let Part::ToolCall { arguments, .. } = &clean.messages[0].parts[0] else {
            panic!("a tool call")
        };
        assert!(arguments.is_object(), "structure kept: {arguments}");
        assert_eq!(arguments["retries"], 3);
        assert_eq!(arguments["cmd"], "login --password '[REDACTED:secret]'");
        let shown = arguments.to_string();
        assert!(
            // The secret as JSON escapes it.
            !shown.contains(r#"pa\"ss\\word"#) && !shown.contains(&token),
            "{shown}"
        );
        assert!(shown.contains("[REDACTED:github-token]"), "{shown}");
    }
}
