//! Routing benchmark. **A simulation**: no model is called. A simulated world of tasks and models
//! is run through Orion's *real* router ([`Router::route`] with the default `cost_aware` routing
//! configuration, learning through [`Performance::record_attempt`], escalating as `TaskRun` does) and
//! through three baselines, and what each would have cost and achieved is compared with always
//! using the strongest model. Target: at least 98% of always-strongest's success rate at no more
//! than 40% of its cost. Run with `cargo bench --bench routing`; `BENCH_TASKS` (default 5,000 per
//! run) and `BENCH_SEEDS` (default 5 runs, reported as their mean) change the size.
//!
//! # The world, and why it is plausible
//!
//! - **Tasks.** A kind (45% `implement_step`, 25% `fix`, 12% `triage`, 12% `review`, 6% `plan`,
//!   roughly what one issue produces: a triage, a plan, a few steps, a fix round, a review) and a
//!   hidden difficulty in [0, 1] drawn from a mixture: 55% easy (Beta(2,7), mean 0.22), 30% medium
//!   (Beta(5,5)), 15% hard (Beta(8,2), mean 0.8). Most tracker work is small; a few issues are
//!   gnarly.
//! - **Triage's label is noisy.** The complexity Orion routes on is the true third of the
//!   difficulty (low < 1/3 <= medium < 2/3 <= high) 80% of the time, otherwise a neighbouring
//!   one: triage reads an issue, not the code it will take.
//! - **Ability.** A model solves a task of difficulty `d` with probability
//!   `1 / (1 + exp((d - capability) / 0.1))`. Every model handles easy work; they part on hard
//!   work. Capabilities are calibrated so that the mean single-attempt success over this task mix
//!   lands near the model's published SWE-bench Verified score (late 2025, vendor-reported), the
//!   most widely reported measure of this kind of work; the bench prints the calibration.
//! - **Failures are correlated.** Whether a model *can* solve a task is drawn once per (task,
//!   model), so retrying the same model on the same task mostly fails again, as it does in
//!   practice (the same misreading, the same missing insight). The draw is half shared between
//!   models (what trips one model, an ambiguous issue or missing context, often trips the next).
//!   On top, every attempt fails transiently with 5% probability, independently (a flaky test, a
//!   runaway tool loop, a malformed answer): only that part is fixed by a plain retry.
//! - **Failures are not always seen.** A failed attempt is caught (tests fail, the reviewer or
//!   schema rejects it) with probability 0.9 for `implement_step` and `fix`, which run tests, and
//!   0.75 for `triage`, `review` and `plan`, whose mistakes only show later. An uncaught failure ends
//!   the task as a *silent failure*: it counts as not succeeded, and Orion records it as a success,
//!   because that is all it can observe.
//! - **Cost** is each model's real list price applied to a per-kind token profile (calls per
//!   attempt, prompt and answer tokens per call, share of the prompt read from the provider's
//!   cache, the rest written to it) through Orion's own [`budget::cost`]. The profiles are those of
//!   an agent loop: an implementation step is about a dozen tool turns over a 20k-token context.
//!   Every model gets the same profile: the sim prices ability, not verbosity.
//! - **Latency** (reported, never used to route) is time to first token plus answer tokens over
//!   output speed, per call, roughly as public throughput trackers showed in late 2025; tool time is
//!   left out.
//!
//! What the world leaves out, and which way it leans: guardrails (sensitive paths, high risk),
//! budgets and outages, which only ever raise the floor, for every strategy alike; and per-model
//! verbosity: Opus 4.5 is reported to reach answers in fewer tokens than Sonnet 4.5, which would
//! make always-strongest cheaper than it is here and every ratio against it less favourable.
//!
//! # The strategies
//!
//! Every strategy sees the same tasks and the same draws (common random numbers), gets the same
//! attempt cap (`routing.max_attempts`, 3) and ends a task at the first success, the first uncaught
//! failure, or when it has nowhere left to go.
//! - **always-strongest**: Opus for every attempt; a caught failure is retried on Opus.
//! - **always-cheapest**: DeepSeek for every attempt, likewise.
//! - **static tier rules**: the first model of the tier [`Router::presumed_tier`] gives (the kind's
//!   default tier, strategic when triage says high), one rung up per caught failure, no learning.
//! - **Orion**: `Router::route` for every attempt with `above_rung` = the rung that failed, ended by
//!   `NoRoute::TopRungReached`, and every outcome Orion can see recorded in one `Performance`
//!   that lives through the whole run, exactly as `TaskRun::begin` and `TaskRun::finish` do.

