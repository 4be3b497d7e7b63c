//! The model layer against a fake provider on loopback ([`fake`]). The fake answers with the
//! corpus's recorded and documented bodies and records every request, so each test reads as "the
//! provider answers X; Orion sent Y, the caller gets Z, and the ledger says W".

mod fake;

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use orion_bot::llm::breaker::CircuitState;
use orion_bot::llm::router::NoRoute;
use orion_bot::llm::{
    Blocked, CallError, ChatRequest, ChatResponse, Complexity, LlmSettings, Message, OutputSchema,
    Part, Provider, ProviderError, Role, StopReason, TaskKind, ToolSpec, Usage,
};
use serde::Deserialize;
use serde_json::{Value, json};

use fake::*;

/// 2026-11-23 12:34:56 UTC, for tests that pin the clock.
const NOW: i64 = 1_795_437_296_000;
/// The UTC midnight after [`NOW`].
const NEXT_MIDNIGHT: i64 = 1_795_478_400_000;

const SF_WEATHER: &str = "The weather in SF is currently **20°C** (68°F) and **Sunny**!";

fn hello() -> ChatRequest {
    ChatRequest::new(
        "You are Orion, a careful maintainer.",
        vec![Message::user("Hello!")],
    )
}

#[derive(Debug, PartialEq, Deserialize)]
struct Triage {
    label: String,
}

fn triage_request() -> ChatRequest {
    let mut req = ChatRequest::new(
        "You are Orion. Label the issue.",
        vec![Message::user(
            "App crashes on start: thread 'main' panicked at src/main.rs:3",
        )],
    );
    req.output = Some(OutputSchema {
        name: "triage".to_owned(),
        schema: json!({
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["bug", "feature", "question"]}},
            "required": ["label"],
            "additionalProperties": false,
        }),
    });
    req
}

/// The caller's judgement of a triage: only "bug" fits the panic in the issue.
fn accept_bug(t: &Triage) -> Result<(), String> {
    match t.label.as_str() {
        "bug" => Ok(()),
        other => Err(format!(
            "label {other:?} contradicts the panic in the issue"
        )),
    }
}

fn tool_call(id: &str, name: &str, arguments: Value) -> Part {
    Part::ToolCall {
        id: id.into(),
        name: name.into(),
        arguments,
    }
}

fn text(text: &str) -> Part {
    Part::Text { text: text.into() }
}

// Error answers -------------------------------------------------------------------------------

/// An error answer a provider gives, and the variant its caller must get.
struct ErrorCase {
    name: &'static str,
    provider: Provider,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    expected: ProviderError,
}

fn case(
    name: &'static str,
    provider: Provider,
    status: u16,
    body: String,
    expected: ProviderError,
) -> ErrorCase {
    ErrorCase {
        name,
        provider,
        status,
        headers: Vec::new(),
        body,
        expected,
    }
}

impl ErrorCase {
    fn with_headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers = headers;
        self
    }
}

/// An OpenAI error body (`components.schemas.ErrorResponse` of openapi.json).
fn openai_error(message: &str, kind: &str, code: Value) -> String {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}

/// An Anthropic error body, shaped as the SDK's `_client.py` documents it.
fn anthropic_error(kind: &str, message: &str, request_id: &str) -> String {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": request_id})
        .to_string()
}

fn error_cases() -> Vec<ErrorCase> {
    use Provider::{Anthropic, Openai};
    use ProviderError as E;
    let openai_rpm = "openai/error.rate_limit_exceeded.429.requests.json";
    let openai_tpm = "openai/error.rate_limit_exceeded.429.tokens.json";
    let anthropic_429 = "anthropic/error.rate_limit_error.429.recorded.json";
    let anthropic_400 = "anthropic/error.invalid_request_error.400.recorded.json";
    let recorded_429_headers: Vec<(String, String)> = corpus_json(
        "anthropic/error.rate_limit_error.429.recorded.response-headers.json",
    )["headers"]
        .as_object()
        .unwrap()
        .iter()
        // Framing headers belong to the recorded body, not to this one.
        .filter(|(k, _)| !matches!(k.as_str(), "content-length" | "connection"))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let overloaded = |file: &str, message: &str| {
        let expected = E::Overloaded {
            retry_after: None,
            message: message.to_owned(),
        };
        case("anthropic 529", Anthropic, 529, body(file), expected)
    };
    let wrong_key = "Incorrect API key provided: sk-proj-****6789. You can find your API key at https://platform.openai.com/account/api-keys.";
    let sorry = "The server had an error while processing your request. Sorry about that!";
    let too_long = "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.";
    let quota = "You exceeded your current quota, please check your plan and billing details.";
    let proxy_page = "<html><body><h1>504 Gateway Time-out</h1></body></html>";
    vec![
        case(
            "openai 429 requests per minute",
            Openai,
            429,
            body(openai_rpm),
            E::RateLimited {
                retry_after: Some(Duration::from_secs(20)),
                message: message_of(openai_rpm),
            },
        ),
        case(
            "openai 429 tokens per minute",
            Openai,
            429,
            body(openai_tpm),
            E::RateLimited {
                retry_after: Some(Duration::from_millis(125)),
                message: message_of(openai_tpm),
            },
        ),
        case(
            "anthropic 429 recorded, with its headers",
            Anthropic,
            429,
            body(anthropic_429),
            E::RateLimited {
                retry_after: None,
                message: format!(
                    "{} (request req_011CYK5mje9HkutJtmfPzzNC)",
                    message_of(anthropic_429)
                ),
            },
        )
        .with_headers(recorded_429_headers),
        overloaded(
            "anthropic/error.overloaded_error.529.2024-no-request-id.json",
            "Overloaded",
        ),
        overloaded(
            "anthropic/error.overloaded_error.529.2025-details-null.json",
            "Overloaded",
        ),
        overloaded(
            "anthropic/error.overloaded_error.529.2026-with-request-id.json",
            "Overloaded (request req_011CZAau32QzxDkriovTaFCB)",
        ),
        overloaded(
            "anthropic/error.overloaded_error.529.2026-message-with-docs-url.json",
            "Overloaded. https://docs.claude.com/en/api/errors (request req_011CZTGFbArQvnRwr6evz8ca)",
        ),
        case(
            "anthropic 529 with retry-after",
            Anthropic,
            529,
            body("anthropic/error.overloaded_error.529.2024-no-request-id.json"),
            E::Overloaded {
                retry_after: Some(Duration::from_secs(7)),
                message: "Overloaded".to_owned(),
            },
        )
        .with_headers(vec![("retry-after".to_owned(), "7".to_owned())]),
        case(
            "anthropic overloaded event inside a 200",
            Anthropic,
            200,
            corpus_json("anthropic/error.overloaded_error.stream-event.json")[0]["data"]
                .to_string(),
            E::Overloaded {
                retry_after: None,
                message: "Overloaded".to_owned(),
            },
        ),
        case(
            "anthropic 400 recorded",
            Anthropic,
            400,
            body(anthropic_400),
            E::InvalidRequest {
                status: 400,
                message: format!(
                    "{} (request req_011CYHyk9NPsBYeGbC9LuDNK)",
                    message_of(anthropic_400)
                ),
            },
        ),
        case(
            "openai 401",
            Openai,
            401,
            openai_error(wrong_key, "invalid_request_error", json!("invalid_api_key")),
            E::Auth {
                status: 401,
                message: wrong_key.to_owned(),
            },
        ),
        case(
            "anthropic 401",
            Anthropic,
            401,
            anthropic_error("authentication_error", "invalid x-api-key", "req_401"),
            E::Auth {
                status: 401,
                message: "invalid x-api-key (request req_401)".to_owned(),
            },
        ),
        case(
            "openai 500",
            Openai,
            500,
            openai_error(sorry, "server_error", Value::Null),
            E::Server {
                status: 500,
                message: sorry.to_owned(),
            },
        ),
        case(
            "anthropic 500",
            Anthropic,
            500,
            anthropic_error("api_error", "Internal server error", "req_500"),
            E::Server {
                status: 500,
                message: "Internal server error (request req_500)".to_owned(),
            },
        ),
        case(
            "anthropic 504",
            Anthropic,
            504,
            anthropic_error("timeout_error", "Request timeout", "req_504"),
            E::Timeout {
                message: "Request timeout (request req_504)".to_owned(),
            },
        ),
        case(
            "openai 504 from a proxy",
            Openai,
            504,
            proxy_page.to_owned(),
            E::Timeout {
                message: format!("HTTP 504: {proxy_page}"),
            },
        ),
        case(
            "openai context_length_exceeded",
            Openai,
            400,
            openai_error(
                too_long,
                "invalid_request_error",
                json!("context_length_exceeded"),
            ),
            E::ContextTooLong {
                message: too_long.to_owned(),
            },
        ),
        case(
            "anthropic prompt is too long",
            Anthropic,
            400,
            anthropic_error(
                "invalid_request_error",
                "prompt is too long: 208310 tokens > 200000 maximum",
                "req_ctx",
            ),
            E::ContextTooLong {
                message: "prompt is too long: 208310 tokens > 200000 maximum (request req_ctx)"
                    .to_owned(),
            },
        ),
        case(
            "openai insufficient_quota",
            Openai,
            429,
            openai_error(quota, "insufficient_quota", json!("insufficient_quota")),
            E::Billing {
                message: quota.to_owned(),
            },
        ),
    ]
}

