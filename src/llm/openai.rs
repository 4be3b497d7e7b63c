//! OpenAI Chat Completions (`POST {base_url}/chat/completions`), which OpenAI-compatible servers
//! (DeepSeek, OpenRouter, Groq, Together, Gemini's OpenAI endpoint, Ollama, vLLM, llama.cpp) speak too.

use serde::Deserialize;
use serde_json::{Value, json};

use super::config::ModelConfig;
use super::error::ProviderError;
use super::types::{ChatRequest, ChatResponse, Part, Role, StopReason, ToolChoice, Usage};

pub fn endpoint(model: &ModelConfig) -> String {
    format!("{}/chat/completions", model.base_url())
}

/// The request body. `max_output_tokens` is already capped to the model's limit.
pub fn request_body(model: &ModelConfig, req: &ChatRequest, max_output_tokens: u32) -> Value {
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if !req.system.is_empty() {
        messages.push(json!({"role": "system", "content": req.system}));
    }
    for m in &req.messages {
        let mut text = String::new();
        let mut calls = Vec::new();
        for p in &m.parts {
            match p {
                Part::Text { text: t } => {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(t);
                }
                Part::ToolCall {
                    id,
                    name,
                    arguments,
                } => calls.push(json!({
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments.to_string()},
                })),
                // Each result is its own `tool` message, and must directly follow the assistant
                // message that asked for it, so results go before any text of the same turn.
                Part::ToolResult {
                    call_id, content, ..
                } => messages.push(json!({
                    "role": "tool",
                    "tool_call_id": call_id,
                    "content": content,
                })),
            }
        }
        match m.role {
            Role::User if !text.is_empty() => {
                messages.push(json!({"role": "user", "content": text}));
            }
            Role::User => {}
            Role::Assistant => {
                let mut msg = json!({
                    "role": "assistant",
                    "content": if text.is_empty() { Value::Null } else { Value::String(text) },
                });
                if !calls.is_empty() {
                    msg["tool_calls"] = Value::Array(calls);
                }
                messages.push(msg);
            }
        }
    }
    let mut body = json!({"model": model.model, "messages": messages});
    // OpenAI's own models take `max_completion_tokens` (reasoning models reject `max_tokens`);
    // compatible servers generally know only `max_tokens`.
    let field = if model.base_url().contains("api.openai.com") {
        "max_completion_tokens"
    } else {
        "max_tokens"
    };
    body[field] = json!(max_output_tokens);
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    if !req.tools.is_empty() {
        body["tools"] = req
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters,
                }})
            })
            .collect();
        body["tool_choice"] = match &req.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::Required => json!("required"),
            ToolChoice::None => json!("none"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    if let Some(out) = &req.output {
        if model.structured {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": out.name, "schema": out.schema, "strict": false},
            });
        } else {
            // Servers without JSON-schema output (DeepSeek, many local ones) take JSON mode;
            // the schema goes into the instructions instead, and the answer is checked anyway.
            body["response_format"] = json!({"type": "json_object"});
            let instruction = format!(
                "Answer with one JSON object matching this JSON Schema, and nothing else:\n{}",
                out.schema
            );
            let messages = body["messages"]
                .as_array_mut()
                .expect("messages is an array");
            match messages.first_mut() {
                Some(first) if first["role"] == "system" => {
                    let text = format!(
                        "{}\n\n{instruction}",
                        first["content"].as_str().unwrap_or("")
                    );
                    first["content"] = json!(text);
                }
                _ => messages.insert(0, json!({"role": "system", "content": instruction})),
            }
        }
    }
    body
}

#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Vec<WireToolCall>,
}