use orion_bot::llm::budget;
use orion_bot::llm::perf::Performance;
use orion_bot::llm::router::{BudgetLevel, NoRoute, RouteQuery};
use orion_bot::llm::{
    Complexity, LlmSettings, ModelConfig, Needs, Provider, Risk, Router, RoutingConfig, Strategy,
    TaskKind, Tier, TiersConfig, Usage,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One model of the simulated world: Orion's configuration of it plus what the world knows.
struct ModelProfile {
    /// Orion's name for it (`[models.NAME]`).
    name: &'static str,
    provider: Provider,
    model: &'static str,
    tier: Tier,
    /// List prices, USD per million tokens: input, output, cache read, cache write.
    prices: [f64; 4],
    context_window: u64,
    max_output_tokens: u32,
    /// The difficulty at which it solves half the tasks.
    capability: f64,
    /// Seconds to the first token, and answer tokens per second.
    ttft_secs: f64,
    tokens_per_sec: f64,
    /// The published figure the capability is calibrated against.
    anchor: &'static str,
}

/// The ladder, cheapest first: the tactical tier (DeepSeek, then Haiku) takes the high-volume work,
/// the strategic tier (Sonnet, then Opus) the reasoning-heavy work and the escalations. This is
/// the ladder of `orion.example.toml`. Prices are the providers' late-2025 list prices: DeepSeek
/// V3.2 (`deepseek-chat`) cache miss and hit, no cache-write premium; Anthropic base input, output,
/// cache read (0.1x) and 5-minute cache write (1.25x). Speeds are typical of public throughput
/// trackers for the providers' own APIs: DeepSeek's is slow, Haiku fast, Opus slower than Sonnet.
const MODELS: [ModelProfile; 4] = [
    ModelProfile {
        name: "deepseek",
        provider: Provider::Openai,
        model: "deepseek-chat",
        tier: Tier::Tactical,
        prices: [0.28, 0.42, 0.028, 0.28],
        context_window: 128_000,
        max_output_tokens: 8_192,
        capability: 0.57,
        ttft_secs: 2.0,
        tokens_per_sec: 30.0,
        anchor: "V3.2 SWE-bench Verified ~68% (non-thinking)",
    },
    ModelProfile {
        name: "haiku",
        provider: Provider::Anthropic,
        model: "claude-haiku-4-5",
        tier: Tier::Tactical,
        prices: [1.0, 5.0, 0.10, 1.25],
        context_window: 200_000,
        max_output_tokens: 64_000,
        capability: 0.62,
        ttft_secs: 0.7,
        tokens_per_sec: 120.0,
        anchor: "SWE-bench Verified 73.3%",
    },
    ModelProfile {
        name: "sonnet",
        provider: Provider::Anthropic,
        model: "claude-sonnet-4-5",
        tier: Tier::Strategic,
        prices: [3.0, 15.0, 0.30, 3.75],
        context_window: 200_000,
        max_output_tokens: 64_000,
        capability: 0.68,
        ttft_secs: 1.5,
        tokens_per_sec: 70.0,
        anchor: "SWE-bench Verified 77.2%",
    },
    ModelProfile {
        name: "opus",
        provider: Provider::Anthropic,
        model: "claude-opus-4-5",
        tier: Tier::Strategic,
        prices: [5.0, 25.0, 0.50, 6.25],
        context_window: 200_000,
        max_output_tokens: 64_000,
        capability: 0.73,
        ttft_secs: 2.0,
        tokens_per_sec: 50.0,
        anchor: "SWE-bench Verified 80.9%",
    },
];
const M: usize = MODELS.len();

/// How steeply success falls with difficulty past a model's capability.
const SLOPE: f64 = 0.1;
/// Chance that any one attempt fails for reasons a plain retry fixes.
const TRANSIENT: f64 = 0.05;
/// Share of the can-it-solve-it draw that models have in common.
const SHARED: f64 = 0.5;
/// Chance that triage's complexity label is the true one.
const LABEL_ACCURACY: f64 = 0.8;
/// Difficulty mixture: (share, Beta a, Beta b, name).
const DIFFICULTY_MIX: [(f64, u32, u32, &str); 3] = [
    (0.55, 2, 7, "easy"),
    (0.30, 5, 5, "medium"),
    (0.15, 8, 2, "hard"),
];
/// Room for attempts per task; must cover `routing.max_attempts`.
const MAX_ATTEMPTS: usize = 3;

/// What an attempt of a kind of task consumes, and how likely its failure is caught.
struct KindProfile {
    kind: TaskKind,
    /// Share of all tasks.
    share: f64,
    /// Model calls in one attempt (agent turns).
    calls: u64,
    prompt_per_call: u64,
    /// Share of the prompt tokens read from the provider's cache (system prompt, tools, the
    /// conversation so far); the rest is written to it.
    cached_share: f64,
    output_per_call: u64,
    /// The answer allowance the call asks for (routing reads it).
    max_output_tokens: u32,
    /// Chance that a failed attempt is caught.
    detection: f64,
}

const KINDS: [KindProfile; 5] = [
    KindProfile {
        kind: TaskKind::ImplementStep,
        share: 0.45,
        calls: 12,
        prompt_per_call: 20_000,
        cached_share: 0.85,
        output_per_call: 500,
        max_output_tokens: 8_192,
        detection: 0.9,
    },
    KindProfile {
        kind: TaskKind::Fix,
        share: 0.25,
        calls: 8,
        prompt_per_call: 22_000,
        cached_share: 0.85,
        output_per_call: 500,
        max_output_tokens: 8_192,
        detection: 0.9,
    },
    KindProfile {
        kind: TaskKind::Triage,
        share: 0.12,
        calls: 1,
        prompt_per_call: 8_000,
        cached_share: 0.5,
        output_per_call: 600,
        max_output_tokens: 2_048,
        detection: 0.75,
    },
    KindProfile {
        kind: TaskKind::Review,
        share: 0.12,
        calls: 2,
        prompt_per_call: 30_000,
        cached_share: 0.3,
        output_per_call: 1_500,
        max_output_tokens: 4_096,
        detection: 0.75,
    },
    KindProfile {
        kind: TaskKind::Plan,
        share: 0.06,
        calls: 3,
        prompt_per_call: 25_000,
        cached_share: 0.6,
        output_per_call: 1_500,
        max_output_tokens: 8_192,
        detection: 0.75,
    },
];

impl KindProfile {
    fn usage(&self) -> Usage {
        let prompt = self.calls * self.prompt_per_call;
        let cached = (prompt as f64 * self.cached_share).round() as u64;
        Usage {
            input_tokens: 0,
            output_tokens: self.calls * self.output_per_call,
            cached_input_tokens: cached,
            cache_write_tokens: prompt - cached,
        }
    }

    fn latency_secs(&self, m: &ModelProfile) -> f64 {
        self.calls as f64 * (m.ttft_secs + self.output_per_call as f64 / m.tokens_per_sec)
    }
}

fn success_probability(m: &ModelProfile, difficulty: f64) -> f64 {
    1.0 / (1.0 + ((difficulty - m.capability) / SLOPE).exp())
}

fn true_complexity(difficulty: f64) -> Complexity {
    if difficulty < 1.0 / 3.0 {
        Complexity::Low
    } else if difficulty < 2.0 / 3.0 {
        Complexity::Medium
    } else {
        Complexity::High
    }
}

/// Beta(a, b) for whole a and b: the a-th smallest of a + b - 1 uniforms.
fn beta(rng: &mut StdRng, a: u32, b: u32) -> f64 {
    let mut u: Vec<f64> = (0..a + b - 1).map(|_| rng.random::<f64>()).collect();
    u.sort_by(f64::total_cmp);
    u[a as usize - 1]
}

/// One task with everything chance decides about it, drawn up front so every strategy meets the
/// same world.
struct Task {
    kind: usize,
    difficulty: f64,
    /// Triage's reading of the difficulty: what routing sees.
    label: Complexity,
    /// Whether each model (by rung) can solve it at all.
    solvable: [bool; M],
    /// By attempt number and rung: a transient failure.
    transient: [[bool; M]; MAX_ATTEMPTS],
    /// By attempt number: whether a failure would be caught.
    caught: [bool; MAX_ATTEMPTS],
}

fn draw_task(rng: &mut StdRng) -> Task {
    let pick = |rng: &mut StdRng, shares: &mut dyn Iterator<Item = f64>| {
        let x: f64 = rng.random();
        let mut acc = 0.0;
        let mut last = 0;
        for (i, s) in shares.enumerate() {
            acc += s;
            last = i;
            if x < acc {
                return i;
            }
        }
        last
    };
    let kind = pick(rng, &mut KINDS.iter().map(|k| k.share));
    let bucket = pick(rng, &mut DIFFICULTY_MIX.iter().map(|c| c.0));
    let (_, a, b, _) = DIFFICULTY_MIX[bucket];
    let difficulty = beta(rng, a, b);
    let truth = true_complexity(difficulty);
    let label = if rng.random::<f64>() < LABEL_ACCURACY {
        truth
    } else {
        match truth {
            Complexity::Low | Complexity::High => Complexity::Medium,
            Complexity::Medium if rng.random::<bool>() => Complexity::Low,
            Complexity::Medium => Complexity::High,
        }
    };
    let shared: f64 = rng.random();
    let mut solvable = [false; M];
    for (s, m) in solvable.iter_mut().zip(&MODELS) {
        let own: f64 = rng.random();
        let u = if rng.random::<f64>() < SHARED {
            shared
        } else {
            own
        };
        *s = u < success_probability(m, difficulty);
    }
    let mut transient = [[false; M]; MAX_ATTEMPTS];
    for row in &mut transient {
        for t in row.iter_mut() {
            *t = rng.random::<f64>() < TRANSIENT;
        }
    }
    let mut caught = [false; MAX_ATTEMPTS];
    for c in &mut caught {
        *c = rng.random::<f64>() < KINDS[kind].detection;
    }
    Task {
        kind,
        difficulty,
        label,
        solvable,
        transient,
        caught,
    }
}

fn settings() -> LlmSettings {
    let mut s = LlmSettings {
        routing: RoutingConfig::default(),
        tiers: TiersConfig::default(),
        ..LlmSettings::default()
    };
    for m in &MODELS {
        let [input, output, cached, write] = m.prices;
        s.models.insert(
            m.name.to_owned(),
            ModelConfig {
                provider: m.provider,
                model: m.model.to_owned(),
                base_url: None,
                api_key_env: None,
                input_usd_per_mtok: input,
                output_usd_per_mtok: output,
                cached_input_usd_per_mtok: Some(cached),
                cache_write_usd_per_mtok: Some(write),
                context_window: m.context_window,
                max_output_tokens: m.max_output_tokens,
                tools: true,
                vision: false,
                structured: true,
                enabled: true,
                timeout_secs: 120,
            },
        );
        match m.tier {
            Tier::Tactical => s.tiers.tactical.push(m.name.to_owned()),
            Tier::Strategic => s.tiers.strategic.push(m.name.to_owned()),
        }
    }
    s
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Plan {
    /// The top of the ladder for every attempt.
    AlwaysStrongest,
    /// The bottom of the ladder for every attempt.
    AlwaysCheapest,
    /// The first model of the tier the kind and label presume, one rung up per caught failure.
    StaticTiers,
    /// Orion's router, learning as it goes.
    Orion,
}

impl Plan {
    const ALL: [Plan; 4] = [
        Self::AlwaysStrongest,
        Self::AlwaysCheapest,
        Self::StaticTiers,
        Self::Orion,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::AlwaysStrongest => "always-strongest (opus)",
            Self::AlwaysCheapest => "always-cheapest (deepseek)",
            Self::StaticTiers => "static tier rules",
            Self::Orion => "Orion cost_aware (learned)",
        }
    }
}

/// Totals over a set of tasks.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    tasks: f64,
    successes: f64,
    silent_failures: f64,
    cost: f64,
    attempts: f64,
    latency_secs: f64,
    /// Attempts by rung.
    by_rung: [f64; M],
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.tasks += o.tasks;
        self.successes += o.successes;
        self.silent_failures += o.silent_failures;
        self.cost += o.cost;
        self.attempts += o.attempts;
        self.latency_secs += o.latency_secs;
        for (a, b) in self.by_rung.iter_mut().zip(o.by_rung) {
            *a += b;
        }
    }
    fn success_rate(&self) -> f64 {
        self.successes / self.tasks
    }
}

