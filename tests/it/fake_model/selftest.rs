//! Self-tests of the fake model: the *real* model layer (`orion_bot::llm::Llm` with a fresh
//! migrated database) pointed at it, on both wires, so what passes here is what the pipeline's
//! end-to-end tests will get.
//!
//! Run with `cargo test --test it fake_model`.

use std::time::{Duration, Instant};

use orion_bot::llm::{
    AttemptOutcome, CallError, ChatRequest, ChatResponse, Complexity, Llm, LlmSettings, Message,
    OutputSchema, Part, ProviderError, Risk, StopReason, TaskKind, TaskRun, TaskSpec, ToolSpec,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;
use tempfile::TempDir;

use super::{Answer, FakeModel, SeenToolResult, Wire, keys, settings};

/// The fake and the model layer pointed at it.
struct Rig {
    fake: FakeModel,
    llm: Llm,
    _dir: TempDir,
}

/// A row of the spend ledger.
#[derive(Debug, PartialEq)]
struct Spent {
    model: String,
    input_tokens: i64,
    output_tokens: i64,
    cost_nusd: i64,
    outcome: String,
}

impl Rig {
    async fn start(tweak: impl FnOnce(&mut LlmSettings)) -> Self {
        let fake = FakeModel::start().await;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::support::fresh_store(dir.path()).await;
        let mut s = settings(&fake);
        tweak(&mut s);
        let llm = Llm::new(store, s, keys(), Vec::new()).await.unwrap();
        Self {
            fake,
            llm,
            _dir: dir,
        }
    }

    fn task(&self, kind: TaskKind) -> TaskRun {
        self.llm.task(TaskSpec {
            id: format!("acme/app#1/{kind}"),
            kind,
            complexity: Complexity::Low,
            risk: Risk::Low,
            installation: "acme".to_owned(),
            repo: Some("acme/app".to_owned()),
            paths: Vec::new(),
        })
    }

    /// One call as a whole attempt of a fresh task.
    async fn call(&self, kind: TaskKind, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        crate::support::one_call(&mut self.task(kind), req).await
    }

    async fn provider_error(&self, kind: TaskKind, req: &ChatRequest) -> ProviderError {
        match self.call(kind, req).await {
            Err(CallError::Provider(e)) => e,
            other => panic!("expected a provider error, got {other:?}"),
        }
    }

    async fn ledger(&self) -> Vec<Spent> {
        sqlx::query(
            "SELECT model, input_tokens, output_tokens, cost_nusd, outcome
             FROM llm_calls ORDER BY id",
        )
        .fetch_all(self.llm.store().pool())
        .await
        .unwrap()
        .iter()
        .map(|r| Spent {
            model: r.get(0),
            input_tokens: r.get(1),
            output_tokens: r.get(2),
            cost_nusd: r.get(3),
            outcome: r.get(4),
        })
        .collect()
    }
}

/// Only `model` on the ladder.
fn only(model: &'static str) -> impl FnOnce(&mut LlmSettings) {
    move |s| {
        s.tiers.tactical = vec![model.to_owned()];
        s.tiers.strategic = Vec::new();
    }
}

/// A request as Orion words it: the role on the system prompt's first line.
fn ask(role: &str, user: &str) -> ChatRequest {
    ChatRequest::new(
        format!("Orion role: {role}.\nYou are Orion, a careful maintainer."),
        vec![Message::user(user)],
    )
}

const ISSUE: &str = "App crashes on start: thread 'main' panicked at src/main.rs:3";

#[derive(Debug, PartialEq, Deserialize)]
struct Triage {
    label: String,
}

fn triage_request() -> ChatRequest {
    let mut req = ask("triage", ISSUE);
    req.output = Some(OutputSchema {
        name: "triage".to_owned(),
        schema: json!({
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["bug", "feature", "question"]}},
            "required": ["label"],
        }),
    });
    req
}

fn tool(name: &str) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: format!("The {name} tool."),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }
}

#[tokio::test]
async fn a_json_answer_round_trips_through_run_json_on_both_wires() {
    // Per million tokens, in and out.
    for (model, wire, prices) in [
        ("cheap", Wire::OpenAi, (1_000, 4_000)),
        ("claude", Wire::Anthropic, (3_000, 15_000)),
    ] {
        let rig = Rig::start(only(model)).await;
        rig.fake
            .script("triage", [Answer::json(json!({"label": "bug"}))]);

        let triage: Triage = rig
            .task(TaskKind::Triage)
            .run_json(&triage_request(), |_| Ok(()))
            .await
            .unwrap();

        assert_eq!(triage.label, "bug", "{model}");
        let [seen] = rig.fake.requests("triage").try_into().unwrap();
        assert_eq!((seen.model.as_str(), seen.wire), (model, wire));
        assert_eq!(seen.system, triage_request().system);
        assert_eq!(seen.last_user_text, ISSUE);
        assert_eq!(seen.output.as_deref(), Some("triage"));
        // On Anthropic the answer is a forced tool; it is the output, not an offered tool.
        assert!(seen.tools.is_empty(), "{model}: {:?}", seen.tools);
        match wire {
            Wire::OpenAi => assert_eq!(seen.body["response_format"]["type"], "json_schema"),
            Wire::Anthropic => assert_eq!(seen.body["tool_choice"]["name"], "triage"),
        }
        // Billed like a provider would: prompt and answer at about four characters a token.
        let prompt = seen.body.to_string().len().div_ceil(4) as i64;
        let answer = r#"{"label":"bug"}"#.len().div_ceil(4) as i64;
        assert_eq!(
            rig.ledger().await,
            [Spent {
                model: model.to_owned(),
                input_tokens: prompt,
                output_tokens: answer,
                cost_nusd: prompt * prices.0 + answer * prices.1,
                outcome: "ok".to_owned(),
            }]
        );
        assert!(rig.fake.misses().is_empty(), "{:?}", rig.fake.misses());
    }
}

