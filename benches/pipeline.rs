//! Pipeline benchmark, in two parts run one after the other.
//!
//! **Scheduling.** With simulated model latency, the wall time of a plan's steps run by Orion's
//! DAG scheduler ([`orion_bot::implement::dag::run`]) against the same steps run one after
//! another, measured in the same run. Target: at least 40% less wall time for a plan of
//! independent steps.
//!
//! Each simulated step is what a dev agent does on the clock: a few model turns (each a sleep of
//! `BENCH_LATENCY_MS`, default 400 ms) with a little CPU between them. Three plans:
//! - **independent**: 6 steps on 6 different files (the scheduler's best case, the target);
//! - **mixed**: 6 steps, two chains of dependencies plus two steps sharing a file;
//! - **shared**: 6 steps all touching one file (no parallelism possible: the overhead check).
//!
//! **End to end.** Orion as a real child process (`orion serve`, the binary cargo builds for this
//! bench) with GitHub and the model provider pointed at loopback fakes: the test crate's fake
//! GitHub (a REST model over real bare git repositories) and fake model server, included below by
//! path. The model answers instantly, so what is measured is Orion's own overhead. Every task is
//! the same: alice labels an issue `orion`; triage finds it clear; the plan has one step; the
//! step's agent writes `src/colour.txt` and finishes in one turn; the repository's test command
//! (`grep -qx red src/colour.txt`) passes in the sandbox; the self-review is clean; the pull
//! request opens ready for review and the status comment says done. Each role has one answer
//! given to every request of that role, so tasks running at once cannot take each other's.
//!
//! Phases, on one Orion process with its default queue settings:
//! 1. one warm-up task, not counted (it clones the repository's mirror, mints the first token);
//! 2. `BENCH_TASKS` tasks one at a time, each sent once the previous one is done: wall time from
//!    the label webhook's POST to the pull request existing on the fake, and Orion's CPU;
//! 3. `BENCH_TASKS` more tasks sent at once: tasks per minute, from the first POST until the last
//!    task is done, with Orion's `queue.workers` workers;
//! 4. `BENCH_ISSUES` labelled issues one at a time: from the webhook's POST to the first thing a
//!    user sees on GitHub, the 👀 reaction or the status comment, whichever comes first.
//!
//! How. Orion's CPU is `utime + stime` of the child in `/proc/PID/stat`: its threads only, not
//! the fakes', which run in this process. The counters move in clock ticks (10 ms), so they are
//! read at the start and the end of a phase and divided by its tasks; the end is read 250 ms after
//! the last task is done, so its last bookkeeping counts too. The CPU of the processes Orion
//! started and reaped (`cutime + cstime`: bubblewrap and the test command) is printed apart. The
//! fakes' state is read every millisecond, so an instant is known to 1–2 ms (tokio's timer).
//!
//! Baselines, measured in the same run, each figure printed as a ratio to its own:
//! - wall time and CPU per task: the HTTP round trips a task makes to the fakes (counted in their
//!   request logs), made one after another by a plain `reqwest` client on a thread of its own:
//!   for each GitHub request an issue read (most of Orion's calls are reads and small writes),
//!   and the very model requests Orion sent, replayed (the fake keeps their bodies); measured
//!   three times right after phase 2, the median kept. Its wall time is the floor the fakes and
//!   loopback set; its CPU (the thread's CPU clock) is what merely speaking HTTP and JSON costs.
//!   Git's work (local `file://` remotes, in process) and the sandbox are Orion's overhead with
//!   no counterpart there;
//! - tasks per minute at once: the same tasks one at a time (phase 2);
//! - first response: the acknowledgement of the same POSTs by Orion's webhook edge (the 202,
//!   sent once the delivery and its job are durable).
//!
//! Run with `cargo bench --bench pipeline` (a few minutes on 2 cores, most of it compiling).
//! Environment:
//! - `BENCH_LATENCY_MS`, `BENCH_TURNS`, `BENCH_PARALLEL`: the scheduling simulation;
//! - `BENCH_TASKS` (default 10), `BENCH_ISSUES` (default 20): the end-to-end sizes;
//! - `BENCH_WORKERS`: Orion's `queue.workers` (default: Orion's own default);
//! - `BENCH_SANDBOX=none`: the test command unconfined (chosen, and said, when bubblewrap cannot
//!   run here);
//! - `BENCH_LOG`: Orion's `RUST_LOG` (default `warn`; the log is a file, printed on failure);
//! - `BENCH_ONLY=scheduling` or `BENCH_ONLY=e2e`: one part only.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::ops::Sub;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use orion_bot::config::Config;
use orion_bot::implement::dag::{self, StepResult};
use orion_bot::implement::plan::{Plan, Step, StepTier};
use orion_bot::sandbox::{Sandbox, SandboxConfig, SandboxMode};
use orion_bot::webhook::signature;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