/// What happened to one task, and where its attempts went.
#[derive(Default)]
struct TaskResult {
    stats: Stats,
    first_rung: Option<usize>,
}

/// Runs one task to its end under a plan. Orion's branch mirrors `TaskRun`: the next attempt is
/// routed with `above_rung` = the rung that failed; an outcome is recorded as Orion observes it.
fn run_task(plan: Plan, task: &Task, router: &Router, perf: &mut Performance) -> TaskResult {
    let k = &KINDS[task.kind];
    let max_attempts = router.settings().routing.max_attempts as usize;
    let mut out = TaskResult::default();
    out.stats.tasks = 1.0;
    let mut failed_rung: Option<usize> = None;
    for attempt in 0..max_attempts {
        let rung = match plan {
            Plan::AlwaysStrongest => M - 1,
            Plan::AlwaysCheapest => 0,
            Plan::StaticTiers => match failed_rung {
                None => {
                    let tier = router.presumed_tier(k.kind, task.label);
                    router
                        .ladder()
                        .iter()
                        .position(|(_, t)| *t == tier)
                        .expect("both tiers have models")
                }
                Some(r) if r + 1 < M => r + 1,
                Some(_) => break,
            },
            Plan::Orion => {
                let query = RouteQuery {
                    kind: k.kind,
                    complexity: task.label,
                    risk: Risk::Medium,
                    paths: &[],
                    needs: Needs {
                        tools: matches!(k.kind, TaskKind::ImplementStep | TaskKind::Fix),
                        structured: !matches!(k.kind, TaskKind::ImplementStep | TaskKind::Fix),
                        vision: false,
                    },
                    prompt_tokens: k.prompt_per_call,
                    max_output_tokens: k.max_output_tokens,
                    budget: BudgetLevel::Normal,
                    budget_headroom: None,
                    above_rung: failed_rung,
                    unavailable: &[],
                };
                match router.route(perf, &query) {
                    Ok(route) => route.rung,
                    Err(NoRoute::TopRungReached { .. }) => break,
                    Err(e) => panic!("the simulated configuration always has a route: {e}"),
                }
            }
        };
        let model = &MODELS[rung];
        let config = &router.settings().models[model.name];
        out.first_rung.get_or_insert(rung);
        out.stats.attempts += 1.0;
        out.stats.by_rung[rung] += 1.0;
        out.stats.cost += budget::cost(config, &k.usage());
        out.stats.latency_secs += k.latency_secs(model);

        let solved = task.solvable[rung] && !task.transient[attempt][rung];
        // Orion learns what it sees: an uncaught failure looks like a success.
        let observed_success = solved || !task.caught[attempt];
        if plan == Plan::Orion {
            perf.record_attempt(
                model.name,
                k.kind,
                task.label,
                failed_rung.is_some(),
                observed_success,
            );
        }
        if solved {
            out.stats.successes = 1.0;
            break;
        }
        if observed_success {
            out.stats.silent_failures = 1.0;
            break;
        }
        failed_rung = Some(rung);
    }
    out
}

