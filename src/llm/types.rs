//! The one provider-neutral shape of a model call. Everything outside `llm::openai` and
//! `llm::anthropic` speaks only these types, so adding a provider never touches a caller.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message. The system prompt is not a message: it is [`ChatRequest::system`], because
/// Anthropic takes it as a separate field and because it is the stable prefix we cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// One piece of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Part {
    Text {
        text: String,
    },
    /// The model asking to run a tool. `arguments` is parsed JSON (OpenAI sends it as a string; a
    /// string that is not JSON is a malformed output, caught at the edge of the provider).
    ToolCall {
        id: String,
        name: String,
        arguments: Value,
    },
    /// What a tool returned, answering the call with the same id.
    ToolResult {
        call_id: String,
        content: String,
        is_error: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub parts: Vec<Part>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            parts: vec![Part::Text { text: text.into() }],
        }
    }
    pub fn assistant(text: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            parts: vec![Part::Text { text: text.into() }],
        }
    }
    /// A user turn carrying tool results (both providers put results in the user's turn).
    pub fn tool_results(results: Vec<Part>) -> Self {
        Self {
            role: Role::User,
            parts: results,
        }
    }
}

/// A tool the model may call. `parameters` is a JSON Schema object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
    /// Tools are listed (for the cache prefix) but may not be called.
    None,
}

/// Ask for a JSON answer matching `schema`. OpenAI gets `response_format: json_schema`;
/// Anthropic gets a forced tool named `name` whose input is the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputSchema {
    pub name: String,
    pub schema: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The stable instructions. Kept first and byte-identical across a task's calls so that
    /// providers' prompt caches hit (Anthropic: marked with `cache_control`; OpenAI caches
    /// identical prefixes of 1024+ tokens on its own).
    pub system: String,
    pub messages: Vec<Message>,
    pub tools: Vec<ToolSpec>,
    pub tool_choice: ToolChoice,
    pub output: Option<OutputSchema>,
    /// Upper bound on the answer; also what the budget check assumes the answer will cost.
    pub max_output_tokens: u32,
    pub temperature: Option<f32>,
    /// Mark the system prompt and tools as a cacheable prefix (Anthropic `cache_control`).
    pub cache_prefix: bool,
}

impl ChatRequest {
    pub fn new(system: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            system: system.into(),
            messages,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            output: None,
            max_output_tokens: 4096,
            temperature: None,
            cache_prefix: true,
        }
    }

    /// A rough upper estimate of the prompt's tokens, for the budget check before a call. Real
    /// tokenizers average about 4 characters per token on English and code; 3 errs on the side of
    /// overestimating, which is the safe side for a budget.
    pub fn estimated_input_tokens(&self) -> u64 {
        let mut chars = self.system.len();
        for m in &self.messages {
            for p in &m.parts {
                chars += match p {
                    Part::Text { text } => text.len(),
                    Part::ToolCall {
                        name, arguments, ..
                    } => name.len() + arguments.to_string().len(),
                    Part::ToolResult { content, .. } => content.len(),
                };
                chars += 8; // role and framing tokens
            }
        }
        for t in &self.tools {
            chars += t.name.len() + t.description.len() + t.parameters.to_string().len();
        }
        if let Some(o) = &self.output {
            chars += o.schema.to_string().len();
        }
        (chars as u64).div_ceil(3)
    }

    /// Whether answering needs a model that can call tools.
    pub fn needs_tools(&self) -> bool {
        !self.tools.is_empty() && self.tool_choice != ToolChoice::None
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It finished its answer.
    EndTurn,
    /// It wants tool results before going on.
    ToolUse,
    /// It hit `max_output_tokens`: the answer is cut off.
    MaxTokens,
    /// A stop sequence matched.
    StopSequence,
    /// The provider withheld the answer (content filter, refusal).
    Refused,
    Other(String),
}

/// Tokens of one call, normalised: `input_tokens` are prompt tokens billed at the full price,
/// `cached_input_tokens` the ones read from the provider's cache (billed cheaper) and
/// `cache_write_tokens` the ones written to it (Anthropic bills those at a premium). OpenAI counts
/// cached tokens inside `prompt_tokens`; Anthropic counts them apart. Both normalise to this.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }
    /// Every prompt token, cached or not.
    pub fn prompt_tokens(&self) -> u64 {
        self.input_tokens + self.cached_input_tokens + self.cache_write_tokens
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The model id the provider says answered (may be a dated snapshot of the requested one).
    pub model: String,
    pub id: String,
    /// Text and tool calls, in the order the model produced them.
    pub parts: Vec<Part>,
    pub stop: StopReason,
    pub usage: Usage,
    /// The JSON answer when the request asked for an [`OutputSchema`].
    pub structured: Option<Value>,
}

impl ChatResponse {
    /// All text parts joined.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if let Part::Text { text } = p {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }

    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.parts.iter().filter_map(|p| match p {
            Part::ToolCall {
                id,
                name,
                arguments,
            } => Some((id.as_str(), name.as_str(), arguments)),
            _ => None,
        })
    }

    /// The answer as an assistant message, to append to the conversation for the next turn.
    pub fn to_message(&self) -> Message {
        Message {
            role: Role::Assistant,
            parts: self.parts.clone(),
        }
    }
}
