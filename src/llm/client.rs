//! One HTTP request to one model, in its provider's wire format. Retries, the breaker, budgets and
//! the ledger are layered on top by [`super::Llm`]; this only speaks the protocol.

use std::time::Duration;

use super::config::{ModelConfig, Provider};
use super::error::ProviderError;
use super::types::{ChatRequest, ChatResponse};
use super::{anthropic, openai};
use crate::config::Secret;

#[derive(Debug, Clone)]
pub struct ProviderClient {
    http: reqwest::Client,
}

impl Default for ProviderClient {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderClient {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("orion-bot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("a TLS backend is compiled in");
        Self { http }
    }

    /// Sends `req` to `model` once. The caller has already redacted it.
    pub async fn send(
        &self,
        model: &ModelConfig,
        key: Option<&Secret>,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let max_output = req.max_output_tokens.min(model.max_output_tokens);
        let builder = match model.provider {
            Provider::Openai => {
                let b = self
                    .http
                    .post(openai::endpoint(model))
                    .json(&openai::request_body(model, req, max_output));
                match key {
                    Some(k) => b.bearer_auth(k.expose()),
                    None => b,
                }
            }
            Provider::Anthropic => {
                let b = self
                    .http
                    .post(anthropic::endpoint(model))
                    .header("anthropic-version", anthropic::VERSION)
                    .json(&anthropic::request_body(model, req, max_output));
                match key {
                    Some(k) => b.header("x-api-key", k.expose()),
                    None => b,
                }
            }
        };
        let timeout = Duration::from_secs(model.timeout_secs);
        let response = builder
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(e, timeout))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| transport(e, timeout))?;
        if !status.is_success() {
            return Err(ProviderError::from_response(
                model.provider,
                status.as_u16(),
                &headers,
                &body,
            ));
        }
        match model.provider {
            Provider::Openai => openai::parse_response(&body, req),
            Provider::Anthropic => anthropic::parse_response(&body, req),
        }
    }
}

fn transport(e: reqwest::Error, timeout: Duration) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Timeout {
            message: format!("no answer within {} s", timeout.as_secs()),
        }
    } else {
        // reqwest's Display omits the cause ("error sending request"); the chain says why.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        ProviderError::Unreachable { message }
    }
}