/// One run of a plan over a task sequence.
struct RunResult {
    /// Totals over the first and the second half of the sequence (the second is after learning).
    halves: [Stats; 2],
    /// Totals by the true third of the difficulty.
    by_truth: [Stats; 3],
    /// First attempts by triage label and rung.
    first_by_label: [[f64; M]; 3],
    /// What Orion learned (empty for the baselines).
    perf: Performance,
}

impl RunResult {
    fn total(&self) -> Stats {
        let mut s = self.halves[0];
        s.add(&self.halves[1]);
        s
    }
}

fn run(plan: Plan, tasks: &[Task], router: &Router) -> RunResult {
    let mut out = RunResult {
        halves: [Stats::default(); 2],
        by_truth: [Stats::default(); 3],
        first_by_label: [[0.0; M]; 3],
        perf: Performance::default(),
    };
    for (i, task) in tasks.iter().enumerate() {
        let r = run_task(plan, task, router, &mut out.perf);
        out.halves[usize::from(i >= tasks.len() / 2)].add(&r.stats);
        out.by_truth[true_complexity(task.difficulty) as usize].add(&r.stats);
        if let Some(rung) = r.first_rung {
            out.first_by_label[task.label as usize][rung] += 1.0;
        }
    }
    out
}

/// Every run of every plan: `runs[plan][seed]`, plans in [`Plan::ALL`] order.
struct Runs(Vec<Vec<RunResult>>);