#[derive(Deserialize)]
struct WireToolCall {
    id: String,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: u64,
    completion_tokens: u64,
    prompt_tokens_details: Option<PromptDetails>,
    /// DeepSeek reports its cache hits here instead of in `prompt_tokens_details`.
    prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct PromptDetails {
    cached_tokens: Option<u64>,
}

/// Parses a 2xx body. A body that is not a chat completion is [`ProviderError::MalformedOutput`];
/// an answer that is merely not what was asked for (not JSON) is returned for the caller to judge,
/// with its usage, since the provider bills it.
pub fn parse_response(body: &str, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
    let malformed = |message: String| ProviderError::MalformedOutput { message };
    let c: Completion =
        serde_json::from_str(body).map_err(|e| malformed(format!("not a chat completion: {e}")))?;
    let choice = c
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| malformed("the completion has no choices".into()))?;
    let mut parts = Vec::new();
    if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
        parts.push(Part::Text { text });
    }
    for call in choice.message.tool_calls {
        // Arguments that are not JSON are kept as the string the model wrote: the tool runner
        // answers it with an error result and the model corrects itself, as with any bad call.
        let raw = call.function.arguments;
        let arguments = if raw.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&raw).unwrap_or(Value::String(raw))
        };
        parts.push(Part::ToolCall {
            id: call.id,
            name: call.function.name,
            arguments,
        });
    }
    let refused = choice.message.refusal.filter(|r| !r.is_empty());
    let stop = match (&refused, choice.finish_reason.as_deref()) {
        (Some(_), _) | (_, Some("content_filter")) => StopReason::Refused,
        (_, Some("stop")) => StopReason::EndTurn,
        (_, Some("tool_calls" | "function_call")) => StopReason::ToolUse,
        (_, Some("length")) => StopReason::MaxTokens,
        (_, other) => StopReason::Other(other.unwrap_or("none").to_owned()),
    };
    let usage = c
        .usage
        .map(|u| {
            let cached = u
                .prompt_tokens_details
                .and_then(|d| d.cached_tokens)
                .or(u.prompt_cache_hit_tokens)
                .unwrap_or(0)
                .min(u.prompt_tokens);
            Usage {
                input_tokens: u.prompt_tokens - cached,
                output_tokens: u.completion_tokens,
                cached_input_tokens: cached,
                cache_write_tokens: 0,
            }
        })
        .unwrap_or_default();
    let mut response = ChatResponse {
        model: c.model.unwrap_or_default(),
        id: c.id.unwrap_or_default(),
        parts,
        stop,
        usage,
        structured: None,
    };
    if req.output.is_some() && refused.is_none() {
        // An answer that is not JSON is still an answer (and billed): the caller judges it.
        response.structured = super::json_answer(&response.text()).ok();
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Message, OutputSchema};

    #[test]
    fn models_without_schema_output_get_json_mode_and_the_schema_in_the_instructions() {
        let mut model: ModelConfig = toml::from_str(
            r#"provider = "openai"
               model = "deepseek-chat"
               base_url = "https://api.deepseek.com/v1"
               input_usd_per_mtok = 0.28
               output_usd_per_mtok = 0.42
               context_window = 128000
               structured = false"#,
        )
        .unwrap();
        let mut req = ChatRequest::new("You triage issues.", vec![Message::user("Crash on start")]);
        let schema = json!({"type": "object", "properties": {"label": {"type": "string"}}});
        req.output = Some(OutputSchema {
            name: "triage".into(),
            schema: schema.clone(),
        });
        let body = request_body(&model, &req, 100);
        assert_eq!(body["response_format"], json!({"type": "json_object"}));
        let system = body["messages"][0]["content"].as_str().unwrap();
        assert!(system.starts_with("You triage issues.\n\nAnswer with one JSON object"));
        assert!(system.contains(&schema.to_string()));
        assert_eq!(body["max_tokens"], 100);

        model.structured = true;
        let body = request_body(&model, &req, 100);
        assert_eq!(body["response_format"]["type"], "json_schema");
        assert_eq!(body["messages"][0]["content"], "You triage issues.");
    }

    #[test]
    fn deepseek_cache_hits_are_read() {
        let body = r#"{"id":"x","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":1000,"completion_tokens":5,"total_tokens":1005,"prompt_cache_hit_tokens":800,"prompt_cache_miss_tokens":200}}"#;
        let r = parse_response(body, &ChatRequest::new("", vec![])).unwrap();
        assert_eq!(r.usage.cached_input_tokens, 800);
        assert_eq!(r.usage.input_tokens, 200);
    }
}