fn header_map(pairs: &[(String, String)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            let name = HeaderName::from_bytes(k.as_bytes()).unwrap();
            (name, HeaderValue::from_str(v).unwrap())
        })
        .collect()
}

#[test]
fn corpus_error_bodies_classify_into_provider_errors() {
    for c in error_cases() {
        let headers = header_map(&c.headers);
        let got = ProviderError::from_response(c.provider, c.status, &headers, &c.body);
        assert_eq!(got, c.expected, "{}", c.name);
    }
}

#[tokio::test]
async fn every_error_kind_reaches_the_caller_and_the_ledger() {
    let openai = Harness::start(|s| only(s, "gpt-mini")).await;
    let anthropic = Harness::start(|s| only(s, "claude")).await;
    let mut cases = error_cases();
    // A 200 that is not the provider's format at all: a captive portal, a wrong base_url.
    let portal = "<html><body>Please sign in to the Wi-Fi</body></html>";
    for (provider, what) in [
        (Provider::Openai, "a chat completion"),
        (Provider::Anthropic, "a message"),
    ] {
        let message = format!("not {what}: expected value at line 1 column 1");
        let expected = ProviderError::MalformedOutput { message };
        cases.push(case("garbage 200", provider, 200, portal.into(), expected));
    }
    for c in cases {
        let h = match c.provider {
            Provider::Openai => &openai,
            Provider::Anthropic => &anthropic,
        };
        let before = h.fake.count();
        let mut reply = Reply::new(c.status, c.body.clone());
        reply.headers = c.headers.clone();
        h.fake.script([reply]);
        assert_eq!(h.provider_error(&hello()).await, c.expected, "{}", c.name);
        assert_eq!(h.fake.count(), before + 1, "{}: one request", c.name);
        let row = h.calls().await.pop().unwrap();
        assert_eq!(row.outcome, c.expected.kind(), "{}", c.name);
        assert_eq!(row.error, Some(c.expected.to_string()), "{}", c.name);
        assert_eq!(row.usage, Usage::default(), "{}: nothing billed", c.name);
        assert_eq!(row.cost_nusd, 0, "{}", c.name);
        let attempt = h.attempts().await.pop().unwrap();
        assert_eq!(attempt.outcome.as_deref(), Some("error"), "{}", c.name);
        assert_eq!(attempt.detail, Some(c.expected.to_string()), "{}", c.name);
    }
}

#[tokio::test]
async fn silent_and_unreachable_providers_are_timeout_and_unreachable() {
    let h = Harness::start(|s| {
        only(s, "claude");
        s.models.get_mut("claude").unwrap().timeout_secs = 1;
    })
    .await;
    h.fake.script([Reply::silence()]);
    let message = "no answer within 1 s".to_owned();
    assert_eq!(
        h.provider_error(&hello()).await,
        ProviderError::Timeout { message }
    );
    assert_eq!(h.fake.count(), 1);
    assert_eq!(h.call_outcomes().await, ["timeout"]);

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let h = Harness::start(|s| {
        only(s, "gpt-mini");
        s.models.get_mut("gpt-mini").unwrap().base_url = Some(format!("http://{closed}/v1"));
    })
    .await;
    let got = h.provider_error(&hello()).await;
    assert_eq!(got.kind(), "unreachable", "{got}");
    assert!(got.to_string().contains(&closed.to_string()), "{got}");
    assert_eq!(h.call_outcomes().await, ["unreachable"]);
}

// Retries -------------------------------------------------------------------------------------

