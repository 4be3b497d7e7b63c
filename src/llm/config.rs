//! The model layer's configuration: `[models.NAME]`, `[tiers]`, `[routing]`, `[budgets]` and
//! `[llm]` in `orion.toml`. Validated with the rest of the config; API keys are read from the
//! environment variables the config *names*, never from the file.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::Problem;

/// The wire protocol a model speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// OpenAI Chat Completions, and everything compatible with it (DeepSeek, OpenRouter, Groq,
    /// Together, Gemini's OpenAI endpoint, Ollama, vLLM, llama.cpp).
    Openai,
    /// Anthropic Messages.
    Anthropic,
}

impl Provider {
    /// Where the official SDKs point by default.
    pub fn default_base_url(self) -> &'static str {
        match self {
            Self::Openai => "https://api.openai.com/v1",
            Self::Anthropic => "https://api.anthropic.com",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Openai => "openai",
            Self::Anthropic => "anthropic",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub provider: Provider,
    /// The provider's model id, e.g. `claude-sonnet-4-5` or `gpt-5-mini`.
    pub model: String,
    /// As the official SDKs take it: `https://api.openai.com/v1`, `https://api.anthropic.com`,
    /// `http://localhost:11434/v1` for Ollama. Defaults to the provider's.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key. None for local servers without auth.
    #[serde(default)]
    pub api_key_env: Option<String>,
    pub input_usd_per_mtok: f64,
    pub output_usd_per_mtok: f64,
    /// Price of prompt tokens read from the provider's cache. Defaults to the input price, which
    /// overstates cost rather than understating it.
    #[serde(default)]
    pub cached_input_usd_per_mtok: Option<f64>,
    /// Price of prompt tokens written to the cache (Anthropic: 1.25× input for the 5-minute cache).
    /// Defaults to 1.25× input for Anthropic and the input price otherwise.
    #[serde(default)]
    pub cache_write_usd_per_mtok: Option<f64>,
    /// Prompt plus answer tokens the model accepts. Routing skips models a prompt cannot fit.
    pub context_window: u64,
    /// Largest answer the model can produce; requests asking for more are capped to it.
    #[serde(default = "default_max_output")]
    pub max_output_tokens: u32,
    /// Can call tools (function calling). A model without tools never gets a tool task.
    #[serde(default = "yes")]
    pub tools: bool,
    #[serde(default)]
    pub vision: bool,
    /// Honours a JSON schema for its answer (OpenAI `response_format: json_schema`, Anthropic
    /// forced tool). When false (DeepSeek, many local servers), Orion asks for JSON mode with
    /// the schema in the instructions; either way the answer is checked and repaired once.
    #[serde(default = "yes")]
    pub structured: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long one request may take before it counts as a timeout.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn yes() -> bool {
    true
}
fn default_max_output() -> u32 {
    8192
}
fn default_timeout() -> u64 {
    120
}

impl ModelConfig {
    pub fn base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(self.provider.default_base_url())
            .trim_end_matches('/')
    }
    pub fn cached_input_price(&self) -> f64 {
        self.cached_input_usd_per_mtok
            .unwrap_or(self.input_usd_per_mtok)
    }
    pub fn cache_write_price(&self) -> f64 {
        self.cache_write_usd_per_mtok
            .unwrap_or(match self.provider {
                Provider::Anthropic => self.input_usd_per_mtok * 1.25,
                Provider::Openai => self.input_usd_per_mtok,
            })
    }
}

/// A tier of the split brain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Tactical,
    Strategic,
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tactical => "tactical",
            Self::Strategic => "strategic",
        })
    }
}