impl Runs {
    fn simulate(router: &Router, tasks: usize, seeds: usize) -> Self {
        let mut runs: Vec<Vec<RunResult>> = Plan::ALL.iter().map(|_| Vec::new()).collect();
        for seed in 1..=seeds as u64 {
            let mut rng = StdRng::seed_from_u64(seed);
            let sequence: Vec<Task> = (0..tasks).map(|_| draw_task(&mut rng)).collect();
            for (p, plan) in Plan::ALL.iter().enumerate() {
                runs[p].push(run(*plan, &sequence, router));
            }
        }
        Self(runs)
    }

    fn of(&self, plan: Plan) -> &[RunResult] {
        let p = Plan::ALL.iter().position(|q| *q == plan).expect("listed");
        &self.0[p]
    }

    /// A plan's totals summed over runs: rates and ratios of sums are means over equal runs.
    fn sum(&self, plan: Plan, part: impl Fn(&RunResult) -> Stats) -> Stats {
        let mut s = Stats::default();
        for r in self.of(plan) {
            s.add(&part(r));
        }
        s
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("ignoring {name}={v:?}: not a number");
            default
        }),
        Err(_) => default,
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Attempts per rung as shares, deepseek/haiku/sonnet/opus.
fn spread(counts: &[f64; M]) -> String {
    let n: f64 = counts.iter().sum();
    let shares: Vec<String> = counts
        .iter()
        .map(|c| format!("{:.0}%", c / n * 100.0))
        .collect();
    shares.join("/")
}

