//! The Anthropic Messages wire: what Orion sends (`llm::anthropic::request_body`) read back, and
//! answers shaped like the corpus's recorded messages.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::server::{Reply, Turn, corpus_json, fake_id, role_of, text_of, tokens};
use super::{SeenRequest, SeenToolResult, Wire};

/// Recorded messages: every answer is one of them, edited.
static END_TURN: LazyLock<Value> =
    LazyLock::new(|| corpus_json("anthropic/messages.end-turn.response.json"));
static TOOL_USE: LazyLock<Value> =
    LazyLock::new(|| corpus_json("anthropic/messages.tool-use.response.json"));
/// Recorded error answers.
static RATE_LIMITED: LazyLock<Value> =
    LazyLock::new(|| corpus_json("anthropic/error.rate_limit_error.429.recorded.json"));
static OVERLOADED: LazyLock<Value> =
    LazyLock::new(|| corpus_json("anthropic/error.overloaded_error.529.2026-with-request-id.json"));

pub(super) fn parse(number: usize, body: Value) -> Result<SeenRequest, String> {
    let model = body["model"].as_str().ok_or("no `model`")?.to_owned();
    let messages = body["messages"].as_array().ok_or("no `messages` array")?;
    let system = text_of(&body["system"]);
    let blocks = |m: &Value| -> Vec<Value> {
        match &m["content"] {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => Vec::new(),
        }
    };
    let last_user_text = messages
        .iter()
        .filter(|m| m["role"] == "user")
        .map(|m| text_of(&Value::Array(blocks(m))))
        .rfind(|t| !t.is_empty())
        .unwrap_or_default();
    let calls: HashMap<String, String> = messages
        .iter()
        .filter(|m| m["role"] == "assistant")
        .flat_map(blocks)
        .filter(|b| b["type"] == "tool_use")
        .filter_map(|b| Some((b["id"].as_str()?.to_owned(), b["name"].as_str()?.to_owned())))
        .collect();
    let answered_from = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    let tool_results = messages[answered_from..]
        .iter()
        .filter(|m| m["role"] == "user")
        .flat_map(blocks)
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            let call_id = b["tool_use_id"].as_str().unwrap_or_default().to_owned();
            SeenToolResult {
                tool: calls.get(&call_id).cloned().unwrap_or_default(),
                content: text_of(&b["content"]),
                is_error: Some(b["is_error"].as_bool().unwrap_or(false)),
                call_id,
            }
        })
        .collect();
    // A forced tool is how Orion asks Claude for a structured answer: its input is the answer.
    let output = (body["tool_choice"]["type"] == "tool")
        .then(|| body["tool_choice"]["name"].as_str().map(str::to_owned))
        .flatten();
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .filter(|name| Some(*name) != output.as_deref())
        .map(str::to_owned)
        .collect();
    Ok(SeenRequest {
        number,
        wire: Wire::Anthropic,
        role: role_of(&system),
        model,
        system,
        last_user_text,
        tools,
        output,
        tool_results,
        body,
    })
}

/// A message saying `turn`. A structured answer is the input of the forced tool, with the
/// `tool_use` stop reason the API gives for it; without a forced tool it is JSON text.
pub(super) fn answer(turn: &Turn<'_>, request: &SeenRequest, prompt_tokens: u64) -> Reply {
    let id = fake_id(request);
    let tool_use = |i: usize, name: &str, input: &Value| json!({"type": "tool_use", "id": format!("toolu_{id}_{i}"), "name": name, "input": input});
    let (content, stop) = match (turn, &request.output) {
        (Turn::Text(text), _) => (json!([{"type": "text", "text": text}]), "end_turn"),
        (Turn::Json(value), Some(tool)) => (json!([tool_use(0, tool, value)]), "tool_use"),
        (Turn::Json(value), None) => (
            json!([{"type": "text", "text": value.to_string()}]),
            "end_turn",
        ),
        (Turn::Tools(calls), _) => {
            let blocks: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| tool_use(i, name, args))
                .collect();
            (json!(blocks), "tool_use")
        }
    };
    let mut message = match stop {
        "tool_use" => TOOL_USE.clone(),
        _ => END_TURN.clone(),
    };
    let said = match turn {
        Turn::Text(text) => text.to_string(),
        Turn::Json(value) => value.to_string(),
        Turn::Tools(_) => content.to_string(),
    };
    message["id"] = json!(format!("msg_{id}"));
    message["model"] = json!(request.model);
    message["content"] = content;
    message["stop_reason"] = json!(stop);
    message["usage"]["input_tokens"] = json!(prompt_tokens);
    message["usage"]["output_tokens"] = json!(tokens(&said));
    Reply::json(200, &message)
}

/// Anthropic's own error answer for `status`: the recorded 429 and 529, else the documented
/// `{"type":"error","error":{"type","message"},"request_id"}` with the error type the status
/// stands for in the SDK.
pub(super) fn error(status: u16, request: usize) -> Reply {
    match status {
        429 => return Reply::json(status, &RATE_LIMITED),
        529 => return Reply::json(status, &OVERLOADED),
        _ => {}
    }
    let (kind, message) = match status {
        401 => ("authentication_error", "invalid x-api-key"),
        402 => (
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
        ),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        408 | 504 => ("timeout_error", "Request timed out."),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        500.. => ("api_error", "Internal server error"),
        _ => (
            "invalid_request_error",
            "The request was rejected (a scripted error of the fake model).",
        ),
    };
    Reply::json(
        status,
        &json!({
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": format!("req_fake{request:06}"),
        }),
    )
}