#[tokio::test]
async fn a_tools_answer_asks_for_calls_and_the_next_request_carries_their_results() {
    for (model, wire) in [("cheap", Wire::OpenAi), ("claude", Wire::Anthropic)] {
        let rig = Rig::start(only(model)).await;
        let edit = json!({"path": "src/lib.rs", "old": "a - b", "new": "a + b"});
        rig.fake.script(
            "implement",
            [
                Answer::tool("edit_file", edit.clone()),
                Answer::text("Fixed the sign in add()."),
            ],
        );
        let mut req = ask("implement", "Fix add() in src/lib.rs");
        req.tools = vec![tool("read_file"), tool("edit_file")];
        let mut run = rig.task(TaskKind::ImplementStep);
        let mut attempt = run.begin(&req).await.unwrap();

        let first = run.call(&mut attempt, &req).await.unwrap();
        assert_eq!(first.stop, StopReason::ToolUse, "{model}");
        let calls: Vec<_> = first.tool_calls().collect();
        let [(call_id, "edit_file", args)] = calls[..] else {
            panic!("{model}: one edit_file call, got {calls:?}")
        };
        assert_eq!(args, &edit);
        let call_id = call_id.to_owned();

        let refusal = "error: `a - b` does not occur in src/lib.rs";
        req.messages.push(first.to_message());
        req.messages
            .push(Message::tool_results(vec![Part::ToolResult {
                call_id: call_id.clone(),
                content: refusal.to_owned(),
                is_error: true,
            }]));
        let second = run.call(&mut attempt, &req).await.unwrap();
        run.finish(attempt, AttemptOutcome::Succeeded).await;

        assert_eq!(
            (second.text().as_str(), second.stop),
            ("Fixed the sign in add().", StopReason::EndTurn)
        );
        let seen = rig.fake.requests("implement");
        assert_eq!(seen.len(), 2, "{model}");
        assert_eq!(seen[0].tools, ["read_file", "edit_file"]);
        assert_eq!(seen[0].tool_results, []);
        assert_eq!(
            seen[1].tool_results,
            [SeenToolResult {
                tool: "edit_file".to_owned(),
                call_id,
                content: refusal.to_owned(),
                // The OpenAI wire has no error flag for a tool result.
                is_error: (wire == Wire::Anthropic).then_some(true),
            }]
        );
        assert_eq!(seen[1].last_user_text, "Fix add() in src/lib.rs");
        assert!(rig.fake.misses().is_empty(), "{:?}", rig.fake.misses());
    }
}

#[tokio::test]
async fn answers_follow_the_role_on_the_system_prompts_first_line() {
    let rig = Rig::start(|_| {}).await;
    rig.fake.script("review", [Answer::text("LGTM.")]);
    rig.fake.script("report", [Answer::text("Opened #7.")]);

    // Asked in the other order than scripted: each role reads its own script.
    let report = rig
        .call(TaskKind::Report, &ask("report", "Report on #1"))
        .await
        .unwrap();
    let review = rig
        .call(TaskKind::Review, &ask("review", "Review the diff"))
        .await
        .unwrap();
    assert_eq!(
        (report.text(), review.text()),
        ("Opened #7.".into(), "LGTM.".into())
    );

    // A role named further down does not count.
    let unmarked = ChatRequest::new(
        "You are Orion.\nOrion role: report.",
        vec![Message::user("Report on #2")],
    );
    let e = rig.provider_error(TaskKind::Report, &unmarked).await;
    let miss = "request 3 has no `Orion role: <name>.` first line in its system prompt";
    assert!(e.to_string().contains(miss), "{e}");
    assert_eq!(rig.fake.misses(), [miss]);
    assert_eq!(rig.fake.requests("report").len(), 1);
    assert_eq!(
        rig.fake.requests("review")[0].role.as_deref(),
        Some("review")
    );
}