// The test crate's fakes and harness, compiled here as they are there. Their self-tests and the
// helpers only tests use are dead code in a bench.
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/fake_github/mod.rs"]
mod fake_github;
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/fake_model/mod.rs"]
mod fake_model;
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use fake_github::FakeGitHub;
use fake_model::{Answer, FakeModel};

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

/// The scheduling part: prints its table exactly as before the end-to-end part existed.
async fn scheduling() {
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

// ---------------------------------------------------------------------------------------------
// End to end: `orion serve` on the fakes.

const REPO: &str = "octo/widgets";
const TITLE: &str = "Widgets should be red";
/// How often the fakes' state is read while a task runs.
const POLL: Duration = Duration::from_millis(1);
/// Hang guard for one wait: a task that never finishes fails the bench with Orion's log.
const WAIT_LIMIT: Duration = Duration::from_secs(300);
/// After a phase's last task is done, how long before its CPU is read (see the file's doc).
const SETTLE: Duration = Duration::from_millis(250);

/// CPU a process has used: its own threads, and the children it started and reaped.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    own: Duration,
    children: Duration,
}

impl Sub for Cpu {
    type Output = Cpu;
    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            own: self.own.saturating_sub(earlier.own),
            children: self.children.saturating_sub(earlier.children),
        }
    }
}

/// The length of a clock tick, the unit of `/proc/PID/stat`'s CPU counters.
fn clock_tick() -> Duration {
    // SAFETY: sysconf reads a constant of the running system and has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Duration::from_secs_f64(1.0 / hz.max(1) as f64)
}

