//! The model layer's settings pointed at the fake, and the keys they name.

use std::collections::BTreeMap;
use std::sync::Arc;

use orion_bot::llm::{
    KeyLookup, LlmConfig, LlmSettings, ModelConfig, Provider, RoutingConfig, TiersConfig,
};

use super::FakeModel;

/// The operator's keys. Token-shaped, so a test can check that redaction keeps them out of
/// every prompt.
const OPENAI_KEY: &str = "sk-proj-fakeModelOpenaiKey0123456789abc";
const ANTHROPIC_KEY: &str = "sk-ant-api03-fakeModelAnthropicKey01234";

/// Two models on the OpenAI wire, `cheap` (tactical) and `strong` (strategic), and `claude` on
/// the Anthropic wire, configured but on no tier: a test puts it on the ladder to exercise that
/// wire. Each model's id on the wire is its name, so [`FakeModel::for_model`] takes the name.
///
/// Prices are round (per million tokens: cheap $1 in / $4 out, strong $10 / $40, claude $3 /
/// $15) so a test can work out a cost by hand and set budgets that bite. Calls are not retried:
/// each call consumes exactly one scripted answer, and a scripted failure escalates at once
/// (set `llm.retries` to watch retries).
pub fn settings(fake: &FakeModel) -> LlmSettings {
    let openai = |name: &str, input: f64, output: f64| ModelConfig {
        provider: Provider::Openai,
        model: name.to_owned(),
        base_url: Some(fake.openai_url()),
        api_key_env: Some("OPENAI_API_KEY".to_owned()),
        input_usd_per_mtok: input,
        output_usd_per_mtok: output,
        cached_input_usd_per_mtok: Some(input / 10.0),
        cache_write_usd_per_mtok: None,
        context_window: 128_000,
        max_output_tokens: 16_384,
        tools: true,
        vision: false,
        structured: true,
        enabled: true,
        // Long enough for any simulated latency a benchmark sets.
        timeout_secs: 30,
    };
    let claude = ModelConfig {
        provider: Provider::Anthropic,
        base_url: Some(fake.anthropic_url()),
        api_key_env: Some("ANTHROPIC_API_KEY".to_owned()),
        cache_write_usd_per_mtok: Some(3.75),
        context_window: 200_000,
        ..openai("claude", 3.0, 15.0)
    };
    LlmSettings {
        models: [
            ("cheap".to_owned(), openai("cheap", 1.0, 4.0)),
            ("strong".to_owned(), openai("strong", 10.0, 40.0)),
            ("claude".to_owned(), claude),
        ]
        .into(),
        tiers: TiersConfig {
            tactical: vec!["cheap".to_owned()],
            strategic: vec!["strong".to_owned()],
        },
        routing: RoutingConfig::default(),
        budgets: Default::default(),
        llm: LlmConfig {
            retries: 0,
            retry_base_ms: 10,
            max_retry_wait_ms: 1_000,
            // Scripted failures must not open circuits behind a test's back.
            breaker_threshold: 100,
            breaker_cooldown_ms: 200,
            byok: BTreeMap::new(),
        },
    }
}

/// Resolves the key names [`settings`] configures, without touching the process environment.
pub fn keys() -> KeyLookup {
    Arc::new(|name| match name {
        "OPENAI_API_KEY" => Some(OPENAI_KEY.to_owned()),
        "ANTHROPIC_API_KEY" => Some(ANTHROPIC_KEY.to_owned()),
        _ => None,
    })
}