#[tokio::test]
async fn a_models_own_script_comes_first_and_the_task_escalates_past_it() {
    let rig = Rig::start(|_| {}).await;
    rig.fake.for_model("cheap", "triage", [Answer::error(500)]);
    rig.fake
        .script("triage", [Answer::json(json!({"label": "bug"}))]);

    let triage: Triage = rig
        .task(TaskKind::Triage)
        .run_json(&triage_request(), |_| Ok(()))
        .await
        .unwrap();

    assert_eq!(triage.label, "bug");
    let models: Vec<String> = rig
        .fake
        .requests("triage")
        .into_iter()
        .map(|r| r.model)
        .collect();
    assert_eq!(models, ["cheap", "strong"]);
    let outcomes: Vec<String> = rig.ledger().await.into_iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, ["server_error", "ok"]);
    assert!(rig.fake.misses().is_empty(), "{:?}", rig.fake.misses());
}

#[tokio::test]
async fn a_request_without_a_scripted_answer_is_a_recorded_miss_until_a_fallback_exists() {
    let rig = Rig::start(|_| {}).await;
    let plan = ask("plan", "Plan the fix for #1");

    let e = rig.provider_error(TaskKind::Plan, &plan).await;

    let miss = "no scripted answer for role plan (request 1)";
    assert_eq!(
        e,
        ProviderError::Server {
            status: 500,
            message: format!("HTTP 500: {miss}"),
        }
    );
    assert_eq!(rig.fake.misses(), [miss]);
    assert_eq!(rig.fake.requests("plan")[0].number, 1);

    rig.fake.fallback("plan", Answer::text("1. Fix the sign."));
    for _ in 0..2 {
        let answer = rig.call(TaskKind::Plan, &plan).await.unwrap();
        assert_eq!(answer.text(), "1. Fix the sign.");
    }
    assert_eq!(rig.fake.misses().len(), 1);
}

#[tokio::test]
async fn errors_come_in_each_providers_own_shapes() {
    let fix = || ask("fix", "Fix the failing test");
    let rig = Rig::start(only("cheap")).await;
    rig.fake.script(
        "fix",
        [
            Answer::error(429),
            Answer::error(500),
            Answer::Error {
                status: 502,
                body: "<html>Bad gateway</html>".to_owned(),
            },
            Answer::Garbage("{\"choices\": \"soon\"}".to_owned()),
        ],
    );
    let mut errors = Vec::new();
    for _ in 0..4 {
        errors.push(rig.provider_error(TaskKind::Fix, &fix()).await);
    }
    let [rate, server, gateway, garbage] = &errors[..] else {
        unreachable!()
    };
    // The recorded 429 states its wait in the message, which Orion reads.
    assert_eq!(
        rate.retry_after(),
        Some(Duration::from_millis(125)),
        "{rate}"
    );
    assert!(
        rate.to_string().contains("Rate limit reached for gpt-4o"),
        "{rate}"
    );
    assert!(
        server.to_string().contains("The server had an error"),
        "{server}"
    );
    assert!(
        gateway.to_string().contains("<html>Bad gateway</html>"),
        "{gateway}"
    );
    assert_eq!(garbage.kind(), "malformed_output", "{garbage}");

    let rig = Rig::start(only("claude")).await;
    rig.fake
        .script("fix", [Answer::error(429), Answer::error(529)]);
    let rate = rig.provider_error(TaskKind::Fix, &fix()).await;
    let overloaded = rig.provider_error(TaskKind::Fix, &fix()).await;
    assert_eq!(rate.kind(), "rate_limited");
    assert!(
        rate.to_string()
            .contains("(request req_011CYK5mje9HkutJtmfPzzNC)"),
        "{rate}"
    );
    assert_eq!(overloaded.kind(), "overloaded");
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let rig = Rig::start(only("cheap")).await;
    rig.fake.latency(Duration::from_millis(200));
    rig.fake.fallback("report", Answer::text("Done."));

    let started = Instant::now();
    rig.call(TaskKind::Report, &ask("report", "Report"))
        .await
        .unwrap();

    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_request_that_is_no_model_call_is_a_miss() {
    let fake = FakeModel::start().await;
    let status = reqwest::Client::new()
        .post(format!("{}/completions", fake.openai_url()))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    let status = reqwest::Client::new()
        .post(format!("{}/v1/messages", fake.anthropic_url()))
        .body("model=claude")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 400);
    assert_eq!(
        fake.misses(),
        [
            "request 1: POST /v1/completions is not a model endpoint (the fake serves \
             POST /v1/chat/completions and POST /v1/messages)",
            "request 2 is not a valid Anthropic Messages request: the body is not JSON: \
             expected value at line 1 column 1",
        ]
    );
}

#[tokio::test]
#[should_panic(expected = "Answer::Error needs an HTTP error status, not 200")]
async fn an_error_answer_with_a_success_status_is_refused_when_scripted() {
    let fake = FakeModel::start().await;
    fake.script(
        "fix",
        [Answer::Error {
            status: 200,
            body: String::new(),
        }],
    );
}