fn print_world(settings: &LlmSettings) {
    // A large sample of the world, to show what the declared curves amount to.
    let sample: Vec<Task> = {
        let mut rng = StdRng::seed_from_u64(0);
        (0..100_000).map(|_| draw_task(&mut rng)).collect()
    };
    let implement = &KINDS[0];
    println!(
        "declared model profiles, ladder order (success = one attempt, {:.0}% transient failures included):",
        TRANSIENT * 100.0
    );
    println!(
        "{:<9} {:<18} {:<9} {:>13} {:>10} {:>7} {:>7} {:>7} {:>7} {:>9} {:>8}  calibrated against",
        "name",
        "model",
        "tier",
        "$/Mtok in/out",
        "$/impl.att",
        "capab.",
        "easy",
        "medium",
        "hard",
        "all tasks",
        "latency"
    );
    for (rung, m) in MODELS.iter().enumerate() {
        let mut by = [(0.0, 0.0); 3];
        for t in &sample {
            let b = &mut by[true_complexity(t.difficulty) as usize];
            b.0 += f64::from(u8::from(t.solvable[rung] && !t.transient[0][rung]));
            b.1 += 1.0;
        }
        let all = by.iter().map(|b| b.0).sum::<f64>() / sample.len() as f64;
        println!(
            "{:<9} {:<18} {:<9} {:>13} {:>10} {:>7.2} {:>7} {:>7} {:>7} {:>9} {:>7.0}s  {}",
            m.name,
            m.model,
            m.tier.to_string(),
            format!("{}/{}", m.prices[0], m.prices[1]),
            format!(
                "${:.3}",
                budget::cost(&settings.models[m.name], &implement.usage())
            ),
            m.capability,
            pct(by[0].0 / by[0].1),
            pct(by[1].0 / by[1].1),
            pct(by[2].0 / by[2].1),
            pct(all),
            implement.latency_secs(m),
            m.anchor
        );
    }
    println!(
        "  $/impl.att and latency: one implement_step attempt (list prices incl. cache reads/writes; model time only)."
    );
    let mix: Vec<String> = DIFFICULTY_MIX
        .iter()
        .map(|(s, a, b, n)| format!("{:.0}% {n} Beta({a},{b})", s * 100.0))
        .collect();
    println!(
        "  p(solvable) = 1/(1+exp((d-capability)/{SLOPE})); difficulty d: {}; easy/medium/hard = true thirds of d.",
        mix.join(", ")
    );
    println!(
        "  solvable drawn once per (task, model), {:.0}% of the draw shared between models; triage label right {:.0}% of the time.",
        SHARED * 100.0,
        LABEL_ACCURACY * 100.0
    );
    println!(
        "{:<15} {:>6} {:>6} {:>12} {:>8} {:>9} {:>16}",
        "task kind", "share", "calls", "prompt/call", "cached", "out/call", "failure caught"
    );
    for k in &KINDS {
        println!(
            "{:<15} {:>6} {:>6} {:>12} {:>8} {:>9} {:>16}",
            k.kind.as_str(),
            pct(k.share),
            k.calls,
            k.prompt_per_call,
            pct(k.cached_share),
            k.output_per_call,
            pct(k.detection)
        );
    }
    println!();
}

