//! Routing tables: task kind × complexity × sensitive paths × budget state → model; the
//! capability filter; the escalation ladder and the attempt cap; budget warn, stop and rollover;
//! a configuration reload changing routing. Routing is decided before any call is made, so none
//! of these needs a model server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use orion_bot::config::StoreConfig;
use orion_bot::llm::ledger::{self, CallRecord, Scope};
use orion_bot::llm::perf::Performance;
use orion_bot::llm::router::{BudgetLevel, NoRoute, RouteQuery};
use orion_bot::llm::{AttemptOutcome, OutputSchema};
use orion_bot::llm::{
    Blocked, BudgetLimits, ChatRequest, Complexity, Llm, LlmSettings, Message, ModelConfig, Needs,
    Provider, Risk, Router, Strategy, TaskKind, TaskSpec, ToolSpec, Usage,
};
use orion_bot::store::{OpenMode, Store};
use tokio_util::sync::CancellationToken;

fn model(input: f64, output: f64) -> ModelConfig {
    ModelConfig {
        provider: Provider::Openai,
        model: "m".to_owned(),
        base_url: Some("http://127.0.0.1:9/v1".to_owned()),
        api_key_env: None,
        input_usd_per_mtok: input,
        output_usd_per_mtok: output,
        cached_input_usd_per_mtok: None,
        cache_write_usd_per_mtok: None,
        context_window: 200_000,
        max_output_tokens: 8_192,
        tools: true,
        vision: false,
        structured: true,
        enabled: true,
        timeout_secs: 5,
    }
}

/// A research-only model (no tools) cheapest of all, two tactical and two strategic models.
fn settings() -> LlmSettings {
    let mut models = BTreeMap::new();
    let mut research = model(0.1, 0.2);
    research.tools = false;
    models.insert("research".to_owned(), research);
    let mut cheap = model(0.28, 0.42);
    cheap.context_window = 64_000;
    models.insert("cheap".to_owned(), cheap);
    models.insert("mid".to_owned(), model(1.0, 5.0));
    models.insert("strong".to_owned(), model(3.0, 15.0));
    models.insert("top".to_owned(), model(5.0, 25.0));
    let mut s = LlmSettings {
        models,
        ..Default::default()
    };
    s.tiers.tactical = vec!["research".into(), "cheap".into(), "mid".into()];
    s.tiers.strategic = vec!["strong".into(), "top".into()];
    s
}

fn query<'a>(kind: TaskKind, paths: &'a [String]) -> RouteQuery<'a> {
    RouteQuery {
        kind,
        complexity: Complexity::Medium,
        risk: Risk::Medium,
        paths,
        needs: Needs {
            tools: true,
            structured: false,
            vision: false,
        },
        prompt_tokens: 4_000,
        max_output_tokens: 2_000,
        budget: BudgetLevel::Normal,
        budget_headroom: None,
        above_rung: None,
        unavailable: &[],
    }
}

fn route(router: &Router, perf: &Performance, q: &RouteQuery<'_>) -> String {
    router.route(perf, q).expect("a route").model
}

/// kind, complexity, risk, paths, budget → the model expected.
type Case<'a> = (
    TaskKind,
    Complexity,
    Risk,
    &'a Vec<String>,
    &'a BudgetLevel,
    &'a str,
);