/// `utime + stime` and `cutime + cstime` of process `pid`.
fn cpu_of(pid: u32) -> Cpu {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/stat: {e}"));
    // Field 2, the command name, is in parentheses and may hold spaces: count from after it.
    // The rest starts at field 3 (state); utime, stime, cutime, cstime are fields 14 to 17.
    let rest = &stat[stat
        .rfind(')')
        .expect("a stat line has the command in parentheses")
        + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> u32 {
        let value: i64 = fields[i].parse().expect("a CPU counter");
        u32::try_from(value).expect("a CPU counter in range")
    };
    let tick = clock_tick();
    Cpu {
        own: tick * (ticks(11) + ticks(12)),
        children: tick * (ticks(13) + ticks(14)),
    }
}

/// CPU time of the calling thread, to the nanosecond.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid place to write; this clock exists on every Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `orion serve`, the binary cargo built, as a child process; killed when dropped.
struct OrionProcess {
    child: Child,
    base: String,
    log: PathBuf,
}

impl OrionProcess {
    /// Starts it with the config file in `dir` and the App's and the model's credentials in its
    /// environment, as an operator would, and reads its address from the banner it prints.
    fn start(dir: &Path, github: &FakeGitHub, log_filter: &str) -> Self {
        let app = github.app_credentials();
        let key = fake_model::keys()("OPENAI_API_KEY").expect("the fake model's key");
        let log = dir.join("orion.log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_orion"))
            .arg("serve")
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ORION_CONFIG", dir.join("orion.toml"))
            .env("ORION_GITHUB_WEBHOOK_SECRET", support::SECRET)
            .env("ORION_GITHUB_APP_ID", app.app_id.to_string())
            .env("ORION_GITHUB_APP_PRIVATE_KEY", &app.private_key_pem)
            .env("OPENAI_API_KEY", key)
            .env("RUST_LOG", log_filter)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("Orion's log file"))
            .spawn()
            .expect("orion serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let Some(Ok(banner)) = lines.next() else {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("orion serve printed no banner; its log:\n{log}");
        };
        let addr = banner.rsplit("http://").next().unwrap_or_default().trim();
        let base = format!("http://{addr}");
        // Keep draining stdout so Orion never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn cpu(&self) -> Cpu {
        cpu_of(self.pid())
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for OrionProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One answer per role, given to every request of the role: the happy path of a one-step task.
fn script(model: &FakeModel) {
    model.fallback(
        "triage",
        Answer::json(json!({
            "kind": "bug", "complexity": "simple", "risky": false,
            "likely_files": ["src/colour.txt"], "labels": ["bug"], "clear": true,
            "question": null, "reasoning": "one file, clear expectation"
        })),
    );
    model.fallback(
        "plan",
        Answer::json(json!({
            "summary": "Change the colour file to red.",
            "steps": [{
                "id": "colour", "goal": "Make widgets red", "files": ["src/colour.txt"],
                "depends_on": [], "tier": "tactical", "verify": "grep -qx red src/colour.txt"
            }]
        })),
    );
    // Writing and finishing in one turn: one model round trip per step.
    model.fallback(
        "implement",
        Answer::Tools(vec![
            (
                "write_file".to_owned(),
                json!({"path": "src/colour.txt", "content": "red\n"}),
            ),
            (
                "finish".to_owned(),
                json!({"summary": "src/colour.txt says red"}),
            ),
        ]),
    );
    model.fallback("review", Answer::json(json!({"findings": []})));
}

const ROLES: [&str; 4] = ["triage", "plan", "implement", "review"];

/// Bubblewrap if it works here (or `BENCH_SANDBOX=none`), and how to say so.
async fn sandbox_mode() -> (SandboxMode, String) {
    if std::env::var("BENCH_SANDBOX").as_deref() == Ok("none") {
        return (SandboxMode::None, "none (BENCH_SANDBOX=none)".to_owned());
    }
    match Sandbox::new(SandboxConfig::default()).check().await {
        Ok(()) => (SandboxMode::Bubblewrap, "bubblewrap".to_owned()),
        Err(e) => (
            SandboxMode::None,
            format!("none: bubblewrap cannot run here ({e}); the test command runs unconfined"),
        ),
    }
}

/// One labelled issue, as the bench saw it: durations since its webhook was posted.
#[derive(Debug, Clone)]
struct Task {
    issue: u64,
    posted: Instant,
    /// The webhook's 202.
    ack: Duration,
    /// The 👀 reaction or the status comment, whichever first.
    first_response: Option<Duration>,
    pull: Option<Duration>,
    /// The status comment says done.
    done: Option<Duration>,
}

/// What a phase cost: its tasks, its wall time (first POST to last task done), Orion's CPU, and
/// the round trips to the fakes it made.
struct Phase {
    tasks: Vec<Task>,
    wall: Duration,
    cpu: Cpu,
    github_requests: usize,
    model_requests: Vec<Value>,
}

impl Phase {
    fn per_task(&self, d: Duration) -> Duration {
        d / self.tasks.len() as u32
    }

    fn per_minute(&self) -> f64 {
        self.tasks.len() as f64 * 60.0 / self.wall.as_secs_f64()
    }
}

/// The fakes, and Orion pointed at them.
struct World {
    // Declared first so it is dropped (killed) first, while the fakes still answer.
    orion: OrionProcess,
    github: FakeGitHub,
    model: FakeModel,
    clone_url: String,
    installation: u64,
    client: reqwest::Client,
    labeled: Value,
    workers: usize,
    sandbox: String,
    _dir: tempfile::TempDir,
}

impl World {
    async fn start() -> Self {
        let github = FakeGitHub::start().await;
        let widgets = github
            .repo(REPO)
            .default_branch("main")
            .file("README.md", "# Widgets\n")
            .file("src/colour.txt", "blue\n")
            .file(
                ".github/orion.yml",
                "test_command: grep -qx red src/colour.txt\n",
            )
            .create();
        let installation = github.install("octo", &[REPO]);
        github.grant(REPO, "alice", "write");
        github.create_label(REPO, "bug", "d73a4a");
        let model = FakeModel::start().await;
        script(&model);

        let (mode, sandbox) = sandbox_mode().await;
        let dir = tempfile::tempdir().expect("a directory for Orion");
        let settings = fake_model::settings(&model);
        let mut config = Config {
            models: settings.models,
            tiers: settings.tiers,
            routing: settings.routing,
            budgets: settings.budgets,
            llm: settings.llm,
            ..Config::default()
        };
        config.server.listen = "127.0.0.1:0".to_owned();
        config.store.url = format!("sqlite://{}", dir.path().join("orion.db").display());
        config.git.workdir = dir.path().join("work");
        config.github.api_url = github.api_url().to_owned();
        config.sandbox.mode = mode;
        if let Ok(workers) = std::env::var("BENCH_WORKERS") {
            config.queue.workers = workers.parse().expect("BENCH_WORKERS is a number");
        }
        std::fs::write(
            dir.path().join("orion.toml"),
            toml::to_string(&config).expect("the config serializes"),
        )
        .expect("Orion's config file");
        let log_filter = std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".to_owned());
        let orion = OrionProcess::start(dir.path(), &github, &log_filter);
        let labeled = serde_json::from_slice(
            &std::fs::read(support::corpus().join("github-webhooks/issues/labeled.payload.json"))
                .expect("the corpus's issues.labeled payload"),
        )
        .expect("JSON");
        Self {
            orion,
            github,
            model,
            clone_url: widgets.clone_url,
            installation,
            client: reqwest::Client::new(),
            labeled,
            workers: config.queue.workers,
            sandbox,
            _dir: dir,
        }
    }

    /// alice opens an issue and GitHub delivers `issues.labeled` with `orion` for it. The body is
    /// built and signed before the clock starts.
    async fn label_new_issue(&self) -> Task {
        let issue = self
            .github
            .issue(REPO, "alice", TITLE, "They are blue; make them red.");
        let mut body = self.labeled.clone();
        body["label"]["name"] = json!("orion");
        body["issue"]["number"] = json!(issue);
        body["issue"]["title"] = json!(TITLE);
        body["issue"]["labels"] = json!([{"name": "orion"}]);
        body["repository"]["full_name"] = json!(REPO);
        body["repository"]["name"] = json!("widgets");
        body["repository"]["owner"]["login"] = json!("octo");
        body["repository"]["clone_url"] = json!(self.clone_url);
        body["sender"]["login"] = json!("alice");
        body["sender"]["type"] = json!("User");
        body["installation"] = json!({"id": self.installation});
        let body = serde_json::to_vec(&body).expect("JSON");
        let request = self
            .client
            .post(format!("{}/webhooks/github", self.orion.base))
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string())
            .header("Content-Type", "application/json")
            .header(
                "X-Hub-Signature-256",
                signature::github_header(support::SECRET, &body),
            )
            .body(body);
        let posted = Instant::now();
        let status = request.send().await.expect("Orion answers").status();
        let ack = posted.elapsed();
        assert_eq!(status, 202, "the label webhook is accepted");
        Task {
            issue,
            posted,
            ack,
            first_response: None,
            pull: None,
            done: None,
        }
    }

    /// Reads the fakes every [`POLL`] until every task's status comment says done, noting when
    /// each visible thing first appeared.
    async fn watch(&self, tasks: &mut [Task]) {
        let deadline = Instant::now() + WAIT_LIMIT;
        while tasks.iter().any(|t| t.done.is_none()) {
            let pulls: BTreeSet<u64> = self
                .github
                .pulls(REPO)
                .iter()
                .filter_map(|p| {
                    p.head
                        .strip_prefix("orion/")?
                        .split('-')
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            for task in tasks.iter_mut().filter(|t| t.done.is_none()) {
                let comments = self.github.comments(REPO, task.issue);
                let reacted = task.first_response.is_none()
                    && !self.github.reactions(REPO, task.issue).is_empty();
                let now = task.posted.elapsed();
                if task.first_response.is_none() && (reacted || !comments.is_empty()) {
                    task.first_response = Some(now);
                }
                if task.pull.is_none() && pulls.contains(&task.issue) {
                    task.pull = Some(now);
                }
                let status = comments.first().map_or("", |c| c.body.as_str());
                if status.starts_with("### ✅ Done") {
                    task.done = Some(now);
                    // Opened between the two reads of this round.
                    task.pull.get_or_insert(now);
                } else if status.starts_with("### ⛔") || status.starts_with("### ❌") {
                    self.fail(&format!("task for #{} ended badly:\n{status}", task.issue));
                }
            }
            if Instant::now() > deadline {
                self.fail(&format!("tasks not done within {WAIT_LIMIT:?}: {tasks:?}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\nmodel misses: {:?}\nOrion's log (last lines):\n{}",
            self.model.misses(),
            self.orion.log_tail()
        );
    }

    /// Every model request so far, by number.
    fn model_requests(&self) -> Vec<fake_model::SeenRequest> {
        let mut all: Vec<_> = ROLES.iter().flat_map(|r| self.model.requests(r)).collect();
        all.sort_by_key(|r| r.number);
        all
    }

    /// Runs `phase` (which sends the webhooks and watches the tasks) and measures it.
    async fn measure<F, Fut>(&self, phase: F) -> Phase
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Vec<Task>>,
    {
        let github_before = self.github.requests().len();
        let model_before = self.model_requests().last().map_or(0, |r| r.number);
        let cpu_before = self.orion.cpu();
        let started = Instant::now();
        let tasks = phase().await;
        let wall = started.elapsed();
        tokio::time::sleep(SETTLE).await;
        let cpu = self.orion.cpu() - cpu_before;
        Phase {
            tasks,
            wall,
            cpu,
            github_requests: self.github.requests().len() - github_before,
            model_requests: self
                .model_requests()
                .into_iter()
                .filter(|r| r.number > model_before)
                .map(|r| r.body)
                .collect(),
        }
    }

    /// `count` tasks, each sent once the previous one is done.
    async fn one_at_a_time(&self, count: usize) -> Phase {
        self.measure(|| async {
            let mut tasks = Vec::with_capacity(count);
            for _ in 0..count {
                let mut task = [self.label_new_issue().await];
                self.watch(&mut task).await;
                tasks.extend(task);
            }
            tasks
        })
        .await
    }

    /// `count` tasks sent at once.
    async fn at_once(&self, count: usize) -> Phase {
        self.measure(|| async {
            let mut tasks =
                futures_util::future::join_all((0..count).map(|_| self.label_new_issue())).await;
            self.watch(&mut tasks).await;
            tasks
        })
        .await
    }

    /// Checks that the measured path is the intended one: every answer scripted, every request
    /// known to the fake GitHub, every pull request ready (its tests passed the first time).
    fn check_happy_path(&self) {
        let drafts: Vec<u64> = self
            .github
            .pulls(REPO)
            .iter()
            .filter(|p| p.draft)
            .map(|p| p.number)
            .collect();
        assert!(
            drafts.is_empty(),
            "draft pull requests (tests failed): {drafts:?}"
        );
        assert!(self.model.misses().is_empty(), "{:?}", self.model.misses());
        assert!(
            self.github.unexpected().is_empty(),
            "{:?}",
            self.github.unexpected()
        );
    }
}

/// The baseline of a phase's tasks: the same number of GitHub round trips (an issue read each)
/// and the same model requests, replayed one after another by a plain client on a thread of its
/// own. Returns its wall time and that thread's CPU time.
fn bare_round_trips(world: &World, phase: &Phase) -> (Duration, Duration) {
    let issue_url = format!(
        "{}/repos/{REPO}/issues/{}",
        world.github.api_url(),
        phase.tasks[0].issue
    );
    let token = world.github.personal_token("bench");
    let model_url = format!("{}/chat/completions", world.model.openai_url());
    let key = fake_model::keys()("OPENAI_API_KEY").expect("the fake model's key");
    let github_requests = phase.github_requests;
    let bodies = phase.model_requests.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the plain client");
        runtime.block_on(async {
            let client = reqwest::Client::new();
            let read_issue = || async {
                let response = client
                    .get(&issue_url)
                    .bearer_auth(&token)
                    .header("User-Agent", "bench")
                    .header("Accept", "application/vnd.github+json")
                    .send()
                    .await
                    .expect("the fake GitHub answers");
                assert_eq!(response.status(), 200);
                response.json::<Value>().await.expect("an issue");
            };
            let ask_model = |body: Value| {
                let request = client.post(&model_url).bearer_auth(&key).json(&body);
                async move {
                    let response = request.send().await.expect("the fake model answers");
                    assert_eq!(response.status(), 200);
                    response.json::<Value>().await.expect("an answer");
                }
            };
            // Connections opened before the clock starts, as Orion's pools keep theirs.
            read_issue().await;
            ask_model(bodies[0].clone()).await;
            let cpu = thread_cpu();
            let started = Instant::now();
            for _ in 0..github_requests {
                read_issue().await;
            }
            for body in bodies {
                ask_model(body).await;
            }
            (started.elapsed(), thread_cpu() - cpu)
        })
    })
    .join()
    .expect("the plain client's thread")
}

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(values: &[Duration]) -> Duration {
    values.iter().sum::<Duration>() / values.len() as u32
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn ratio(a: f64, b: f64) -> String {
    format!("{:.1}×", a / b)
}

async fn end_to_end() {
    let tasks = env("BENCH_TASKS", 10).max(1) as usize;
    let issues = env("BENCH_ISSUES", 20).max(1) as usize;
    let world = World::start().await;

    let warm_up = world.one_at_a_time(1).await;
    let idle_before = world.orion.cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = (world.orion.cpu() - idle_before).own;

    let load_before = load_average();
    let sequential = world.one_at_a_time(tasks).await;
    // Right after the phase it is the baseline of, under the same load; the median of three.
    let mut bare: Vec<(Duration, Duration)> = (0..3)
        .map(|_| bare_round_trips(&world, &sequential))
        .collect();
    bare.sort();
    let (bare_wall, _) = bare[1];
    bare.sort_by_key(|&(_, cpu)| cpu);
    let (_, bare_cpu) = bare[1];
    let burst = world.at_once(tasks).await;
    let responses = world.one_at_a_time(issues).await;
    world.check_happy_path();

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "end to end: `orion serve` (pid {}) on the fake GitHub and an instant scripted model; \
         {} workers, {cores} cores, sandbox: {}",
        world.orion.pid(),
        world.workers,
        world.sandbox
    );
    println!(
        "each task: label webhook → triage → 1-step plan (write a file) → test command → \
         self-review → PR; warm-up task (cold mirror, first token): {} to PR, not counted",
        ms(warm_up.tasks[0].pull.expect("warm-up PR"))
    );
    println!(
        "Orion's CPU from /proc/{}/stat (tick {}), per phase; the fakes read every {} ms; \
         idle Orion: {} of CPU in 1 s",
        world.orion.pid(),
        ms(clock_tick()),
        POLL.as_millis(),
        ms(idle)
    );
    println!(
        "load average (1 min) before the measured phases: {load_before}, after: {} \
         (other work on the machine slows Orion and the baselines alike)\n",
        load_average()
    );

    let walls: Vec<Duration> = sequential.tasks.iter().filter_map(|t| t.pull).collect();
    let wall = mean(&walls);
    let bare_wall_task = sequential.per_task(bare_wall);
    let cpu = sequential.per_task(sequential.cpu.own);
    let bare_cpu_task = sequential.per_task(bare_cpu);
    let round_trips = format!(
        "{} GitHub + {} model round trips",
        sequential.github_requests / tasks,
        sequential.model_requests.len() / tasks
    );
    let first: Vec<Duration> = responses
        .tasks
        .iter()
        .filter_map(|t| t.first_response)
        .collect();
    let acks: Vec<Duration> = responses.tasks.iter().map(|t| t.ack).collect();
    let burst_first: Vec<Duration> = burst
        .tasks
        .iter()
        .filter_map(|t| t.first_response)
        .collect();
    let burst_acks: Vec<Duration> = burst.tasks.iter().map(|t| t.ack).collect();
    let f = |d: Duration| d.as_secs_f64();

    println!("| figure | Orion | baseline (same run) | ratio |");
    println!("|---|---:|---|---:|");
    println!(
        "| wall per task, webhook → PR open ({tasks} one at a time: mean; p50 {}, max {}) | {} | {}: the task's {round_trips} by a plain client | {} |",
        ms(percentile(&walls, 0.5)),
        ms(percentile(&walls, 1.0)),
        ms(wall),
        ms(bare_wall_task),
        ratio(f(wall), f(bare_wall_task))
    );
    println!(
        "| Orion's CPU per task ({tasks} one at a time) | {} | {}: that client's CPU for them | {} |",
        ms(cpu),
        ms(bare_cpu_task),
        ratio(f(cpu), f(bare_cpu_task))
    );
    // Short-lived children use less than a tick each: summed over every measured task.
    let measured = [&sequential, &burst, &responses];
    let children: Duration = measured.iter().map(|p| p.cpu.children).sum();
    let all_tasks: usize = measured.iter().map(|p| p.tasks.len()).sum();
    let children = match children.is_zero() {
        true => format!("< {}", ms(clock_tick() / all_tasks as u32)),
        false => ms(children / all_tasks as u32),
    };
    println!(
        "| CPU of the processes Orion started, per task (sandbox, test command; all {all_tasks} tasks) | {children} | - | - |"
    );
    println!(
        "| tasks/minute, {tasks} sent at once (first POST → last task done) | {:.0} | {:.0}: one at a time | {} |",
        burst.per_minute(),
        sequential.per_minute(),
        ratio(burst.per_minute(), sequential.per_minute())
    );
    println!(
        "| Orion's CPU per task, {tasks} at once | {} | {}: one at a time | {} |",
        ms(burst.per_task(burst.cpu.own)),
        ms(cpu),
        ratio(f(burst.per_task(burst.cpu.own)), f(cpu))
    );
    for (label, p) in [("p50", 0.5), ("p95", 0.95)] {
        println!(
            "| webhook → first visible response, {label} ({issues} one at a time) | {} | {}: the webhook's 202, {label} | {} |",
            ms(percentile(&first, p)),
            ms(percentile(&acks, p)),
            ratio(f(percentile(&first, p)), f(percentile(&acks, p)))
        );
    }
    println!(
        "| webhook → first visible response, p50 in the burst of {tasks} | {} | {}: the webhook's 202, p50 | {} |",
        ms(percentile(&burst_first, 0.5)),
        ms(percentile(&burst_acks, 0.5)),
        ratio(
            f(percentile(&burst_first, 0.5)),
            f(percentile(&burst_acks, 0.5))
        )
    );
    let p50 = percentile(&first, 0.5);
    println!(
        "\nfirst response target: p50 < 1 s: {} ({})",
        if p50 < Duration::from_secs(1) {
            "PASS"
        } else {
            "MISS"
        },
        ms(p50)
    );
}

#[tokio::main]
async fn main() {
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only != "e2e" {
        scheduling().await;
    }
    if only != "scheduling" {
        if only != "e2e" {
            println!();
        }
        end_to_end().await;
    }
}