/// Ordered escalation ladders, cheapest first. Together (tactical, then strategic) they form the
/// one ladder a failing task climbs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TiersConfig {
    pub tactical: Vec<String>,
    pub strategic: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The cheapest model whose learned success rate for the task kind clears the threshold.
    CostAware,
    /// The strongest eligible model, always.
    Quality,
    /// `routing.fixed_model`, always (guardrails still apply).
    Fixed,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CostAware => "cost_aware",
            Self::Quality => "quality",
            Self::Fixed => "fixed",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingConfig {
    pub strategy: Strategy,
    /// The model `fixed` uses.
    pub fixed_model: Option<String>,
    /// Success rate a model must (optimistically) reach on a kind of task to be picked by
    /// `cost_aware`.
    pub success_threshold: f64,
    /// The threshold while a budget is past `warn_at`: lower, so cheaper models get the work.
    pub warn_success_threshold: f64,
    /// Attempts per task across all rungs before it is blocked.
    pub max_attempts: u32,
    /// Globs of files whose changes need at least `sensitive_floor`: authentication, crypto,
    /// secrets, CI workflows. Matched against repository-relative paths.
    pub sensitive_paths: Vec<String>,
    /// The weakest model or tier allowed on sensitive files and high-risk tasks.
    pub sensitive_floor: String,
    /// Weight of the prior, in pseudo-attempts: how much evidence outweighs the tier's reputation.
    pub prior_strength: f64,
    /// Width of the optimism bonus, in posterior standard deviations (Bayes-UCB).
    pub exploration: f64,
    /// Overrides of a task kind's default tier, e.g. `review = "tactical"`.
    pub kind_tiers: BTreeMap<String, Tier>,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::CostAware,
            fixed_model: None,
            success_threshold: 0.8,
            warn_success_threshold: 0.65,
            max_attempts: 3,
            sensitive_paths: [
                "**/auth/**",
                "**/*auth*.*",
                "**/crypto/**",
                "**/*crypto*.*",
                "**/*secret*",
                "**/*password*",
                "**/*.pem",
                "**/*.key",
                ".github/workflows/**",
                ".github/actions/**",
                "**/.env*",
            ]
            .map(str::to_owned)
            .to_vec(),
            sensitive_floor: "strategic".to_owned(),
            prior_strength: 2.0,
            exploration: 1.0,
            kind_tiers: BTreeMap::new(),
        }
    }
}

/// Spending limits. A limit left out is not enforced.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetLimits {
    /// Per installation (GitHub installation or org, Linear organization), per UTC day.
    pub daily_usd: Option<f64>,
    /// Per installation, per UTC calendar month.
    pub monthly_usd: Option<f64>,
    /// Per task (one issue implemented, one PR reviewed), across all its attempts.
    pub per_task_usd: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    #[serde(flatten)]
    pub limits: BudgetLimits,
    /// Fraction of a limit at which routing turns frugal and says so.
    pub warn_at: f64,
    /// Fraction at which new model work is refused until the period rolls over.
    pub stop_at: f64,
    /// Per-installation limits replacing the defaults above (each limit separately).
    pub installations: BTreeMap<String, BudgetLimits>,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            limits: BudgetLimits::default(),
            warn_at: 0.8,
            stop_at: 0.95,
            installations: BTreeMap::new(),
        }
    }
}

impl BudgetConfig {
    /// The limits that apply to an installation.
    pub fn limits_for(&self, installation: &str) -> BudgetLimits {
        let own = self.installations.get(installation);
        let pick = |f: fn(&BudgetLimits) -> Option<f64>| own.and_then(f).or(f(&self.limits));
        BudgetLimits {
            daily_usd: pick(|l| l.daily_usd),
            monthly_usd: pick(|l| l.monthly_usd),
            per_task_usd: pick(|l| l.per_task_usd),
        }
    }
}

/// How calls are made: retries, breaker, bring-your-own-key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Retries of one call on a transient error (rate limit, overload, 5xx, timeout), same model.
    pub retries: u32,
    /// First retry delay when the provider gives no `retry-after`; doubles with jitter.
    pub retry_base_ms: u64,
    /// Longest wait Orion honours before retrying. A provider asking for longer is treated as
    /// failed for now, so the task escalates instead of stalling.
    pub max_retry_wait_ms: u64,
    /// Consecutive failed calls that open a model's circuit.
    pub breaker_threshold: u32,
    /// How long an open circuit refuses calls before one probe is let through.
    pub breaker_cooldown_ms: u64,
    /// Bring-your-own-key: `[llm.byok.<installation>]` maps a model name or a provider name
    /// (`openai`, `anthropic`) to the environment variable holding that installation's key.
    pub byok: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            retries: 2,
            retry_base_ms: 1_000,
            max_retry_wait_ms: 60_000,
            breaker_threshold: 5,
            breaker_cooldown_ms: 60_000,
            byok: BTreeMap::new(),
        }
    }
}

/// The part of the configuration the model layer reads, reloadable as one value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmSettings {
    pub models: BTreeMap<String, ModelConfig>,
    pub tiers: TiersConfig,
    pub routing: RoutingConfig,
    pub budgets: BudgetConfig,
    pub llm: LlmConfig,
}

impl LlmSettings {
    pub fn from_config(c: &crate::config::Config) -> Self {
        Self {
            models: c.models.clone(),
            tiers: c.tiers.clone(),
            routing: c.routing.clone(),
            budgets: c.budgets.clone(),
            llm: c.llm.clone(),
        }
    }