#[tokio::test]
async fn invalid_requests_are_not_retried_but_overload_is() {
    let h = Harness::start(|s| {
        only(s, "claude");
        s.llm.retries = 2;
    })
    .await;
    let invalid = body("anthropic/error.invalid_request_error.400.recorded.json");
    h.fake.script([Reply::new(400, invalid)]);
    assert_eq!(h.provider_error(&hello()).await.kind(), "invalid_request");
    assert_eq!(h.fake.count(), 1, "a rejected request is not sent again");

    let overloaded = body("anthropic/error.overloaded_error.529.2026-with-request-id.json");
    h.fake.script(vec![Reply::new(529, overloaded); 3]);
    assert_eq!(h.provider_error(&hello()).await.kind(), "overloaded");
    assert_eq!(h.fake.count(), 1 + 3, "the first try and two retries");
    let calls = h.calls().await;
    assert_eq!(
        h.call_outcomes().await,
        ["invalid_request", "overloaded", "overloaded", "overloaded"]
    );
    assert_eq!(calls[1].attempt_id, calls[3].attempt_id, "one attempt");
}

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let h = Harness::start(|s| {
        only(s, "claude");
        s.llm.retries = 2;
    })
    .await;
    h.fake.script([
        Reply::new(
            429,
            body("anthropic/error.rate_limit_error.429.recorded.json"),
        )
        .header("x-should-retry", "true")
        .header("retry-after", "1"),
        Reply::ok(body("anthropic/messages.end-turn.response.json")),
    ]);
    assert_eq!(h.call(&hello()).await.unwrap().text(), SF_WEATHER);
    let got = h.fake.received();
    assert_eq!(got.len(), 2);
    // Without the header the backoff would be 5 to 10 ms.
    let gap = got[1].at - got[0].at;
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert_eq!(h.call_outcomes().await, ["rate_limited", "ok"]);
}

#[tokio::test]
async fn retry_after_ms_and_waits_stated_in_the_message_are_honoured() {
    let h = Harness::start(|s| {
        only(s, "gpt-mini");
        s.llm.retries = 2;
    })
    .await;
    let ok = || Reply::ok(body("openai/chat-completion.default.response.json"));
    // The message says 20 s, more than max_retry_wait_ms allows: only `retry-after-ms`, which
    // takes precedence, makes this retry happen at all.
    let rpm = body("openai/error.rate_limit_exceeded.429.requests.json");
    h.fake
        .script([Reply::new(429, rpm).header("retry-after-ms", "50"), ok()]);
    assert!(h.call(&hello()).await.is_ok());
    // Without a header, "Please try again in 125ms." in the message is the wait.
    let tpm = body("openai/error.rate_limit_exceeded.429.tokens.json");
    h.fake.script([Reply::new(429, tpm), ok()]);
    assert!(h.call(&hello()).await.is_ok());

    let got = h.fake.received();
    let (first, second) = (got[1].at - got[0].at, got[3].at - got[2].at);
    assert!(
        first >= Duration::from_millis(50),
        "retried after {first:?}"
    );
    assert!(
        second >= Duration::from_millis(125),
        "retried after {second:?}"
    );
    assert_eq!(
        h.call_outcomes().await,
        ["rate_limited", "ok", "rate_limited", "ok"]
    );
}

#[tokio::test]
async fn a_wait_longer_than_max_retry_wait_returns_at_once() {
    let h = Harness::start(|s| {
        only(s, "gpt-mini");
        s.llm.retries = 2;
        s.llm.max_retry_wait_ms = 5_000;
    })
    .await;
    let rpm = body("openai/error.rate_limit_exceeded.429.requests.json");
    h.fake.script([Reply::new(429, rpm)]);
    let started = Instant::now();
    let got = h.provider_error(&hello()).await;
    assert_eq!(got.retry_after(), Some(Duration::from_secs(20)));
    assert_eq!(h.fake.count(), 1, "no retry");
    // Waiting as asked would have taken 20 s.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
}

// Circuit breaker -----------------------------------------------------------------------------

fn anthropic_500() -> Reply {
    Reply::new(
        500,
        anthropic_error("api_error", "Internal server error", "req_500"),
    )
}

fn is_server_error(r: &Result<ChatResponse, CallError>) -> bool {
    matches!(r, Err(CallError::Provider(ProviderError::Server { .. })))
}

fn is_circuit_open(r: &Result<ChatResponse, CallError>) -> bool {
    matches!(
        r,
        Err(CallError::Provider(ProviderError::CircuitOpen { .. }))
    )
}