fn print_results(runs: &Runs, seeds: usize) {
    let base = runs.sum(Plan::AlwaysStrongest, RunResult::total);
    let base_late = runs.sum(Plan::AlwaysStrongest, |r| r.halves[1]);
    println!(
        "{:<28} {:>8} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9}  attempts on",
        "strategy (mean of runs)",
        "success",
        "silent",
        "cost/run",
        "$/task",
        "attempts",
        "latency",
        "success",
        "cost"
    );
    println!(
        "{:<28} {:>8} {:>7} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9}  deepseek/haiku/sonnet/opus",
        "", "", "failure", "", "", "/task", "/task", "vs strong", "vs strong"
    );
    let row = |label: &str, s: &Stats, base: &Stats| {
        println!(
            "{:<28} {:>8} {:>7} {:>10} {:>8} {:>8.2} {:>7.0}s {:>9} {:>9}  {}",
            label,
            pct(s.success_rate()),
            pct(s.silent_failures / s.tasks),
            format!("${:.2}", s.cost / seeds as f64),
            format!("${:.4}", s.cost / s.tasks),
            s.attempts / s.tasks,
            s.latency_secs / s.tasks,
            pct(s.success_rate() / base.success_rate()),
            pct(s.cost / base.cost),
            spread(&s.by_rung)
        );
    };
    for plan in Plan::ALL {
        row(plan.label(), &runs.sum(plan, RunResult::total), &base);
    }
    row(
        "  Orion, second half only",
        &runs.sum(Plan::Orion, |r| r.halves[1]),
        &base_late,
    );
    println!();
}

