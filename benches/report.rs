//! Report benchmark: how long a standup report takes to gather from the database and render,
//! on a busy installation's history, next to loading the dashboard over the same data (the
//! baseline: the same kind of queries, which an operator waits for on every page view).
//!
//! Run with `cargo bench --bench report`. `BENCH_TASKS` (default 10,000) tasks and `BENCH_CALLS`
//! (default 100,000) ledger rows are seeded over the 60 days before a fixed tick, Friday
//! 2026-11-27 17:00 in Berlin; `BENCH_RUNS` (default 15) timed runs per figure, median reported.
//!
//! # The data
//!
//! Tasks are spread evenly over the 60 days: 90% done (with a pull request), 4% failed, 2%
//! cancelled, 2% blocked, 1% mid-way (executing, with a running step), 1% queued or waiting for an
//! answer; each has three plan steps. Ledger rows are spread evenly over the same days, across
//! four installations, four models on two tiers, one in twenty failed. Two hundred jobs are queued
//! and ten are dead.
//!
//! # What is measured
//!
//! - **report**: [`orion_bot::report::gather`] (tasks in the window, spend by tier and by model,
//!   budget gauges, queue) then rendering it as Markdown and as the Slack payload; for the
//!   end-of-day standup (today) and the weekly summary (seven days).
//! - **dashboard** (baseline): the page's panels from [`orion_bot::web::data`]: the 100 newest
//!   tasks, 30 days of spend by day and model, the budget gauges, the queue and the routing table.

#[path = "common/env.rs"]
mod env;

use env::env_u64;

use std::time::{Duration, Instant};

use orion_bot::config::{Config, StoreConfig};
use orion_bot::llm::ledger::{SpendBy, spend_between};
use orion_bot::report::{Edition, gather, local_tick, render};
use orion_bot::store::{OpenMode, Store};
use orion_bot::web::data;

const DAY_MS: i64 = 86_400_000;
/// Friday 2026-11-27 17:00 in Berlin.
const TICK: i64 = 1_795_795_200_000;