#[test]
fn routing_table_kind_complexity_sensitivity_budget() {
    let router = Router::new(settings());
    let perf = Performance::default();
    let none: Vec<String> = vec![];
    let workflow = vec![".github/workflows/ci.yml".to_owned()];
    let auth = vec!["src/auth/session.rs".to_owned()];
    let plain = vec!["src/parser.rs".to_owned(), "README.md".to_owned()];
    let warn = BudgetLevel::Warn("daily budget at 84% ($16.80 of $20.00)".to_owned());
    use Complexity::*;
    use TaskKind::*;
    // (kind, complexity, risk, paths, budget) → model
    let table: Vec<Case<'_>> = vec![
        (Triage, Low, Risk::Low, &none, &BudgetLevel::Normal, "cheap"),
        (
            ImplementStep,
            Medium,
            Risk::Medium,
            &plain,
            &BudgetLevel::Normal,
            "cheap",
        ),
        (Fix, Low, Risk::Low, &plain, &BudgetLevel::Normal, "cheap"),
        // High complexity presumes the strategic tier.
        (
            ImplementStep,
            High,
            Risk::Medium,
            &plain,
            &BudgetLevel::Normal,
            "strong",
        ),
        // Reasoning kinds are strategic.
        (
            Plan,
            Medium,
            Risk::Medium,
            &none,
            &BudgetLevel::Normal,
            "strong",
        ),
        (
            Review,
            Low,
            Risk::Low,
            &plain,
            &BudgetLevel::Normal,
            "strong",
        ),
        (
            Recover,
            Medium,
            Risk::Medium,
            &none,
            &BudgetLevel::Normal,
            "strong",
        ),
        // Security guardrail: sensitive paths and high risk never go below the floor...
        (
            ImplementStep,
            Low,
            Risk::Low,
            &workflow,
            &BudgetLevel::Normal,
            "strong",
        ),
        (
            Summarize,
            Low,
            Risk::Low,
            &auth,
            &BudgetLevel::Normal,
            "strong",
        ),
        (Fix, Low, Risk::High, &plain, &BudgetLevel::Normal, "strong"),
        // ...not even when the budget is tight.
        (ImplementStep, Low, Risk::Low, &workflow, &warn, "strong"),
        // A budget warning lowers the bar: cheap models take strategic kinds too.
        (Review, Medium, Risk::Medium, &plain, &warn, "cheap"),
        (ImplementStep, High, Risk::Medium, &plain, &warn, "cheap"),
        (Triage, Low, Risk::Low, &none, &warn, "cheap"),
    ];
    for (kind, complexity, risk, paths, budget, expected) in table {
        let mut q = query(kind, paths);
        q.complexity = complexity;
        q.risk = risk;
        q.budget = budget.clone();
        let r = router.route(&perf, &q).unwrap();
        assert_eq!(
            r.model, expected,
            "{kind} {complexity:?} {risk:?} {paths:?} {budget:?}: {}",
            r.reason
        );
        if !paths.is_empty() && paths[0].starts_with(".github") {
            assert!(
                r.reason.contains("sensitive path .github/workflows/ci.yml"),
                "{}",
                r.reason
            );
        }
        if let BudgetLevel::Warn(_) = budget {
            assert!(
                r.reason.contains("routing to cheaper models"),
                "{}",
                r.reason
            );
        }
    }
}