/// Where Orion's router spends and loses, for diagnosis.
fn print_orion_detail(runs: &Runs, router: &Router) {
    let strongest = runs.sum(Plan::AlwaysStrongest, RunResult::total);
    println!("by true difficulty: success and $/task, Orion against always-strongest");
    for (b, name) in ["easy (d<1/3)", "medium", "hard (d>=2/3)"]
        .iter()
        .enumerate()
    {
        let o = runs.sum(Plan::Orion, |r| r.by_truth[b]);
        let s = runs.sum(Plan::AlwaysStrongest, |r| r.by_truth[b]);
        println!(
            "  {:<14} {:>5.1}% of tasks   Orion {:>6} ${:.4}   strongest {:>6} ${:.4}",
            name,
            s.tasks / strongest.tasks * 100.0,
            pct(o.success_rate()),
            o.cost / o.tasks,
            pct(s.success_rate()),
            s.cost / s.tasks
        );
    }
    println!("Orion's first attempts by triage label, deepseek/haiku/sonnet/opus");
    for (l, label) in [Complexity::Low, Complexity::Medium, Complexity::High]
        .iter()
        .enumerate()
    {
        let mut counts = [0.0; M];
        for r in runs.of(Plan::Orion) {
            for (c, n) in counts.iter_mut().zip(r.first_by_label[l]) {
                *c += n;
            }
        }
        println!("  {:<7} {}", label.as_str(), spread(&counts));
    }
    println!(
        "what Orion had learned at the end of run 1: successes/failures as observed, posterior mean, bound"
    );
    let learned = &runs.of(Plan::Orion)[0].perf;
    for kind in [TaskKind::ImplementStep, TaskKind::Fix] {
        for label in [Complexity::Low, Complexity::Medium, Complexity::High] {
            let cells: Vec<String> = MODELS
                .iter()
                .map(|m| {
                    let e = router.estimate(learned, m.name, m.tier, kind, label, false);
                    let t = learned.tally(m.name, kind, label);
                    format!(
                        "{} {:.0}/{:.0} {:.2} {:.2}",
                        m.name, t.successes, t.failures, e.mean, e.upper
                    )
                })
                .collect();
            println!(
                "  {:<14} {:<6} {}",
                kind.as_str(),
                label.as_str(),
                cells.join(" | ")
            );
        }
    }
    println!();
}

fn print_verdict(runs: &Runs) {
    let orion = runs.sum(Plan::Orion, RunResult::total);
    let strongest = runs.sum(Plan::AlwaysStrongest, RunResult::total);
    let success_ratio = orion.success_rate() / strongest.success_rate();
    let cost_ratio = orion.cost / strongest.cost;
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!(
        "SIMULATED result, Orion against always-strongest: success {} (target >= 98%: {}), cost {} (target <= 40%: {})",
        pct(success_ratio),
        verdict(success_ratio >= 0.98),
        pct(cost_ratio),
        verdict(cost_ratio <= 0.40)
    );
    let per_run: Vec<String> = runs
        .of(Plan::Orion)
        .iter()
        .zip(runs.of(Plan::AlwaysStrongest))
        .map(|(o, s)| {
            let (o, s) = (o.total(), s.total());
            format!(
                "{}/{}",
                pct(o.success_rate() / s.success_rate()),
                pct(o.cost / s.cost)
            )
        })
        .collect();
    println!("  success/cost ratio per run: {}", per_run.join(", "));
}

fn main() {
    let tasks = env_usize("BENCH_TASKS", 5_000).max(2);
    let seeds = env_usize("BENCH_SEEDS", 5).max(1);
    let settings = settings();
    let router = Router::new(settings.clone());
    let routing = &settings.routing;
    assert_eq!(routing.strategy, Strategy::CostAware);
    assert!(routing.max_attempts as usize <= MAX_ATTEMPTS);
    let ladder: Vec<&str> = router.ladder().iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(ladder, MODELS.map(|m| m.name), "MODELS is in ladder order");
    let started = std::time::Instant::now();

    println!("routing benchmark: a SIMULATION. No model is called.");
    println!(
        "Models, tasks and outcomes are a declared world model (documented at the top of benches/routing.rs);"
    );
    println!(
        "Orion's decisions are its real Router and Performance: strategy cost_aware, default [routing] (success_threshold {}, prior_strength {}, exploration {}, max_attempts {}).",
        routing.success_threshold,
        routing.prior_strength,
        routing.exploration,
        routing.max_attempts
    );
    println!(
        "{tasks} tasks per run in sequence (Orion learns as it goes), {seeds} runs (seeds 1..={seeds}), every strategy on the same tasks and draws."
    );
    println!();
    print_world(&settings);
    let runs = Runs::simulate(&router, tasks, seeds);
    print_results(&runs, seeds);
    print_orion_detail(&runs, &router);
    print_verdict(&runs);
    println!(
        "({} simulated task runs in {:.2} s)",
        tasks * seeds * Plan::ALL.len(),
        started.elapsed().as_secs_f64()
    );
}
