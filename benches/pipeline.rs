//! Pipeline benchmark, the scheduling part: with simulated model latency, the wall time of a
//! plan's steps run by Orion's DAG scheduler ([`orion_bot::implement::dag::run`]) against the
//! same steps run one after another, measured in the same run. Target: at least 40% less wall
//! time for a plan of independent steps.
//!
//! Each simulated step is what a dev agent does on the clock: a few model turns (each a sleep of
//! `BENCH_LATENCY_MS`, default 400 ms) with a little CPU between them. Three plans:
//! - **independent**: 6 steps on 6 different files (the scheduler's best case, the target);
//! - **mixed**: 6 steps, two chains of dependencies plus two steps sharing a file;
//! - **shared**: 6 steps all touching one file (no parallelism possible: the overhead check).
//!
//! Run with `cargo bench --bench pipeline` (`BENCH_LATENCY_MS`, `BENCH_TURNS`, `BENCH_PARALLEL`
//! change the simulation). The end-to-end figures of the issue (Orion's own CPU per task on the
//! fakes, webhook to first visible response) are not measured here yet: the fakes live in the
//! test crate.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use orion_bot::implement::dag::{self, StepResult};
use orion_bot::implement::plan::{Plan, Step, StepTier};
use tokio_util::sync::CancellationToken;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn step(id: &str, files: &[&str], deps: &[&str]) -> Step {
    Step {
        id: id.into(),
        goal: format!("step {id}"),
        files: files.iter().map(|f| f.to_string()).collect(),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        tier: StepTier::Tactical,
        verify: String::new(),
    }
}

fn plans() -> Vec<(&'static str, Plan)> {
    let plan = |steps| Plan {
        summary: String::new(),
        steps,
    };
    vec![
        (
            "independent",
            plan(
                (1..=6)
                    .map(|i| step(&format!("s{i}"), &[&format!("src/f{i}.rs")], &[]))
                    .collect(),
            ),
        ),
        (
            "mixed",
            plan(vec![
                step("a1", &["src/a.rs"], &[]),
                step("a2", &["src/a2.rs"], &["a1"]),
                step("b1", &["src/b.rs"], &[]),
                step("b2", &["src/b2.rs"], &["b1"]),
                step("c1", &["src/shared.rs"], &[]),
                step("c2", &["src/shared.rs"], &[]),
            ]),
        ),
        (
            "shared",
            plan(
                (1..=6)
                    .map(|i| step(&format!("s{i}"), &["src/one.rs"], &[]))
                    .collect(),
            ),
        ),
    ]
}

/// One simulated agent step: `turns` model calls of `latency` each, and a little work between.
async fn agent(turns: u64, latency: Duration) -> StepResult {
    for _ in 0..turns {
        tokio::time::sleep(latency).await;
        // Parsing the answer, running a tool: small next to the model's latency.
        let mut x = 0u64;
        for i in 0..50_000 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
    StepResult::Done
}

#[tokio::main]
async fn main() {
    let latency = Duration::from_millis(env("BENCH_LATENCY_MS", 400));
    let turns = env("BENCH_TURNS", 3);
    let parallel = env("BENCH_PARALLEL", 3) as usize;
    println!(
        "simulated steps: {turns} model turns of {} ms each; scheduler runs up to {parallel} at once\n",
        latency.as_millis()
    );
    println!("| plan | sequential | DAG scheduler | saved | target |");
    println!("|---|---:|---:|---:|---|");
    for (name, plan) in plans() {
        // Sequential: the same steps in dependency order, one at a time (the baseline).
        let started = Instant::now();
        for _ in plan.order().expect("valid plan") {
            agent(turns, latency).await;
        }
        let sequential = started.elapsed();

        let cancel = CancellationToken::new();
        let started = Instant::now();
        let report = dag::run(&plan, &BTreeSet::new(), parallel, &cancel, |_step| {
            agent(turns, latency)
        })
        .await;
        let scheduled = started.elapsed();
        assert!(report.all_done(), "{report:?}");

        let saved = 1.0 - scheduled.as_secs_f64() / sequential.as_secs_f64();
        let target = match name {
            "independent" if saved >= 0.40 => "≥ 40%: PASS",
            "independent" => "≥ 40%: MISS",
            "shared" => "no parallelism possible (overhead check)",
            _ => "-",
        };
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0}% | {target} |",
            sequential.as_secs_f64() * 1e3,
            scheduled.as_secs_f64() * 1e3,
            saved * 100.0
        );
    }
}