#[tokio::test]
async fn circuit_opens_fails_fast_and_recovers_after_a_probe() {
    let h = Harness::start(|s| {
        only(s, "claude");
        s.llm.breaker_threshold = 2;
        s.llm.breaker_cooldown_ms = 200;
    })
    .await;
    let req = hello();
    let mut run = h.task("acme");
    let mut attempt = run.begin(&req).await.unwrap();
    let mut call = async || run.call(&mut attempt, &req).await;

    h.fake.script([anthropic_500(), anthropic_500()]);
    assert!(is_server_error(&call().await));
    assert_eq!(h.llm.circuit("claude"), CircuitState::Closed);
    assert!(is_server_error(&call().await));
    assert!(matches!(h.llm.circuit("claude"), CircuitState::Open { .. }));

    match call().await {
        Err(CallError::Provider(ProviderError::CircuitOpen { model, retry_in })) => {
            assert_eq!(model, "claude");
            assert!(retry_in <= Duration::from_millis(200), "{retry_in:?}");
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    assert_eq!(h.fake.count(), 2, "an open circuit sends nothing");
    // Routing skips the model too: a new task has nowhere to go.
    let why = "skipped claude (circuit open)".to_owned();
    assert_eq!(
        h.task("acme").begin(&req).await.err(),
        Some(Blocked::NoRoute(NoRoute::NoEligibleModel { why }))
    );

    // After the cooldown one probe goes through; it fails, and the circuit re-opens at once.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(h.llm.circuit("claude"), CircuitState::Probing);
    h.fake.script([anthropic_500()]);
    assert!(is_server_error(&call().await));
    assert!(is_circuit_open(&call().await));
    assert_eq!(h.fake.count(), 3);

    // The next probe succeeds and closes it.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let ok = body("anthropic/messages.end-turn.response.json");
    h.fake.script([Reply::ok(ok)]);
    assert!(call().await.is_ok());
    assert_eq!(h.llm.circuit("claude"), CircuitState::Closed);
    assert_eq!(h.fake.count(), 4);
    // Calls the breaker refused never reached a provider: they are not in the ledger.
    assert_eq!(
        h.call_outcomes().await,
        ["server_error", "server_error", "server_error", "ok"]
    );
}

#[tokio::test]
async fn only_one_probe_goes_through_after_the_cooldown() {
    let h = Harness::start(|s| {
        only(s, "claude");
        s.llm.breaker_threshold = 1;
        s.llm.breaker_cooldown_ms = 200;
    })
    .await;
    let req = hello();
    h.fake.script([anthropic_500()]);
    assert!(h.call(&req).await.is_err());
    tokio::time::sleep(Duration::from_millis(250)).await;

    // Two tasks call at once; the probe takes a while to answer.
    let (mut a, mut b) = (h.task("acme"), h.task("acme"));
    let mut attempt_a = a.begin(&req).await.unwrap();
    let mut attempt_b = b.begin(&req).await.unwrap();
    let ok = body("anthropic/messages.end-turn.response.json");
    h.fake
        .script([Reply::ok(ok).after(Duration::from_millis(300))]);
    let (ra, rb) = tokio::join!(a.call(&mut attempt_a, &req), b.call(&mut attempt_b, &req));
    assert_eq!(h.fake.count(), 2, "the failure, then one probe only");
    assert!(
        is_circuit_open(&ra) != is_circuit_open(&rb),
        "one caller probes, the other waits: {ra:?} {rb:?}"
    );
}

// Answers, usage and cost ---------------------------------------------------------------------

#[tokio::test]
async fn corpus_answers_become_parts_stop_reasons_usage_and_cost() {
    let essay = corpus_json("anthropic/messages.text-and-tool-use.response.json");
    let answer = |model: &str, id: &str, parts, stop, input, output| ChatResponse {
        model: model.into(),
        id: id.into(),
        parts,
        stop,
        usage: Usage {
            input_tokens: input,
            output_tokens: output,
            ..Default::default()
        },
        structured: None,
    };
    let haiku = "claude-haiku-4-5-20251001";
    // (model, corpus answer, what the caller gets, cost in nano-USD at the configured prices)
    let cases = [
        (
            "gpt-mini",
            "openai/chat-completion.default.response.json",
            answer(
                "gpt-5.4",
                "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
                vec![text("Hello! How can I assist you today?")],
                StopReason::EndTurn,
                19,
                10,
            ),
            29_500, // 19 × $0.50/M + 10 × $2/M
        ),
        (
            "gpt-mini",
            "openai/chat-completion.tool-calls.response.json",
            answer(
                "gpt-4o-mini",
                "chatcmpl-abc123",
                vec![tool_call(
                    "call_abc123",
                    "get_current_weather",
                    json!({"location": "Boston, MA"}),
                )],
                StopReason::ToolUse,
                82,
                17,
            ),
            75_000,
        ),
        (
            "claude",
            "anthropic/messages.end-turn.response.json",
            answer(
                haiku,
                "msg_01LzoWDaDa7jiMvVbBiguxJy",
                vec![text(SF_WEATHER)],
                StopReason::EndTurn,
                705,
                25,
            ),
            830_000, // 705 × $1/M + 25 × $5/M
        ),
        (
            "claude",
            "anthropic/messages.tool-use.response.json",
            answer(
                haiku,
                "msg_01M4x4hiFuUdHzu44ih9eCGh",
                vec![tool_call(
                    "toolu_013DU6hV4C1M8dJ32ybQFAFi",
                    "get_weather",
                    json!({"location": "SF", "units": "c"}),
                )],
                StopReason::ToolUse,
                597,
                71,
            ),
            952_000,
        ),
        (
            "claude",
            "anthropic/messages.text-and-tool-use.response.json",
            answer(
                "claude-sonnet-4-5-20250929",
                "msg_01JQ78eECNHtwV1L2uGKLHAf",
                vec![
                    text(essay["content"][0]["text"].as_str().unwrap()),
                    tool_call(
                        "toolu_01KiHQYXfTgCmpgRfmqgvUL2",
                        "submit_analysis",
                        essay["content"][1]["input"].clone(),
                    ),
                ],
                StopReason::ToolUse,
                617,
                995,
            ),
            5_592_000,
        ),
    ];
    for (model, file, expected, cost_nusd) in cases {
        let h = Harness::start(|s| only(s, model)).await;
        h.fake.script([Reply::ok(body(file))]);
        assert_eq!(h.call(&hello()).await.unwrap(), expected, "{file}");
        let attempts = h.attempts().await;
        let row = CallRow {
            attempt_id: Some(attempts[0].id),
            installation: "acme".into(),
            model: model.into(),
            tier: "tactical".into(),
            usage: expected.usage,
            cost_nusd,
            outcome: "ok".into(),
            error: None,
        };
        assert_eq!(h.calls().await, [row], "{file}");
        assert_eq!(attempts[0].outcome.as_deref(), Some("succeeded"), "{file}");
        assert_eq!(attempts[0].usage, expected.usage, "{file}");
        assert_eq!(attempts[0].cost_nusd, cost_nusd, "{file}");
    }
}

#[tokio::test]
async fn cached_tokens_are_normalised_and_priced_exactly() {
    // OpenAI counts cached tokens inside prompt_tokens.
    let h = Harness::start(|s| only(s, "gpt-mini")).await;
    let mut answer = corpus_json("openai/chat-completion.default.response.json");
    answer["usage"]["prompt_tokens"] = json!(2006);
    answer["usage"]["total_tokens"] = json!(2016);
    answer["usage"]["prompt_tokens_details"]["cached_tokens"] = json!(1000);
    h.fake.script([Reply::ok(answer.to_string())]);
    let usage = h.call(&hello()).await.unwrap().usage;
    let expected = Usage {
        input_tokens: 1006,
        output_tokens: 10,
        cached_input_tokens: 1000,
        cache_write_tokens: 0,
    };
    assert_eq!(usage, expected);
    let row = h.calls().await.pop().unwrap();
    assert_eq!(row.usage, expected);
    // 1006 × $0.50/M + 10 × $2/M + 1000 × $0.05/M = $0.000573
    assert_eq!(row.cost_nusd, 573_000);

    // Anthropic counts cache reads and writes apart from input_tokens.
    let h = Harness::start(|s| only(s, "claude")).await;
    let mut answer = corpus_json("anthropic/messages.end-turn.response.json");
    answer["usage"]["cache_read_input_tokens"] = json!(2000);
    answer["usage"]["cache_creation_input_tokens"] = json!(1500);
    answer["usage"]["cache_creation"]["ephemeral_5m_input_tokens"] = json!(1500);
    h.fake.script([Reply::ok(answer.to_string())]);
    let usage = h.call(&hello()).await.unwrap().usage;
    let expected = Usage {
        input_tokens: 705,
        output_tokens: 25,
        cached_input_tokens: 2000,
        cache_write_tokens: 1500,
    };
    assert_eq!(usage, expected);
    let row = h.calls().await.pop().unwrap();
    assert_eq!(row.usage, expected);
    // 705 × $1/M + 25 × $5/M + 2000 × $0.10/M + 1500 × $1.25/M = $0.002905
    assert_eq!(row.cost_nusd, 2_905_000);
    assert_eq!(h.attempts().await[0].cost_nusd, 2_905_000);
}

#[tokio::test]
async fn unusable_answers_are_still_billed_in_the_ledger() {
    let h = Harness::start(|s| only(s, "gpt-mini")).await;
    // The provider answered twice, and billed 19 prompt and 10 answer tokens each time, but never
    // with JSON: the task gets MalformedOutput, and the ledger keeps what it cost.
    h.fake
        .script(vec![Reply::ok(openai_says("It's a bug, I think.")); 2]);
    let req = triage_request();
    let mut run = h.task("acme");
    let mut attempt = run.begin(&req).await.unwrap();
    let got = run.call_json::<Triage>(&mut attempt, &req).await;
    assert!(
        matches!(
            got,
            Err(CallError::Provider(ProviderError::MalformedOutput { .. }))
        ),
        "{got:?}"
    );
    let billed = Usage {
        input_tokens: 19,
        output_tokens: 10,
        ..Default::default()
    };
    let rows = h.calls().await;
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert_eq!(row.outcome, "ok", "the HTTP call succeeded and was billed");
        assert_eq!(row.usage, billed);
        assert_eq!(row.cost_nusd, 29_500);
    }
    assert_eq!(attempt.cost_usd(), 2.0 * 29_500e-9);
}

// What goes on the wire -----------------------------------------------------------------------

#[tokio::test]
async fn anthropic_request_matches_the_recorded_tool_result_exchange() {
    let recorded = corpus_json("anthropic/messages.tool-result.request.json");
    let turns = &recorded["messages"];
    let tool = &recorded["tools"][0];
    let (call, result) = (&turns[1]["content"][0], &turns[2]["content"][0]);
    let s = |v: &Value| v.as_str().unwrap().to_owned();
    let mut req = ChatRequest::new(
        "",
        vec![
            Message::user(s(&turns[0]["content"])),
            Message {
                role: Role::Assistant,
                parts: vec![tool_call(
                    &s(&call["id"]),
                    &s(&call["name"]),
                    call["input"].clone(),
                )],
            },
            Message::tool_results(vec![Part::ToolResult {
                call_id: s(&result["tool_use_id"]),
                content: s(&result["content"]),
                is_error: false,
            }]),
        ],
    );
    req.max_output_tokens = 1024;
    req.tools = vec![ToolSpec {
        name: s(&tool["name"]),
        description: s(&tool["description"]),
        parameters: tool["input_schema"].clone(),
    }];
    let h = Harness::start(|s| only(s, "claude")).await;
    // The answer the API recorded for this very request.
    let recorded_answer = body("anthropic/messages.end-turn.response.json");
    h.fake.script([Reply::ok(recorded_answer)]);
    assert_eq!(h.call(&req).await.unwrap().text(), SF_WEATHER);

    let sent = h.fake.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.header("content-type"), Some("application/json"));
    // The SDK's request, with Orion's differences:
    let mut expected = recorded.clone();
    // content is always a block list (the SDK sent the first turn as a bare string);
    expected["messages"][0]["content"] = json!([{"type": "text", "text": turns[0]["content"]}]);
    // the SDK echoes the `caller` the API put on its tool_use block, which ToolCall does not keep;
    let echoed = &mut expected["messages"][1]["content"][0];
    echoed.as_object_mut().unwrap().remove("caller");
    expected["messages"][2]["content"][0]["is_error"] = json!(false);
    // the tools are the cached prefix, and the choice is explicit.
    expected["tools"][0]["cache_control"] = json!({"type": "ephemeral"});
    expected["tool_choice"] = json!({"type": "auto"});
    assert_eq!(sent.json, expected);
}

