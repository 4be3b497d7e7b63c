//! Anthropic Messages (`POST {base_url}/v1/messages`).

use serde::Deserialize;
use serde_json::{Value, json};

use super::config::{ModelConfig, Provider};
use super::error::ProviderError;
use super::types::{ChatRequest, ChatResponse, Part, Role, StopReason, ToolChoice, Usage};

/// The API version Orion's wire format follows.
pub const VERSION: &str = "2023-06-01";

pub fn endpoint(model: &ModelConfig) -> String {
    format!("{}/v1/messages", model.base_url())
}

const EPHEMERAL: &str = "ephemeral";

/// The request body. With `cache_prefix`, the last tool and the system prompt carry
/// `cache_control`, so the stable prefix (tools, then system) is cached across a task's calls.
pub fn request_body(model: &ModelConfig, req: &ChatRequest, max_output_tokens: u32) -> Value {
    let messages: Vec<Value> = req
        .messages
        .iter()
        .map(|m| {
            let content: Vec<Value> = m
                .parts
                .iter()
                .map(|p| match p {
                    Part::Text { text } => json!({"type": "text", "text": text}),
                    Part::ToolCall {
                        id,
                        name,
                        arguments,
                    } => json!({"type": "tool_use", "id": id, "name": name, "input": arguments}),
                    Part::ToolResult {
                        call_id,
                        content,
                        is_error,
                    } => json!({
                        "type": "tool_result", "tool_use_id": call_id,
                        "content": content, "is_error": is_error,
                    }),
                })
                .collect();
            json!({
                "role": match m.role { Role::User => "user", Role::Assistant => "assistant" },
                "content": content,
            })
        })
        .collect();
    let mut body = json!({
        "model": model.model,
        "max_tokens": max_output_tokens,
        "messages": messages,
    });
    if !req.system.is_empty() {
        let mut block = json!({"type": "text", "text": req.system});
        if req.cache_prefix {
            block["cache_control"] = json!({"type": EPHEMERAL});
        }
        body["system"] = json!([block]);
    }
    if let Some(t) = req.temperature {
        body["temperature"] = json!(t);
    }
    let mut tools: Vec<Value> = req
        .tools
        .iter()
        .map(
            |t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}),
        )
        .collect();
    let mut choice = match &req.tool_choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
    };
    // Structured output is a forced call of a tool whose input schema is the answer's.
    if let Some(out) = &req.output {
        tools.push(json!({
            "name": out.name,
            "description": "Give your answer by calling this tool; its input is the answer.",
            "input_schema": out.schema,
        }));
        choice = json!({"type": "tool", "name": out.name});
    }
    if req.cache_prefix
        && let Some(last) = tools.last_mut()
    {
        last["cache_control"] = json!({"type": EPHEMERAL});
    }
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
        body["tool_choice"] = choice;
    }
    body
}

#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    content: Vec<Block>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    /// Thinking, server tool results and whatever comes next: not part of the answer.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct WireUsage {
    input_tokens: u64,
    output_tokens: u64,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
}

/// Parses a 2xx body. An error object in a 2xx (as Anthropic sends mid-stream) is classified like
/// an error answer; a body that is not a message is [`ProviderError::MalformedOutput`]. An answer
/// without the requested output tool is returned for the caller to judge (it is billed).
pub fn parse_response(body: &str, req: &ChatRequest) -> Result<ChatResponse, ProviderError> {
    let malformed = |message: String| ProviderError::MalformedOutput { message };
    let m: Message =
        serde_json::from_str(body).map_err(|e| malformed(format!("not a message: {e}")))?;
    if m.kind.as_deref() == Some("error") {
        return Err(ProviderError::from_response(
            Provider::Anthropic,
            200,
            &Default::default(),
            body,
        ));
    }
    let output_tool = req.output.as_ref().map(|o| o.name.as_str());
    let mut structured = None;
    let mut parts = Vec::new();
    for block in m.content {
        match block {
            Block::Text { text } => parts.push(Part::Text { text }),
            Block::ToolUse { name, input, .. } if Some(name.as_str()) == output_tool => {
                structured = Some(input);
            }
            Block::ToolUse { id, name, input } => parts.push(Part::ToolCall {
                id,
                name,
                arguments: input,
            }),
            Block::Other => {}
        }
    }
    let stop = match m.stop_reason.as_deref() {
        Some("end_turn") => StopReason::EndTurn,
        // A forced output tool is the answer, not a request to run something.
        Some("tool_use") if structured.is_some() && !parts.iter().any(is_call) => {
            StopReason::EndTurn
        }
        Some("tool_use") => StopReason::ToolUse,
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        Some("refusal") => StopReason::Refused,
        other => StopReason::Other(other.unwrap_or("none").to_owned()),
    };
    let usage = m
        .usage
        .map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cached_input_tokens: u.cache_read_input_tokens.unwrap_or(0),
            cache_write_tokens: u.cache_creation_input_tokens.unwrap_or(0),
        })
        .unwrap_or_default();
    if output_tool.is_some() && structured.is_none() && stop != StopReason::MaxTokens {
        // Some compatible servers ignore a forced tool and answer in text: accept JSON text.
        // Anything else is returned without a structured answer, for the caller to judge.
        let text: String = parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        structured = super::json_answer(&text).ok();
    }
    Ok(ChatResponse {
        model: m.model.unwrap_or_default(),
        id: m.id.unwrap_or_default(),
        parts,
        stop,
        usage,
        structured,
    })
}

fn is_call(p: &Part) -> bool {
    matches!(p, Part::ToolCall { .. })
}
