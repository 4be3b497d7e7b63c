//! The OpenAI Chat Completions wire: what Orion sends (`llm::openai::request_body`) read back,
//! and answers shaped like the corpus's completions.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::server::{Reply, Turn, corpus_json, fake_id, role_of, text_of, tokens, unix_now};
use super::{SeenRequest, SeenToolResult, Wire};

/// The documented completion and tool-call completion: every answer is one of them, edited.
static COMPLETION: LazyLock<Value> =
    LazyLock::new(|| corpus_json("openai/chat-completion.default.response.json"));
static TOOL_CALLS: LazyLock<Value> =
    LazyLock::new(|| corpus_json("openai/chat-completion.tool-calls.response.json"));
/// A recorded 429 (tokens per minute). Its "try again in 125ms" keeps a retrying test fast.
static RATE_LIMITED: LazyLock<Value> =
    LazyLock::new(|| corpus_json("openai/error.rate_limit_exceeded.429.tokens.json"));

pub(super) fn parse(number: usize, body: Value) -> Result<SeenRequest, String> {
    let model = body["model"].as_str().ok_or("no `model`")?.to_owned();
    let messages = body["messages"].as_array().ok_or("no `messages` array")?;
    let with_role = |role: &'static str| messages.iter().filter(move |m| m["role"] == role);
    let system = with_role("system")
        .next()
        .map(|m| text_of(&m["content"]))
        .unwrap_or_default();
    let last_user_text = with_role("user")
        .map(|m| text_of(&m["content"]))
        .rfind(|t| !t.is_empty())
        .unwrap_or_default();
    let calls: HashMap<&str, &str> = with_role("assistant")
        .flat_map(|m| m["tool_calls"].as_array().into_iter().flatten())
        .filter_map(|c| Some((c["id"].as_str()?, c["function"]["name"].as_str()?)))
        .collect();
    let answered_from = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    let tool_results = messages[answered_from..]
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| {
            let call_id = m["tool_call_id"].as_str().unwrap_or_default();
            SeenToolResult {
                tool: calls.get(call_id).copied().unwrap_or_default().to_owned(),
                call_id: call_id.to_owned(),
                content: text_of(&m["content"]),
                is_error: None,
            }
        })
        .collect();
    let tools = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .map(str::to_owned)
        .collect();
    let format = &body["response_format"];
    let output = match format["type"].as_str() {
        Some("json_schema") => format["json_schema"]["name"].as_str().map(str::to_owned),
        Some("json_object") => Some("json_object".to_owned()),
        _ => None,
    };
    Ok(SeenRequest {
        number,
        wire: Wire::OpenAi,
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

/// A chat completion saying `turn`. A structured answer is the JSON as the message content,
/// which is what `response_format: json_schema` yields.
pub(super) fn answer(turn: &Turn<'_>, request: &SeenRequest, prompt_tokens: u64) -> Reply {
    let id = fake_id(request);
    let mut completion = match turn {
        Turn::Tools(_) => TOOL_CALLS.clone(),
        Turn::Text(_) | Turn::Json(_) => COMPLETION.clone(),
    };
    let message = &mut completion["choices"][0]["message"];
    let (said, finish) = match turn {
        Turn::Text(text) => {
            message["content"] = json!(text);
            (text.to_string(), "stop")
        }
        Turn::Json(value) => {
            let text = value.to_string();
            message["content"] = json!(text);
            (text, "stop")
        }
        Turn::Tools(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    json!({
                        "id": format!("call_{id}_{i}"),
                        "type": "function",
                        "function": {"name": name, "arguments": args.to_string()},
                    })
                })
                .collect();
            message["content"] = Value::Null;
            message["tool_calls"] = json!(calls);
            (Value::Array(calls).to_string(), "tool_calls")
        }
    };
    let completion_tokens = tokens(&said);
    completion["choices"][0]["finish_reason"] = json!(finish);
    completion["id"] = json!(format!("chatcmpl-{id}"));
    completion["created"] = json!(unix_now());
    completion["model"] = json!(request.model);
    let usage = &mut completion["usage"];
    usage["prompt_tokens"] = json!(prompt_tokens);
    usage["completion_tokens"] = json!(completion_tokens);
    usage["total_tokens"] = json!(prompt_tokens + completion_tokens);
    Reply::json(200, &completion)
}

/// OpenAI's own error answer for `status`: the recorded 429, else the documented
/// `{"error":{"message","type","param","code"}}` with the type and message OpenAI uses.
pub(super) fn error(status: u16) -> Reply {
    if status == 429 {
        return Reply::json(status, &RATE_LIMITED);
    }
    let (kind, code, message) = match status {
        401 => (
            "invalid_request_error",
            json!("invalid_api_key"),
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        ),
        500.. => (
            "server_error",
            Value::Null,
            "The server had an error while processing your request. Sorry about that!",
        ),
        _ => (
            "invalid_request_error",
            Value::Null,
            "The request was rejected (a scripted error of the fake model).",
        ),
    };
    Reply::json(
        status,
        &json!({"error": {"message": message, "type": kind, "param": null, "code": code}}),
    )
}