    /// The escalation ladder: tactical then strategic, each model once, with its tier.
    pub fn ladder(&self) -> Vec<(String, Tier)> {
        let mut out: Vec<(String, Tier)> = Vec::new();
        for (tier, names) in [
            (Tier::Tactical, &self.tiers.tactical),
            (Tier::Strategic, &self.tiers.strategic),
        ] {
            for n in names {
                if !out.iter().any(|(m, _)| m == n) {
                    out.push((n.clone(), tier));
                }
            }
        }
        out
    }

    /// Checks the model layer's keys. Environment-dependent checks are in [`Self::missing_keys`].
    pub fn validate(&self, out: &mut Vec<Problem>) {
        let mut bad = |key: String, message: String, fix: &str| {
            out.push(Problem {
                key,
                message,
                fix: fix.to_owned(),
            })
        };
        for (name, m) in &self.models {
            let k = |field: &str| format!("models.{name}.{field}");
            if m.model.trim().is_empty() {
                bad(
                    k("model"),
                    "is empty".into(),
                    "set the provider's model id, e.g. \"claude-sonnet-4-5\"",
                );
            }
            for (field, v) in [
                ("input_usd_per_mtok", Some(m.input_usd_per_mtok)),
                ("output_usd_per_mtok", Some(m.output_usd_per_mtok)),
                ("cached_input_usd_per_mtok", m.cached_input_usd_per_mtok),
                ("cache_write_usd_per_mtok", m.cache_write_usd_per_mtok),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    bad(
                        k(field),
                        format!("{v} is not a price"),
                        "use USD per million tokens, 0 for a free local model",
                    );
                }
            }
            if m.context_window < 1024 {
                bad(
                    k("context_window"),
                    format!("{} tokens cannot hold a prompt", m.context_window),
                    "use the model's documented context window, e.g. 200000",
                );
            }
            if u64::from(m.max_output_tokens) >= m.context_window || m.max_output_tokens == 0 {
                bad(
                    k("max_output_tokens"),
                    format!(
                        "{} does not fit inside context_window {}",
                        m.max_output_tokens, m.context_window
                    ),
                    "use the model's documented output limit",
                );
            }
            if let Some(url) = &m.base_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                bad(
                    k("base_url"),
                    format!("{url:?} is not an http(s) URL"),
                    "use e.g. \"https://api.openai.com/v1\" or \"http://localhost:11434/v1\"",
                );
            }
            if m.timeout_secs == 0 {
                bad(k("timeout_secs"), "must be positive".into(), "use 120");
            }
        }
        for (tier, names) in [
            ("tactical", &self.tiers.tactical),
            ("strategic", &self.tiers.strategic),
        ] {
            for (i, n) in names.iter().enumerate() {
                if !self.models.contains_key(n) {
                    bad(
                        format!("tiers.{tier}[{i}]"),
                        format!("unknown model {n:?}"),
                        "name a [models.NAME] section, or add one",
                    );
                }
            }
            if names.is_empty() && !self.models.is_empty() {
                bad(
                    format!("tiers.{tier}"),
                    "is empty, so tasks of this tier have no model".into(),
                    "list model names cheapest first, e.g. [\"haiku\"]",
                );
            }
            if !names.is_empty()
                && names
                    .iter()
                    .all(|n| self.models.get(n).is_some_and(|m| !m.enabled))
            {
                bad(
                    format!("tiers.{tier}"),
                    "every model in it is disabled".into(),
                    "enable one, or add an enabled model",
                );
            }
        }
        let r = &self.routing;
        for (key, v) in [
            ("routing.success_threshold", r.success_threshold),
            ("routing.warn_success_threshold", r.warn_success_threshold),
        ] {
            if !(0.0..=1.0).contains(&v) {
                bad(
                    key.into(),
                    format!("{v} is not a rate"),
                    "use a value in 0..=1, e.g. 0.8",
                );
            }
        }
        if r.max_attempts == 0 {
            bad(
                "routing.max_attempts".into(),
                "must be at least 1".into(),
                "use 3",
            );
        }
        if !(r.prior_strength.is_finite() && r.prior_strength > 0.0) {
            bad(
                "routing.prior_strength".into(),
                "must be positive".into(),
                "use 2",
            );
        }
        if !(r.exploration.is_finite() && r.exploration >= 0.0) {
            bad(
                "routing.exploration".into(),
                "must be zero or positive".into(),
                "use 1",
            );
        }
        for (i, g) in r.sensitive_paths.iter().enumerate() {
            if let Err(e) = globset::Glob::new(g) {
                bad(
                    format!("routing.sensitive_paths[{i}]"),
                    format!("{g:?} is not a glob: {e}"),
                    "use globs like \"**/auth/**\"",
                );
            }
        }
        let ladder = self.ladder();
        let on_ladder = |m: &str| ladder.iter().any(|(n, _)| n == m);
        let floor = &r.sensitive_floor;
        if floor != "tactical" && floor != "strategic" && !on_ladder(floor) {
            bad(
                "routing.sensitive_floor".into(),
                format!("{floor:?} is neither a tier nor a model in [tiers]"),
                "use \"strategic\", \"tactical\" or a model name from [tiers]",
            );
        }
        if r.strategy == Strategy::Fixed {
            match &r.fixed_model {
                None => bad(
                    "routing.fixed_model".into(),
                    "strategy \"fixed\" needs a model".into(),
                    "name a model from [models]",
                ),
                Some(m) if !on_ladder(m) => bad(
                    "routing.fixed_model".into(),
                    format!("{m:?} is not a model in [tiers]"),
                    "name a model listed in [tiers]",
                ),
                _ => {}
            }
        }
        for kind in r.kind_tiers.keys() {
            if super::TaskKind::parse(kind).is_none() {
                bad(
                    format!("routing.kind_tiers.{kind}"),
                    "unknown task kind".into(),
                    "use one of triage, plan, implement_step, review, fix, recover, report, summarize",
                );
            }
        }
        let b = &self.budgets;
        if !(0.0 < b.warn_at && b.warn_at < b.stop_at && b.stop_at <= 1.0) {
            bad(
                "budgets.warn_at".into(),
                format!(
                    "warn_at {} and stop_at {} must satisfy 0 < warn_at < stop_at <= 1",
                    b.warn_at, b.stop_at
                ),
                "use warn_at = 0.8 and stop_at = 0.95",
            );
        }
        let mut limits = vec![("budgets".to_owned(), &b.limits)];
        limits.extend(
            b.installations
                .iter()
                .map(|(k, l)| (format!("budgets.installations.{k}"), l)),
        );
        for (prefix, l) in limits {
            for (field, v) in [
                ("daily_usd", l.daily_usd),
                ("monthly_usd", l.monthly_usd),
                ("per_task_usd", l.per_task_usd),
            ] {
                if let Some(v) = v
                    && !(v.is_finite() && v > 0.0)
                {
                    bad(
                        format!("{prefix}.{field}"),
                        format!("{v} is not a positive amount"),
                        "use USD, e.g. 20.0, or leave it out for no limit",
                    );
                }
            }
            if let (Some(d), Some(m)) = (l.daily_usd, l.monthly_usd)
                && d > m
            {
                bad(
                    format!("{prefix}.daily_usd"),
                    format!("{d} is more than monthly_usd {m}"),
                    "lower daily_usd or raise monthly_usd",
                );
            }
        }
        let l = &self.llm;
        if l.retry_base_ms == 0 {
            bad(
                "llm.retry_base_ms".into(),
                "must be positive".into(),
                "use 1000",
            );
        }
        if l.breaker_threshold == 0 {
            bad(
                "llm.breaker_threshold".into(),
                "must be at least 1".into(),
                "use 5",
            );
        }
        for (inst, keys) in &l.byok {
            for name in keys.keys() {
                if name != "openai" && name != "anthropic" && !self.models.contains_key(name) {
                    bad(
                        format!("llm.byok.{inst}.{name}"),
                        "is neither a provider nor a model".into(),
                        "use \"openai\", \"anthropic\" or a model name",
                    );
                }
            }
        }
    }

    /// Enabled models in a tier whose key variable is unset, and BYOK variables that are unset.
    pub fn missing_keys(&self, env: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
        let mut out = Vec::new();
        for (name, _) in self.ladder() {
            let Some(m) = self.models.get(&name) else {
                continue;
            };
            if !m.enabled {
                continue;
            }
            if let Some(var) = &m.api_key_env
                && env(var).is_none_or(|v| v.trim().is_empty())
            {
                out.push(Problem {
                    key: format!("models.{name}.api_key_env"),
                    message: format!("environment variable {var} is not set"),
                    fix: format!(
                        "export {var}=<your {} API key>, or set enabled = false",
                        m.provider.name()
                    ),
                });
            }
        }
        for (inst, keys) in &self.llm.byok {
            for (name, var) in keys {
                if env(var).is_none_or(|v| v.trim().is_empty()) {
                    out.push(Problem {
                        key: format!("llm.byok.{inst}.{name}"),
                        message: format!("environment variable {var} is not set"),
                        fix: format!("export {var}=<{inst}'s key>, or remove the entry"),
                    });
                }
            }
        }
        out
    }
}