async fn seed(store: &Store, tasks: i64, calls: i64) {
    let span = 60 * DAY_MS;
    let mut tx = store.pool().begin().await.unwrap();
    for id in 1..=tasks {
        // Spread evenly, newest last; the state by the task's place in a cycle of 100.
        let at = TICK - span + span * id / tasks - 1;
        let (state, finished, pr) = match id % 100 {
            0..=89 => ("done", Some(at), true),
            90..=93 => ("failed", Some(at), false),
            94..=95 => ("cancelled", Some(at), false),
            96..=97 => ("blocked", Some(at), false),
            98 => ("executing", None, false),
            _ if id % 2 == 0 => ("queued", None, false),
            _ => ("awaiting_input", None, false),
        };
        sqlx::query(
            "INSERT INTO tasks (id, repo, issue, state, requested_by, title, pr_number, pr_url, detail, created_at, updated_at, finished_at)
             VALUES ($1, $2, $1, $3, 'ann', $4, $5, $6, $7, $8, $8, $9)",
        )
        .bind(id)
        .bind(format!("acme/repo-{}", id % 25))
        .bind(state)
        .bind(format!("Task number {id}: make the widgets do thing {id}"))
        .bind(pr.then_some(id + 100_000))
        .bind(pr.then(|| format!("https://github.com/acme/repo-{}/pull/{}", id % 25, id + 100_000)))
        .bind((state != "done").then_some("The tests failed three times in a row; a human should look."))
        .bind(at - 3_600_000)
        .bind(finished)
        .execute(&mut *tx)
        .await
        .unwrap();
        for (step, step_state) in [("one", "done"), ("two", "running"), ("three", "pending")] {
            sqlx::query(
                "INSERT INTO task_steps (task_id, step_id, state, updated_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(step)
            .bind(if state == "executing" { step_state } else { "done" })
            .bind(at)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
    }
    let models = [
        ("small", "tactical"),
        ("cheap", "tactical"),
        ("big", "strategic"),
        ("huge", "strategic"),
    ];
    for n in 0..calls {
        let at = TICK - span + span * n / calls;
        let (model, tier) = models[(n % 4) as usize];
        sqlx::query(
            "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier, input_tokens,
                 output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd, latency_ms, outcome)
             VALUES ($1, $2, 'acme/repo', $3, 'implement', $4, $5, 4000, 600, 1000, 0, $6, 900, $7)",
        )
        .bind(at)
        .bind(format!("inst-{}", n % 4))
        .bind(format!("task:{}", 1 + n % tasks.max(1)))
        .bind(model)
        .bind(tier)
        .bind(1_000_000 + (n % 7) * 3_000_000)
        .bind(if n % 20 == 0 { "timeout" } else { "ok" })
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    for n in 0..210 {
        sqlx::query(
            "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, created_at, updated_at)
             VALUES ('implement', '{}', $1, $2, 0, 3, $3, 0, 0)",
        )
        .bind(format!("bench-{n}"))
        .bind(if n < 200 { "queued" } else { "dead" })
        .bind(TICK + n)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn median<F, Fut>(runs: u64, mut run: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    run().await; // warm the page cache and the statement cache
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        run().await;
        times.push(start.elapsed());
    }
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let tasks = env_u64("BENCH_TASKS", 10_000) as i64;
    let calls = env_u64("BENCH_CALLS", 100_000) as i64;
    let runs = env_u64("BENCH_RUNS", 15).max(1);
    let dir = tempfile::tempdir().unwrap();
    let store_config = StoreConfig {
        url: format!("sqlite://{}", dir.path().join("orion.db").display()),
        ..Default::default()
    };
    let store = Store::open(&store_config, OpenMode::CreateIfMissing)
        .await
        .unwrap();
    let seeding = Instant::now();
    seed(&store, tasks, calls).await;
    println!(
        "seeded {tasks} tasks ({} steps) and {calls} ledger rows in {:.1} s",
        tasks * 3,
        seeding.elapsed().as_secs_f64()
    );
    let mut config = Config::default();
    config.heartbeat.time_zone = "Europe/Berlin".to_owned();
    config.budgets.limits.daily_usd = Some(50.0);
    config.budgets.limits.monthly_usd = Some(1_000.0);
    let at = local_tick(&config, TICK).unwrap();

    println!("\n| figure | median of {runs} | sizes |\n|---|---:|---|");
    for edition in [Edition::EndOfDay, Edition::Weekly] {
        let sample = gather(&store, &config, edition, at).await.unwrap();
        let markdown = render::markdown(&sample, config.report.max_items);
        let listed = sample.completed.len()
            + sample.in_progress.len()
            + sample.blocked.len()
            + sample.failed.len()
            + sample.waiting.len();
        let gather_only = median(runs, || async {
            gather(&store, &config, edition, at).await.unwrap();
        })
        .await;
        let whole = median(runs, || async {
            let report = gather(&store, &config, edition, at).await.unwrap();
            std::hint::black_box(render::markdown(&report, config.report.max_items));
            std::hint::black_box(render::slack_payload(&report, config.report.max_items));
        })
        .await;
        println!(
            "| {}: gather | {:.1} ms | {listed} tasks in the report, {} bytes of Markdown |",
            edition.title(),
            ms(gather_only),
            markdown.len()
        );
        println!(
            "| {}: gather + render (Markdown and Slack) | {:.1} ms | |",
            edition.title(),
            ms(whole)
        );
    }
    // Where a weekly summary's time goes, query by query.
    let window = Edition::Weekly.window(&at);
    let (from, until) = (window.from_ms(), window.until_ms());
    let parts = [
        ("tasks in the window", 0),
        ("spend by tier and by model", 1),
        ("budget gauges", 2),
        ("queue", 3),
    ];
    for (name, part) in parts {
        let took = median(runs, || async {
            match part {
                0 => drop(std::hint::black_box(
                    data::tasks_in_window(&store, from, until).await.unwrap(),
                )),
                1 => {
                    for by in [SpendBy::Tier, SpendBy::Model] {
                        std::hint::black_box(spend_between(&store, by, from, until).await.unwrap());
                    }
                }
                2 => drop(std::hint::black_box(
                    data::budgets(&store, &config.budgets, until).await.unwrap(),
                )),
                _ => drop(std::hint::black_box(data::queue(&store).await.unwrap())),
            }
        })
        .await;
        println!("| weekly summary, of which {name} | {:.1} ms | |", ms(took));
    }
    let dashboard = median(runs, || async {
        std::hint::black_box(data::tasks(&store, 100).await.unwrap());
        std::hint::black_box(data::spend(&store, 30, TICK).await.unwrap());
        std::hint::black_box(data::budgets(&store, &config.budgets, TICK).await.unwrap());
        std::hint::black_box(data::queue(&store).await.unwrap());
        std::hint::black_box(data::routing(&store).await.unwrap());
    })
    .await;
    println!(
        "| baseline: the dashboard's queries over the same data | {:.1} ms | 100 tasks, 30 days of spend |",
        ms(dashboard)
    );
    store.close().await;
}
