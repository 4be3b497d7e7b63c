//! The dashboard as an operator sees it: seeded tasks, steps and ledger rows rendered by a real
//! Orion, the JSON behind it, who may open it, and the page in a real headless Chromium.

use std::path::PathBuf;
use std::time::Duration;

use orion_bot::config::{Secret, Secrets};
use serde_json::Value;

use crate::support::{SECRET, TestApp, now_ms};

const DAY_MS: i64 = 86_400_000;
const TOKEN: &str = "dashboard-token-for-tests";

/// Two tasks (one mid-way with a running step, one done with a PR), spend by two models over two
/// days, finished attempts for the routing table, and a dead job.
async fn seed(app: &TestApp) {
    let now = now_ms();
    let statements = [
        format!(
            "INSERT INTO tasks (id, repo, issue, state, requested_by, title, pr_number, pr_url, created_at, updated_at)
             VALUES (1, 'acme/widgets', 7, 'executing', 'ann', 'Paint the widgets <red>', NULL, NULL, {now}, {now}),
                    (2, 'acme/gears', 9, 'done', 'bob', 'Oil the gears', 12, 'https://github.com/acme/gears/pull/12', {now}, {})",
            now - 1000
        ),
        format!(
            "INSERT INTO task_steps (task_id, step_id, state, updated_at)
             VALUES (1, 'paint-doors', 'done', {now}), (1, 'paint-roof', 'running', {now}),
                    (2, 'oil', 'done', {now})"
        ),
        format!(
            "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier, input_tokens,
                 output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd, latency_ms, outcome)
             VALUES ({now}, 'acme', 'acme/widgets', 'task:1', 'implement', 'big-model', 'strategic', 1, 1, 0, 0, 1500000000, 1, 'ok'),
                    ({now}, 'acme', 'acme/widgets', 'task:1', 'implement', 'small-model', 'tactical', 1, 1, 0, 0, 250000000, 1, 'ok'),
                    ({}, 'acme', 'acme/gears', 'task:2', 'implement', 'big-model', 'strategic', 1, 1, 0, 0, 2000000000, 1, 'ok')",
            now - DAY_MS
        ),
        "INSERT INTO llm_attempts (task_id, task_kind, complexity, installation, model, tier, rung, reason, started_at, outcome, cost_nusd)
         VALUES ('task:1', 'implement', 'simple', 'acme', 'big-model', 'strategic', 0, 'r', 1, 'succeeded', 3000000000),
                ('task:2', 'implement', 'simple', 'acme', 'big-model', 'strategic', 0, 'r', 1, 'failed', 500000000),
                ('task:1', 'implement', 'simple', 'acme', 'small-model', 'tactical', 0, 'r', 1, 'succeeded', 250000000)"
            .to_owned(),
        "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, last_error, created_at, updated_at)
         VALUES ('implement', '{}', 'seeded-dead', 'dead', 3, 3, 0, 'the model said no', 0, 0)"
            .to_owned(),
    ];
    for sql in statements {
        sqlx::query(&sql)
            .execute(app.store().pool())
            .await
            .expect("seed");
    }
}