#[tokio::test]
async fn anthropic_structured_output_is_a_forced_tool_and_the_prefix_is_cached() {
    let essay = corpus_json("anthropic/messages.text-and-tool-use.response.json");
    let weather = corpus_json("anthropic/messages.tool-use.request.json")["tools"][0].clone();
    let schema = json!({"type": "object", "properties": {"summary": {"type": "string"}},
        "required": ["summary"]});
    let mut req = ChatRequest::new(
        "You are Orion.",
        vec![Message::user("Write about pets, then submit an analysis.")],
    );
    req.tools = vec![ToolSpec {
        name: "get_weather".into(),
        description: String::new(),
        parameters: weather["input_schema"].clone(),
    }];
    req.output = Some(OutputSchema {
        name: "submit_analysis".into(),
        schema: schema.clone(),
    });
    let h = Harness::start(|s| only(s, "claude")).await;
    h.fake.script([Reply::ok(essay.to_string())]);
    let answer = h.call(&req).await.unwrap();
    // The forced tool's input is the answer, not a tool to run.
    assert_eq!(
        answer.structured,
        Some(essay["content"][1]["input"].clone())
    );
    assert_eq!(
        answer.parts,
        [text(essay["content"][0]["text"].as_str().unwrap())]
    );
    assert_eq!(answer.stop, StopReason::EndTurn);

    let sent = h.fake.last().json;
    let ephemeral = json!({"type": "ephemeral"});
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "You are Orion.", "cache_control": ephemeral}])
    );
    let tools = sent["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(tools[0]["name"], "get_weather");
    assert_eq!(
        tools[0].get("cache_control"),
        None,
        "only the last tool ends the prefix"
    );
    assert_eq!(tools[1]["name"], "submit_analysis");
    assert_eq!(tools[1]["input_schema"], schema);
    assert!(
        tools[1]["description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    assert_eq!(tools[1]["cache_control"], ephemeral);
    assert_eq!(
        sent["tool_choice"],
        json!({"type": "tool", "name": "submit_analysis"})
    );

    // Without cache_prefix nothing is marked.
    req.cache_prefix = false;
    h.fake.script([Reply::ok(essay.to_string())]);
    h.call(&req).await.unwrap();
    let sent = h.fake.last();
    assert!(!sent.raw.contains("cache_control"), "{}", sent.raw);
    assert_eq!(
        sent.json["system"],
        json!([{"type": "text", "text": "You are Orion."}])
    );
}

#[tokio::test]
async fn openai_request_matches_the_documented_function_call_example() {
    let documented = corpus_json("openai/chat-completion.tool-calls.request.json");
    let f = &documented["tools"][0]["function"];
    let question = documented["messages"][0]["content"].as_str().unwrap();
    let mut req = ChatRequest::new("", vec![Message::user(question)]);
    req.tools = vec![ToolSpec {
        name: f["name"].as_str().unwrap().into(),
        description: f["description"].as_str().unwrap().into(),
        parameters: f["parameters"].clone(),
    }];
    let h = Harness::start(|s| only(s, "gpt-mini")).await;
    let answer = body("openai/chat-completion.tool-calls.response.json");
    h.fake.script([Reply::ok(answer)]);
    assert_eq!(h.call(&req).await.unwrap().stop, StopReason::ToolUse);

    let sent = h.fake.last();
    assert_eq!(sent.method, Method::POST);
    assert_eq!(sent.path, "/v1/chat/completions");
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert_eq!(sent.header("authorization"), Some(bearer.as_str()));
    assert_eq!(sent.header("x-api-key"), None);
    // The documented request plus the answer allowance, as `max_tokens` for a server that is not
    // api.openai.com.
    let mut expected = documented.clone();
    expected["max_tokens"] = json!(4096);
    assert_eq!(sent.json, expected);
}

#[tokio::test]
async fn openai_conversation_carries_tool_results_and_a_json_schema() {
    let schema = triage_request().output.unwrap().schema;
    let read_file = json!({"type": "object", "properties": {"path": {"type": "string"}},
        "required": ["path"]});
    let mut req = triage_request();
    req.system = "You are Orion.".into();
    req.temperature = Some(0.5);
    req.tools = vec![ToolSpec {
        name: "read_file".into(),
        description: "Read a file of the repository".into(),
        parameters: read_file.clone(),
    }];
    req.messages = vec![
        Message::user("Label this issue: crash on start"),
        Message {
            role: Role::Assistant,
            parts: vec![tool_call(
                "call_abc123",
                "read_file",
                json!({"path": "src/main.rs"}),
            )],
        },
        Message::tool_results(vec![Part::ToolResult {
            call_id: "call_abc123".into(),
            content: "fn main() { panic!() }".into(),
            is_error: false,
        }]),
    ];
    let h = Harness::start(|s| only(s, "gpt-mini")).await;
    h.fake
        .script([Reply::ok(openai_says(r#"{"label": "bug"}"#))]);
    let answer = h.call(&req).await.unwrap();
    assert_eq!(answer.structured, Some(json!({"label": "bug"})));

    let sent = h.fake.last().json;
    let expected = json!({
        "model": "gpt-5.4",
        "messages": [
            {"role": "system", "content": "You are Orion."},
            {"role": "user", "content": "Label this issue: crash on start"},
            {"role": "assistant", "content": null, "tool_calls": [{
                "id": "call_abc123", "type": "function",
                "function": {"name": "read_file", "arguments": "{\"path\":\"src/main.rs\"}"},
            }]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": "fn main() { panic!() }"},
        ],
        "max_tokens": 4096,
        "temperature": 0.5,
        "tools": [{"type": "function", "function": {
            "name": "read_file", "description": "Read a file of the repository",
            "parameters": read_file,
        }}],
        "tool_choice": "auto",
        "response_format": {"type": "json_schema",
            "json_schema": {"name": "triage", "schema": schema, "strict": false}},
    });
    assert_eq!(sent, expected);
    // The tool call goes back in the shape the API gave it (the corpus answer).
    let documented = corpus_json("openai/chat-completion.tool-calls.response.json");
    let documented = &documented["choices"][0]["message"]["tool_calls"][0];
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let echoed = &sent["messages"][2]["tool_calls"][0];
    assert_eq!(keys(echoed), keys(documented));
    assert_eq!(keys(&echoed["function"]), keys(&documented["function"]));

    // OpenAI's own endpoint gets `max_completion_tokens` instead (reasoning models need it).
    let mut own = settings(&h.fake).models["gpt-mini"].clone();
    own.base_url = Some("https://api.openai.com/v1".into());
    let body = orion_bot::llm::openai::request_body(&own, &req, 4096);
    assert_eq!(body["max_completion_tokens"], 4096);
    assert_eq!(body.get("max_tokens"), None);
}

// Structured answers and their repair turn ----------------------------------------------------

#[tokio::test]
async fn an_unusable_structured_answer_gets_one_repair_turn() {
    let req = triage_request();
    // OpenAI answers prose, then (fenced) JSON once told what was wrong.
    let h = Harness::start(|s| only(s, "gpt-mini")).await;
    h.fake.script([
        Reply::ok(openai_says("Sure! This looks like a bug to me.")),
        Reply::ok(openai_says("```json\n{\"label\": \"bug\"}\n```")),
    ]);
    let mut run = h.task("acme");
    let mut attempt = run.begin(&req).await.unwrap();
    let got: Triage = run.call_json(&mut attempt, &req).await.unwrap();
    assert_eq!(got.label, "bug");
    let sent = h.fake.received();
    assert_eq!(sent.len(), 2);
    let (asked, repair) = (&sent[0].json["messages"], &sent[1].json["messages"]);
    assert_eq!(
        repair.as_array().unwrap().len(),
        4,
        "system, question, the unusable answer, repair"
    );
    assert_eq!((&repair[0], &repair[1]), (&asked[0], &asked[1]));
    assert_eq!(
        repair[2],
        json!({"role": "assistant", "content": "Sure! This looks like a bug to me."})
    );
    assert_eq!(repair[3]["role"], "user");
    assert_eq!(
        repair[3]["content"],
        "Your previous answer could not be used: the answer is not JSON: expected value at line 1 \
         column 1. Answer again with only the JSON answer matching the schema, nothing else."
    );
    assert_eq!(
        sent[1].json["response_format"],
        sent[0].json["response_format"]
    );

    // Anthropic fills the output tool with the wrong type: its answer is shown back to it.
    let h = Harness::start(|s| only(s, "claude")).await;
    h.fake.script([
        Reply::ok(anthropic_calls("triage", json!({"label": 7}))),
        Reply::ok(anthropic_calls("triage", json!({"label": "bug"}))),
    ]);
    let mut run = h.task("acme");
    let mut attempt = run.begin(&req).await.unwrap();
    let got: Triage = run.call_json(&mut attempt, &req).await.unwrap();
    assert_eq!(got.label, "bug");
    let sent = h.fake.received();
    let repair = &sent[1].json["messages"];
    assert_eq!(
        repair[1],
        json!({"role": "assistant", "content": [{"type": "text", "text": "{\"label\":7}"}]})
    );
    assert_eq!(repair[2]["role"], "user");
    let told = repair[2]["content"][0]["text"].as_str().unwrap();
    assert!(
        told.starts_with(
            "Your previous answer could not be used: it does not match the schema: \
             invalid type: integer `7`, expected a string"
        ),
        "{told}"
    );
    let forced = json!({"type": "tool", "name": "triage"});
    assert_eq!(sent[1].json["tool_choice"], forced);
    assert_eq!(h.call_outcomes().await, ["ok", "ok"]);
}

#[tokio::test]
async fn a_second_unusable_answer_is_malformed_output() {
    let h = Harness::start(|s| only(s, "claude")).await;
    h.fake
        .script(vec![Reply::ok(anthropic_says("I think it is a bug.")); 2]);
    let req = triage_request();
    let mut run = h.task("acme");
    let mut attempt = run.begin(&req).await.unwrap();
    let got = run.call_json::<Triage>(&mut attempt, &req).await;
    let message = "the answer is not JSON: expected value at line 1 column 1".to_owned();
    assert_eq!(
        got,
        Err(CallError::Provider(ProviderError::MalformedOutput {
            message
        }))
    );
    assert_eq!(h.fake.count(), 2, "one answer and one repair, no more");
    // Both answers were billed: the ledger has them as successful calls, with their tokens.
    assert_eq!(h.call_outcomes().await, ["ok", "ok"]);
}

// Secrets and keys ----------------------------------------------------------------------------

#[tokio::test]
async fn secrets_never_reach_the_provider() {
    let github_token = format!("ghp_{}", "R2d2C3poBb8".repeat(4));
    let prompt = format!(
        "Deploy failed: token {github_token} rejected; the webhook secret is {WEBHOOK_SECRET}"
    );
    let req = ChatRequest::new(
        format!("You are Orion. Never repeat {WEBHOOK_SECRET}."),
        vec![
            Message::user(prompt),
            Message {
                role: Role::Assistant,
                parts: vec![tool_call(
                    "call_1",
                    "run",
                    json!({"cmd": format!("curl -H 'x-api-key: {ANTHROPIC_KEY}'")}),
                )],
            },
            Message::tool_results(vec![Part::ToolResult {
                call_id: "call_1".into(),
                content: format!("OPENAI_API_KEY={OPENAI_KEY} ACME={ACME_OPENAI_KEY}"),
                is_error: false,
            }]),
        ],
    );
    let leaks = [
        github_token.as_str(),
        WEBHOOK_SECRET,
        OPENAI_KEY,
        ANTHROPIC_KEY,
        ACME_OPENAI_KEY,
    ];
    let redacted = "Deploy failed: token [REDACTED:github-token] rejected; \
                    the webhook secret is [REDACTED:secret]";
    for (model, answer) in [
        ("gpt-mini", "openai/chat-completion.default.response.json"),
        ("claude", "anthropic/messages.end-turn.response.json"),
    ] {
        let h = Harness::start(|s| {
            only(s, model);
            // An installation's own key is a secret too.
            let acme = [("anthropic".into(), "ACME_OPENAI_KEY".into())].into();
            s.llm.byok.insert("acme".into(), acme);
        })
        .await;
        h.fake.script([Reply::ok(body(answer))]);
        h.call_as("initech", &req).await.unwrap();
        let sent = h.fake.last();
        for leak in leaks {
            assert!(!sent.raw.contains(leak), "{model}: {leak} in {}", sent.raw);
        }
        let user_text = match model {
            "gpt-mini" => &sent.json["messages"][1]["content"],
            _ => &sent.json["messages"][0]["content"][0]["text"],
        };
        assert_eq!(user_text, redacted, "{model}");
        assert!(
            sent.raw.contains("Never repeat [REDACTED:secret]."),
            "{model}"
        );
    }
}

#[tokio::test]
async fn each_installation_s_own_key_is_the_one_sent() {
    let byok = |s: &mut LlmSettings| {
        let acme = [("gpt-mini".into(), "ACME_OPENAI_KEY".into())].into();
        let globex = [("claude".into(), "GLOBEX_CLAUDE_KEY".into())].into();
        s.llm.byok = [("acme".into(), acme), ("globex".into(), globex)].into();
    };
    let h = Harness::start(|s| {
        only(s, "gpt-mini");
        byok(s);
    })
    .await;
    for (installation, key) in [("acme", ACME_OPENAI_KEY), ("globex", OPENAI_KEY)] {
        let answer = body("openai/chat-completion.default.response.json");
        h.fake.script([Reply::ok(answer)]);
        h.call_as(installation, &hello()).await.unwrap();
        let sent = h.fake.last();
        let bearer = format!("Bearer {key}");
        assert_eq!(
            sent.header("authorization"),
            Some(bearer.as_str()),
            "{installation}"
        );
        assert_eq!(sent.header("x-api-key"), None);
    }

    let h = Harness::start(|s| {
        only(s, "claude");
        byok(s);
    })
    .await;
    for (installation, key) in [("globex", GLOBEX_CLAUDE_KEY), ("acme", ANTHROPIC_KEY)] {
        let answer = body("anthropic/messages.end-turn.response.json");
        h.fake.script([Reply::ok(answer)]);
        h.call_as(installation, &hello()).await.unwrap();
        let sent = h.fake.last();
        assert_eq!(sent.header("x-api-key"), Some(key), "{installation}");
        assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
        assert_eq!(sent.header("authorization"), None);
    }
    let installations: Vec<String> = h
        .calls()
        .await
        .into_iter()
        .map(|c| c.installation)
        .collect();
    assert_eq!(installations, ["globex", "acme"]);

    // A key given for a provider is sent only to that provider's own API: this model lives on
    // another host (an OpenAI-compatible server), so acme's OpenAI key must not go there.
    let h = Harness::start(|s| {
        only(s, "gpt-mini");
        let acme = [("openai".into(), "ACME_OPENAI_KEY".into())].into();
        s.llm.byok = [("acme".into(), acme)].into();
    })
    .await;
    h.fake.script([Reply::ok(body(
        "openai/chat-completion.default.response.json",
    ))]);
    h.call_as("acme", &hello()).await.unwrap();
    let bearer = format!("Bearer {OPENAI_KEY}");
    assert_eq!(h.fake.last().header("authorization"), Some(bearer.as_str()));
}

// Budgets and escalation ----------------------------------------------------------------------

#[tokio::test]
async fn a_call_whose_worst_case_breaks_the_budget_is_never_sent() {
    let h = Harness::start_with(
        |s| {
            only(s, "claude");
            s.budgets.limits.daily_usd = Some(1.0);
        },
        Some(NOW),
    )
    .await;
    // $0.94 spent today: under the stop line ($0.95), but not by the $0.02 this call could cost.
    sqlx::query(
        "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier,
            input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd,
            latency_ms, outcome)
         VALUES ($1, 'acme', 'acme/app', 'acme/app#0/plan', 'plan', 'claude', 'tactical',
            100000, 168000, 0, 0, 940000000, 900, 'ok')",
    )
    .bind(NOW - 3_600_000)
    .execute(h.llm.store().pool())
    .await
    .unwrap();

    let mut run = h.task("acme");
    let got = run.run_json(&triage_request(), accept_bug).await;
    // Routing already sees that no model's worst case fits what is left: refused up front.
    let message = "the daily budget of acme has $0.0100 left before its stop line, less than \
                   this call could cost on any model able to take it (skipped claude (over the \
                   remaining budget))"
        .to_owned();
    assert_eq!(
        got,
        Err(Blocked::Budget {
            message,
            resets_at: Some(NEXT_MIDNIGHT),
        })
    );
    assert_eq!(h.fake.count(), 0, "nothing was sent");
    assert!(
        run.notes().is_empty(),
        "no attempt was started: {:?}",
        run.notes()
    );
    assert_eq!(h.calls().await.len(), 1, "only the seeded spend");
    assert!(h.attempts().await.is_empty());
}

#[tokio::test]
async fn run_json_climbs_past_rejected_and_malformed_answers() {
    let h = Harness::start(|_| {}).await;
    h.fake.script([
        // gpt-mini: well-formed, but the caller rejects it.
        Reply::ok(openai_says(r#"{"label": "question"}"#)),
        // claude: no JSON, twice (the answer and its repair).
        Reply::ok(anthropic_says("Probably a bug.")),
        Reply::ok(anthropic_says("Definitely a bug.")),
        // gpt-big: right.
        Reply::ok(openai_says(r#"{"label": "bug"}"#)),
    ]);
    let mut run = h.task("acme");
    let got = run.run_json(&triage_request(), accept_bug).await;
    assert_eq!(
        got,
        Ok(Triage {
            label: "bug".into()
        })
    );

    let sent: Vec<(String, String)> = h
        .fake
        .received()
        .into_iter()
        .map(|r| (r.path, r.json["model"].as_str().unwrap().to_owned()))
        .collect();
    let (openai, anthropic) = ("/v1/chat/completions", "/v1/messages");
    assert_eq!(
        sent,
        [
            (openai.into(), "gpt-5.4".into()),
            (anthropic.into(), "claude-haiku-4-5".into()),
            (anthropic.into(), "claude-haiku-4-5".into()),
            (openai.into(), "gpt-5.4-pro".into()),
        ]
    );
    let attempts = h.attempts().await;
    let summary: Vec<(&str, i64, bool, Option<&str>)> = attempts
        .iter()
        .map(|a| (a.model.as_str(), a.rung, a.escalated, a.outcome.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("gpt-mini", 0, false, Some("failed")),
            ("claude", 1, true, Some("failed")),
            ("gpt-big", 2, true, Some("succeeded")),
        ]
    );
    assert_eq!(
        attempts[0].detail.as_deref(),
        Some("label \"question\" contradicts the panic in the issue")
    );
    assert_eq!(
        attempts[1].detail.as_deref(),
        Some("malformed output: the answer is not JSON: expected value at line 1 column 1")
    );
    let notes = run.notes();
    assert!(notes[1].contains("escalated above gpt-mini"), "{notes:?}");
    assert!(notes[2].contains("escalated above claude"), "{notes:?}");
    // Every answer was billed, the unusable ones too: the attempt, not the call, failed.
    assert_eq!(h.call_outcomes().await, ["ok", "ok", "ok", "ok"]);
    // Routing learned: the first attempt failed, and of the escalations one failed and one
    // succeeded; escalations are learned apart from first attempts.
    let perf = h.llm.performance();
    let tally = |m, escalated| {
        let t = perf.tally_attempt(m, TaskKind::Triage, Complexity::Low, escalated);
        (t.successes, t.failures)
    };
    assert_eq!(tally("gpt-mini", false), (0.0, 1.0));
    assert_eq!(tally("claude", true), (0.0, 1.0));
    assert_eq!(tally("gpt-big", true), (1.0, 0.0));
    assert_eq!(tally("claude", false), (0.0, 0.0));
}

#[tokio::test]
async fn the_attempt_cap_blocks_the_task() {
    let h = Harness::start(|s| s.routing.max_attempts = 2).await;
    h.fake.script([
        Reply::ok(openai_says(r#"{"label": "question"}"#)),
        Reply::ok(anthropic_calls("triage", json!({"label": "feature"}))),
    ]);
    let mut run = h.task("acme");
    let got = run
        .run_json(&triage_request(), accept_bug)
        .await
        .unwrap_err();
    let last = "label \"feature\" contradicts the panic in the issue".to_owned();
    assert_eq!(
        got.to_string(),
        format!("gave up after 2 attempts; the last failed with: {last}")
    );
    assert_eq!(got, Blocked::AttemptCap { attempts: 2, last });
    assert_eq!(h.fake.count(), 2, "gpt-big was never asked");
    assert_eq!(h.attempts().await.len(), 2);
}

#[tokio::test]
async fn context_too_long_escalates_without_blaming_the_model() {
    let h = Harness::start(|s| s.llm.retries = 2).await;
    let too_long = "This model's maximum context length is 128000 tokens.";
    let code = json!("context_length_exceeded");
    h.fake.script([
        Reply::new(400, openai_error(too_long, "invalid_request_error", code)),
        Reply::ok(anthropic_calls("triage", json!({"label": "bug"}))),
    ]);
    let mut run = h.task("acme");
    let got = run.run_json(&triage_request(), accept_bug).await;
    assert_eq!(
        got,
        Ok(Triage {
            label: "bug".into()
        })
    );
    assert_eq!(h.fake.count(), 2, "not retried on the same model");
    let attempts = h.attempts().await;
    let a = |i: usize| (attempts[i].model.as_str(), attempts[i].outcome.as_deref());
    assert_eq!(a(0), ("gpt-mini", Some("error")));
    assert_eq!(a(1), ("claude", Some("succeeded")));
    let detail = format!("context too long: {too_long}");
    assert_eq!(attempts[0].detail, Some(detail));
    assert_eq!(h.call_outcomes().await, ["context_too_long", "ok"]);
    // A prompt that does not fit says nothing about the model's ability.
    let perf = h.llm.performance();
    let tally = |m, escalated| perf.tally_attempt(m, TaskKind::Triage, Complexity::Low, escalated);
    assert_eq!(tally("gpt-mini", false).attempts(), 0.0);
    assert_eq!(tally("claude", true).successes, 1.0);
    assert!(attempts[1].escalated, "it followed a failed attempt");
}