#[test]
fn capabilities_context_and_circuits_filter_candidates() {
    let router = Router::new(settings());
    let perf = Performance::default();
    let mut q = query(TaskKind::Summarize, &[]);
    q.needs.tools = false;
    assert_eq!(
        route(&router, &perf, &q),
        "research",
        "no tools needed: cheapest"
    );
    q.needs.tools = true;
    let r = router.route(&perf, &q).unwrap();
    assert_eq!(
        r.model, "cheap",
        "research-only model never gets a tool task"
    );
    assert!(
        r.reason.contains("research (cannot call tools)"),
        "{}",
        r.reason
    );
    q.prompt_tokens = 100_000;
    assert_eq!(
        route(&router, &perf, &q),
        "mid",
        "cheap's 64k window is too small"
    );
    q.prompt_tokens = 4_000;
    let open = vec!["cheap".to_owned()];
    q.unavailable = &open;
    let r = router.route(&perf, &q).unwrap();
    assert_eq!(r.model, "mid");
    assert!(r.reason.contains("cheap (circuit open)"));
    // The remaining budget: a review presumes the strategic tier, but only cheap's worst case
    // ($0.00196 here) fits the $0.002 left, so cheap gets it rather than the task stopping.
    let mut review = query(TaskKind::Review, &[]);
    review.budget_headroom = Some(0.002);
    let r = router.route(&perf, &review).unwrap();
    assert_eq!(r.model, "cheap", "{}", r.reason);
    assert!(
        r.reason.contains("strong (over the remaining budget)"),
        "{}",
        r.reason
    );
    q.prompt_tokens = 1_000_000;
    match router.route(&perf, &q) {
        Err(NoRoute::NoEligibleModel { why }) => {
            assert!(why.contains("context window too small"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn escalation_climbs_the_ladder_to_the_top() {
    let router = Router::new(settings());
    let perf = Performance::default();
    let mut q = query(TaskKind::ImplementStep, &[]);
    let mut seen = vec![];
    loop {
        match router.route(&perf, &q) {
            Ok(r) => {
                seen.push(r.model.clone());
                q.above_rung = Some(r.rung);
            }
            Err(NoRoute::TopRungReached { last }) => {
                assert_eq!(last, "top");
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(seen, ["cheap", "mid", "strong", "top"]);
}

#[test]
fn learned_performance_moves_the_choice_and_back() {
    let router = Router::new(settings());
    let mut perf = Performance::default();
    let q = query(TaskKind::ImplementStep, &[]);
    assert_eq!(route(&router, &perf, &q), "cheap");
    for _ in 0..4 {
        perf.record("cheap", TaskKind::ImplementStep, Complexity::Medium, false);
    }
    let r = router.route(&perf, &q).unwrap();
    assert_eq!(r.model, "mid", "{}", r.reason);
    // Learning is per kind and complexity: cheap still triages, and still does easy steps.
    assert_eq!(
        route(&router, &perf, &query(TaskKind::Triage, &[])),
        "cheap"
    );
    let mut low = query(TaskKind::ImplementStep, &[]);
    low.complexity = Complexity::Low;
    assert_eq!(route(&router, &perf, &low), "cheap");
    // Successes win it back.
    for _ in 0..30 {
        perf.record("cheap", TaskKind::ImplementStep, Complexity::Medium, true);
    }
    assert_eq!(route(&router, &perf, &q), "cheap");
    // Evidence lets a cheaper model earn strategic work...
    let review = query(TaskKind::Review, &[]);
    assert_eq!(route(&router, &perf, &review), "strong");
    for _ in 0..40 {
        perf.record("mid", TaskKind::Review, Complexity::Medium, true);
    }
    // ...and the more the context has been explored, the more an untried model is given the
    // benefit of the doubt: cheap gets tried on a review once mid has proven itself...
    assert_eq!(route(&router, &perf, &review), "cheap");
    for _ in 0..3 {
        perf.record("cheap", TaskKind::Review, Complexity::Medium, false);
    }
    // ...until it fails.
    assert_eq!(route(&router, &perf, &review), "mid");
    // Escalated attempts are learned apart: mid failing escalations says nothing of fresh work.
    for _ in 0..10 {
        perf.record_attempt("mid", TaskKind::Review, Complexity::Medium, true, false);
    }
    assert_eq!(route(&router, &perf, &review), "mid");
    let mut escalated = query(TaskKind::Review, &[]);
    escalated.above_rung = Some(1);
    assert_eq!(route(&router, &perf, &escalated), "strong");
}

#[test]
fn strategies_quality_and_fixed() {
    let mut s = settings();
    s.routing.strategy = Strategy::Quality;
    let router = Router::new(s.clone());
    let perf = Performance::default();
    assert_eq!(route(&router, &perf, &query(TaskKind::Triage, &[])), "top");
    // Past the warning, quality gives way to cost.
    let mut q = query(TaskKind::Triage, &[]);
    q.budget = BudgetLevel::Warn("daily budget at 90%".into());
    assert_eq!(route(&router, &perf, &q), "cheap");

    s.routing.strategy = Strategy::Fixed;
    s.routing.fixed_model = Some("mid".into());
    let router = Router::new(s);
    assert_eq!(route(&router, &perf, &query(TaskKind::Review, &[])), "mid");
    // The guardrail outranks the fixed model.
    let secret = vec!["config/secrets.yml".to_owned()];
    assert_eq!(
        route(&router, &perf, &query(TaskKind::Review, &secret)),
        "strong"
    );
}

async fn store(dir: &std::path::Path) -> Store {
    Store::open(
        &StoreConfig {
            url: format!("sqlite://{}", dir.join("orion.db").display()),
            ..Default::default()
        },
        OpenMode::CreateIfMissing,
    )
    .await
    .unwrap()
}

fn spec(id: &str) -> TaskSpec {
    TaskSpec {
        id: id.to_owned(),
        kind: TaskKind::ImplementStep,
        complexity: Complexity::Medium,
        risk: Risk::Medium,
        installation: "acme".to_owned(),
        repo: Some("acme/app".to_owned()),
        paths: vec!["src/lib.rs".to_owned()],
    }
}

fn request() -> ChatRequest {
    let mut r = ChatRequest::new("You are Orion.", vec![Message::user("Fix the parser.")]);
    r.tools = vec![ToolSpec {
        name: "edit".into(),
        description: "Edit a file".into(),
        parameters: serde_json::json!({"type": "object"}),
    }];
    r.max_output_tokens = 1_000;
    r
}

/// 2026-11-23 12:00 UTC.
const MONDAY_NOON: i64 = 1_795_435_200_000;
const DAY: i64 = 86_400_000;

async fn seed_spend(store: &Store, usd: f64, at: i64) {
    let scope = Scope {
        installation: "acme".into(),
        repo: Some("acme/app".into()),
        task_id: "earlier".into(),
        kind: TaskKind::Triage,
        complexity: Complexity::Low,
    };
    ledger::insert_call(
        store,
        CallRecord {
            scope: &scope,
            attempt_id: None,
            model: "mid",
            tier: "tactical",
            usage: Usage::default(),
            cost_usd: usd,
            latency_ms: 10,
            outcome: "ok",
            error: None,
            at,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn attempts_escalate_then_hit_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let llm = Llm::new(
        store.clone(),
        settings(),
        orion_bot::llm::process_env(),
        vec![],
    )
    .await
    .unwrap();
    let mut task = llm.task(spec("acme/app#7/implement"));
    let req = request();
    let mut models = vec![];
    for _ in 0..3 {
        let a = task.begin(&req).await.unwrap();
        models.push(a.model().to_owned());
        task.finish(a, AttemptOutcome::Failed("tests failed".into()))
            .await;
    }
    assert_eq!(models, ["cheap", "mid", "strong"]);
    match task.begin(&req).await {
        Err(Blocked::AttemptCap { attempts, last }) => {
            assert_eq!(attempts, 3);
            assert_eq!(last, "tests failed");
        }
        other => panic!("{other:?}"),
    }
    // Every attempt is on record with its outcome, and routing learned from them.
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT model, outcome, rung FROM llm_attempts ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("cheap".into(), "failed".into(), 1),
            ("mid".into(), "failed".into(), 2),
            ("strong".into(), "failed".into(), 3)
        ]
    );
    let learned = llm.performance();
    assert_eq!(
        learned
            .tally("cheap", TaskKind::ImplementStep, Complexity::Medium)
            .failures,
        1.0
    );
    // A new Orion (restart) rebuilds the same history from the database.
    let again = Llm::new(
        store.clone(),
        settings(),
        orion_bot::llm::process_env(),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(
        again
            .performance()
            .tally_attempt("mid", TaskKind::ImplementStep, Complexity::Medium, true)
            .failures,
        1.0
    );

    // Outages escalate too, but teach routing nothing about ability.
    let mut task = llm.task(spec("acme/app#8/implement"));
    let a = task.begin(&req).await.unwrap();
    assert_eq!(a.model(), "cheap", "one failure is not yet a verdict");
    task.finish(
        a,
        AttemptOutcome::Error(orion_bot::llm::ProviderError::Overloaded {
            retry_after: None,
            message: "Overloaded".into(),
        }),
    )
    .await;
    assert_eq!(task.begin(&req).await.unwrap().model(), "mid");
    assert_eq!(
        llm.performance()
            .tally("cheap", TaskKind::ImplementStep, Complexity::Medium)
            .failures,
        1.0
    );
}

#[tokio::test]
async fn budget_warns_stops_and_resumes_when_the_day_rolls_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let mut s = settings();
    s.budgets.limits = BudgetLimits {
        daily_usd: Some(1.0),
        monthly_usd: Some(100.0),
        per_task_usd: None,
    };
    let now = Arc::new(AtomicI64::new(MONDAY_NOON));
    let clock = now.clone();
    let llm = Llm::new(store.clone(), s, orion_bot::llm::process_env(), vec![])
        .await
        .unwrap()
        .with_clock(Arc::new(move || clock.load(Ordering::SeqCst)));
    let req = request();

    seed_spend(&store, 0.85, MONDAY_NOON - 3_600_000).await;
    // Yesterday's spend does not count today.
    seed_spend(&store, 50.0, MONDAY_NOON - DAY).await;
    let mut task = llm.task(spec("acme/app#9/review"));
    let a = task.begin(&req).await.unwrap();
    assert_eq!(a.model(), "cheap");
    assert!(
        task.notes()[0].contains("daily budget at 85% ($0.85 of $1.00): routing to cheaper models"),
        "{:?}",
        task.notes()
    );

    seed_spend(&store, 0.10, MONDAY_NOON - 60_000).await;
    let mut task = llm.task(spec("acme/app#10/implement"));
    match task.begin(&req).await {
        Err(Blocked::Budget { message, resets_at }) => {
            assert_eq!(resets_at, Some(MONDAY_NOON + DAY / 2));
            assert!(
                message.contains("the daily budget of acme is used up: $0.95 spent of $1.00"),
                "{message}"
            );
            assert!(
                message.contains("resumes at 2026-11-24 00:00 UTC"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Other installations are not affected.
    let mut other = spec("globex/web#1/implement");
    other.installation = "globex".into();
    assert!(llm.task(other).begin(&req).await.is_ok());

    // Midnight UTC: the period rolls over and model work resumes on its own.
    now.store(MONDAY_NOON + DAY / 2 + 1, Ordering::SeqCst);
    let a = task.begin(&req).await.unwrap();
    assert_eq!(a.model(), "cheap");
    assert!(!task.notes()[0].contains("budget"), "{:?}", task.notes());
}

#[tokio::test]
async fn per_task_budget_refuses_a_call_whose_worst_case_would_cross_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let mut s = settings();
    s.budgets.limits.per_task_usd = Some(0.01);
    let llm = Llm::new(store, s, orion_bot::llm::process_env(), vec![])
        .await
        .unwrap();
    let mut task = llm.task(spec("acme/app#11/implement"));
    let mut req = request();
    req.output = Some(OutputSchema {
        name: "answer".into(),
        schema: serde_json::json!({"type": "object"}),
    });
    let mut attempt = task.begin(&req).await.unwrap();
    assert_eq!(attempt.model(), "cheap");
    task.finish(attempt, AttemptOutcome::Failed("rejected".into()))
        .await;
    // The task has spent nothing, but an 8,000-token answer allowance on `mid` ($5/M output)
    // could cost $0.04 against a $0.01 task budget, and everything above costs more: routing
    // refuses before anything is sent.
    let mut big = req.clone();
    big.max_output_tokens = 8_000;
    match task.begin(&big).await {
        Err(Blocked::Budget { message, resets_at }) => {
            assert_eq!(resets_at, None);
            assert!(
                message.starts_with("this task's budget has $0.0095 left before its stop line")
                    && message.contains("mid (over the remaining budget)"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A small call fits on `mid`; the same attempt then asking for the big answer is refused
    // at call time, with the worst case of that call.
    attempt = task.begin(&req).await.unwrap();
    assert_eq!(attempt.model(), "mid");
    match task.call(&mut attempt, &big).await {
        Err(orion_bot::llm::CallError::Blocked(Blocked::Budget { message, resets_at })) => {
            assert_eq!(resets_at, None);
            assert!(
                message.starts_with("this task's budget is used up"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn reload_changes_routing_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let llm = Llm::new(store, settings(), orion_bot::llm::process_env(), vec![])
        .await
        .unwrap();
    let req = request();
    assert_eq!(
        llm.task(spec("t1")).begin(&req).await.unwrap().model(),
        "cheap"
    );
    let mut quality = settings();
    quality.routing.strategy = Strategy::Quality;
    llm.reload(quality);
    assert_eq!(
        llm.task(spec("t2")).begin(&req).await.unwrap().model(),
        "top"
    );

    // From a file: saving it is enough.
    let file = dir.path().join("orion.toml");
    let write = |strategy: &str| {
        std::fs::write(
            &file,
            format!(
                "[routing]\nstrategy = \"{strategy}\"\n\
                 [models.cheap]\nprovider = \"openai\"\nmodel = \"c\"\ninput_usd_per_mtok = 0.1\n\
                 output_usd_per_mtok = 0.2\ncontext_window = 100000\n\
                 [models.top]\nprovider = \"anthropic\"\nmodel = \"t\"\ninput_usd_per_mtok = 5.0\n\
                 output_usd_per_mtok = 25.0\ncontext_window = 200000\n\
                 [tiers]\ntactical = [\"cheap\"]\nstrategic = [\"top\"]\n"
            ),
        )
        .unwrap()
    };
    write("cost_aware");
    orion_bot::app::reload(&llm, Some(&file)).unwrap();
    assert_eq!(
        llm.task(spec("t3")).begin(&req).await.unwrap().model(),
        "cheap"
    );
    let stop = CancellationToken::new();
    let watcher = orion_bot::app::watch_config(
        llm.clone(),
        Some(file.clone()),
        Duration::from_millis(50),
        stop.clone(),
    )
    .unwrap();
    // File systems with coarse timestamps would hide a same-second rewrite; the length differs.
    write("quality");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while llm.router().settings().routing.strategy != Strategy::Quality {
        assert!(tokio::time::Instant::now() < deadline, "no reload seen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        llm.task(spec("t4")).begin(&req).await.unwrap().model(),
        "top"
    );
    // A broken file is refused and the running configuration stays.
    std::fs::write(
        &file,
        "[routing]\nstrategy = \"cheapest\"\n# longer file now",
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(llm.router().settings().routing.strategy, Strategy::Quality);
    stop.cancel();
    watcher.await.unwrap();
}

#[tokio::test]
async fn escalation_follows_the_failed_model_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let llm = Llm::new(store, settings(), orion_bot::llm::process_env(), vec![])
        .await
        .unwrap();
    let req = request();
    let mut task = llm.task(spec("acme/app#12/implement"));
    let a = task.begin(&req).await.unwrap();
    assert_eq!(a.model(), "cheap");
    task.finish(a, AttemptOutcome::Failed("tests failed".into()))
        .await;
    // A reload puts a new model first and reorders the rest: "cheap" moves from rung 1 to 2.
    let mut s = settings();
    s.models.insert("nano".into(), model(0.05, 0.1));
    s.tiers.tactical = vec![
        "nano".into(),
        "research".into(),
        "cheap".into(),
        "mid".into(),
    ];
    llm.reload(s);
    let a = task.begin(&req).await.unwrap();
    assert_eq!(
        a.model(),
        "mid",
        "escalation is above the model that failed, by name"
    );
    task.finish(a, AttemptOutcome::Failed("tests failed".into()))
        .await;
    // A reload that removes the failed model and shrinks the ladder must not panic.
    let mut s = settings();
    s.tiers.tactical = vec!["cheap".into()];
    s.tiers.strategic = vec![];
    llm.reload(s);
    match task.begin(&req).await {
        Err(Blocked::NoRoute(NoRoute::TopRungReached { last })) => {
            assert!(last.starts_with("cheap"), "{last}")
        }
        other => panic!("{other:?}"),
    }
}