fn with_budget(config: &mut orion_bot::config::Config) {
    config.budgets.limits.daily_usd = Some(2.0);
    config.budgets.limits.monthly_usd = Some(100.0);
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .expect("request reaches orion");
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let (status, body) = get(app, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test]
async fn the_page_shows_seeded_tasks_spend_budgets_and_routing() {
    let app = TestApp::spawn_with(with_budget).await;
    seed(&app).await;

    let (status, html) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"<tr class="task" data-task="1">"#),
        "{html}"
    );
    assert!(html.contains(r#"<tr class="task" data-task="2">"#));
    assert!(
        html.contains("Paint the widgets &lt;red&gt;"),
        "titles are escaped"
    );
    assert!(html.contains("<code>paint-roof</code> <span class=\"muted\">running</span>"));
    assert!(html.contains(r#"<a href="https://github.com/acme/gears/pull/12">#12</a>"#));
    assert!(html.contains("$1.75"), "task 1 spent 1.5 + 0.25");
    // Today stacks both models; yesterday only the big one.
    assert_eq!(html.matches(r#"data-model="big-model""#).count(), 2);
    assert_eq!(html.matches(r#"data-model="small-model""#).count(), 1);
    assert!(html.contains("the model said no"), "dead jobs are listed");
    assert!(
        html.contains("acme · daily"),
        "a gauge per configured limit"
    );
    assert!(html.contains("acme · monthly"));

    let tasks = get_json(&app, "/api/tasks").await;
    assert_eq!(tasks[0]["id"], 1);
    assert_eq!(tasks[0]["current_step"], "paint-roof");
    assert_eq!(tasks[0]["spend_usd"], 1.75);
    assert_eq!(tasks[1]["pr_number"], 12);

    let spend = get_json(&app, "/api/spend?days=7").await;
    assert_eq!(
        spend["models"],
        serde_json::json!(["big-model", "small-model"])
    );
    let days = spend["days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[6]["usd"], serde_json::json!([1.5, 0.25]));
    assert_eq!(days[5]["usd"], serde_json::json!([2.0, 0.0]));
    assert_eq!(
        get_json(&app, "/api/spend").await["days"]
            .as_array()
            .unwrap()
            .len(),
        30
    );

    let budgets = get_json(&app, "/api/budgets").await;
    assert_eq!(budgets[0]["installation"], "acme");
    assert_eq!(budgets[0]["period"], "daily");
    assert_eq!(budgets[0]["spent_usd"], 1.75);
    assert_eq!(budgets[0]["level"], "warn", "1.75 of 2.00 is past 80%");

    let routing = get_json(&app, "/api/routing").await;
    assert_eq!(routing[0]["model"], "big-model");
    assert_eq!(routing[0]["success_rate"], 0.5);
    assert_eq!(routing[0]["cost_per_success_usd"], 3.5);

    let queue = get_json(&app, "/api/queue").await;
    assert_eq!(
        queue["counts"][3],
        serde_json::json!({"state": "dead", "jobs": 1})
    );
    app.shutdown().await;
}

fn with_token() -> Secrets {
    Secrets {
        github_webhook: vec![Secret::new(SECRET)],
        dashboard_token: Some(Secret::new(TOKEN)),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_configured_token_is_required_as_header_or_cookie() {
    let app = TestApp::spawn_with_secrets(with_token(), |_| {}).await;
    for path in ["/", "/api/tasks", "/api/spend", "/api/routing"] {
        let (status, body) = get(&app, path).await;
        assert_eq!(status, 401, "{path}");
        assert!(body.contains("ORION_DASHBOARD_TOKEN"), "{body}");
    }
    let bearer = |token: &str, path: &str| {
        app.client
            .get(format!("{}{path}", app.base))
            .bearer_auth(token)
    };
    let ok = bearer(TOKEN, "/api/tasks").send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let wrong = bearer("dashboard-token-for-test", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let (status, _) = get(&app, "/healthz").await;
    assert_eq!(status, 200, "the rest of Orion needs no token");

    // The browser flow: the token once in the URL, then a cookie and a clean URL.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let refused = no_redirects
        .get(format!("{}/?token=nope", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("set-cookie").is_none());
    let entry = no_redirects
        .get(format!("{}/?token={TOKEN}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(entry.status(), 303);
    assert_eq!(entry.headers()["location"], "/");
    let cookie = entry.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("orion_dashboard={TOKEN};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"));
    let page = no_redirects
        .get(format!("{}/", app.base))
        .header("Cookie", cookie.split(';').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<h2>Tasks</h2>"));
    app.shutdown().await;
}

#[tokio::test]
async fn beyond_loopback_without_a_token_the_dashboard_is_closed_and_webhooks_work() {
    let app = TestApp::spawn_with(|c| c.server.listen = "0.0.0.0:0".to_owned()).await;
    let base = app.base.replace("0.0.0.0", "127.0.0.1");
    let dashboard = app.client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(dashboard.status(), 403);
    assert!(
        dashboard
            .text()
            .await
            .unwrap()
            .contains("Set ORION_DASHBOARD_TOKEN")
    );
    let api = app
        .client
        .get(format!("{base}/api/tasks"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 403);
    let status =
        crate::support::post_github(&base, "ping", "d-1", br#"{"zen":"hi"}"#.to_vec()).await;
    assert!(
        (200..300).contains(&status),
        "a signed webhook is still accepted: {status}"
    );
    app.shutdown().await;
}

/// Where the screenshot goes: `target/test-artifacts/` (next to cargo's own test scratch dir, so
/// it follows `CARGO_TARGET_DIR`).
fn artifact(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the tmp dir is inside the target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"].iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

#[tokio::test]
async fn headless_chromium_renders_the_task_rows_and_the_chart() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed; CI must have it (.ci/run installs Debian's chromium)"
        );
        eprintln!("skipping: no chromium or chromium-browser on PATH (install Debian's chromium)");
        return;
    };
    let app = TestApp::spawn_with(with_budget).await;
    seed(&app).await;
    let screenshot = artifact("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let profile = tempfile::tempdir().unwrap();
    let run = tokio::process::Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg("--dump-dom")
        .arg(format!("{}/", app.base))
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("chromium finishes")
        .expect("chromium starts");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The DOM as the browser built it, not the bytes we sent: the rows and bars survived parsing.
    assert!(dom.contains(r#"data-task="1""#), "{dom}");
    assert!(dom.contains(r#"data-task="2""#));
    assert!(dom.contains("Paint the widgets &lt;red&gt;"));
    assert!(dom.contains(r#"<svg id="spend-chart""#));
    assert_eq!(
        dom.matches(r#"class="bar" data-model="big-model""#).count(),
        2
    );
    assert_eq!(
        dom.matches(r#"class="bar" data-model="small-model""#)
            .count(),
        1
    );
    let png = std::fs::read(&screenshot).expect("chromium saved the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    eprintln!("dashboard screenshot: {}", screenshot.display());
    app.shutdown().await;
}
