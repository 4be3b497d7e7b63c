//! Runs a plan's steps as a DAG: each step as soon as what it needs is done, several at once
//! when they cannot step on each other's edits.
//!
//! The rules, in the order they are applied, so that any schedule can be explained:
//!
//! 1. **Dependencies.** A step is ready when every step in its `depends_on` is done, either
//!    before this run (`already_done`, which is how a task resumed after a crash avoids redoing
//!    work) or during it.
//! 2. **Files.** Two steps that share a file never run at the same time, and the one earlier in
//!    plan order goes first, so their edits land in the order the planner intended: a ready step
//!    waits while any *earlier* unfinished step shares a file with it. Paths are shared when
//!    equal or when one is a directory of the other (`src` or `src/` against `src/a.rs`; not
//!    `src` against `src2/a.rs`). A step that lists no files may edit anything, so it shares a
//!    file with every step: it runs alone, in plan order.
//! 3. **Bound.** Among ready steps, those earlier in plan order start first, up to
//!    `max_parallel` at a time (at least one, so a zero from configuration cannot stall a task).
//! 4. **Failure.** A failed step takes its transitive dependents with it: they are skipped with
//!    the reason "depends on X, which failed", naming the step that actually failed. Steps that
//!    do not depend on it go on, so one bad step does not waste the work of the others.
//! 5. **Cancellation.** Once `cancel` fires nothing new starts. Steps already running are not
//!    dropped mid-edit: the scheduler awaits them and reports what they return, and it is the
//!    step runner's job to watch the same token and return early (typically a
//!    [`StepResult::Failed`]). Steps that never started are reported as cancelled, and run on
//!    resume because they are not in `already_done`.
//! 6. **Checkpoints.** After each batch of steps (those that finish by the same wake-up), the
//!    caller's checkpoint sees what finished and the tally so far, and decides: go on, run some
//!    failed steps of the batch again (the runner is called for them once more and knows from
//!    its own records that it is a retry), or stop for a new plan. On a stop nothing new starts,
//!    running steps finish, and the steps not started are reported as deferred with the reason.
//!    A failed step that is retried is not reported failed, and its dependents wait for it.
//! 7. **Broken plans.** A plan is expected to have passed [`Plan::check`]. If one slips through
//!    with a cycle, an unknown dependency or a repeated id, the affected steps and their
//!    dependents are skipped with a reason; the scheduler never waits forever or panics.
//!
//! "Plan order" means the order [`Plan::order`] gives: dependencies first, ties broken by
//! position in the plan. For a plan written top to bottom that is simply its position; it also
//! keeps rule 2 from deadlocking when a listed-earlier step depends on a later one it shares a
//! file with. The order is computed from the whole plan, done steps included, so a resumed task
//! applies the remaining edits in the same order the first run would have.
//!
//! Steps run as futures polled by the calling task rather than spawned tasks, so the step
//! runner may borrow from its caller (the workspace, the model client) instead of needing
//! `'static` clones of everything.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use tokio_util::sync::CancellationToken;

use super::plan::{Plan, Step};

/// What running one step came to, as the step runner reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    Done,
    /// The step could not be completed; the reason is shown to the user and names why its
    /// dependents were skipped.
    Failed(String),
}

/// What happened to every step that was not already done, so the task can persist progress,
/// decide whether to open a pull request, and tell the user what was left out and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DagReport {
    /// Steps completed in this run, in completion order (steps given as already done are not
    /// repeated here).
    pub done: Vec<String>,
    /// `(step id, reason)` in completion order.
    pub failed: Vec<(String, String)>,
    /// `(step id, why)` in plan position order: a dependency failed or was skipped, or the
    /// plan was broken around the step.
    pub skipped: Vec<(String, String)>,
    /// Steps not started because `cancel` fired, in plan position order. They are not done,
    /// so a resumed task runs them.
    pub cancelled: Vec<String>,
    /// Failed steps a checkpoint sent round again, in the order it did (a step may appear
    /// more than once if the checkpoint allows it).
    pub retried: Vec<String>,
    /// Why a checkpoint stopped the run for a new plan, if one did.
    pub replan: Option<String>,
    /// Steps not started because a checkpoint stopped the run, in plan position order.
    pub deferred: Vec<String>,
}

impl DagReport {
    /// Whether every step that needed to run now is done, which is what the task needs before
    /// it verifies and opens a pull request.
    pub fn all_done(&self) -> bool {
        self.failed.is_empty()
            && self.skipped.is_empty()
            && self.cancelled.is_empty()
            && self.deferred.is_empty()
    }
}

/// What a checkpoint is shown after a batch of steps.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    /// The steps that just finished, with their results, in the order they did.
    pub finished: &'a [(String, StepResult)],
    /// Steps done so far: before this run and during it, this batch included.
    pub succeeded: usize,
    /// Steps failed so far, this batch's failures included (none of them retried yet).
    pub failed: usize,
}

/// A checkpoint's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// Failed steps of the batch to run again. Ids that are not failures of this batch are
    /// ignored.
    pub retry: Vec<String>,
    /// Stop starting steps and hand the task back for a new plan, for this reason.
    pub replan: Option<String>,
}

/// Runs every step of `plan` not in `already_done`, at most `max_parallel` at a time, by the
/// rules in the module documentation, and reports what became of each.
///
/// The returned future is `Send` when `run_step` and its futures are, so a task may be
/// spawned; nothing here demands it, so a runner holding `!Send` state works on a local set.
pub async fn run<F, Fut>(
    plan: &Plan,
    already_done: &BTreeSet<String>,
    max_parallel: usize,
    cancel: &CancellationToken,
    run_step: F,
) -> DagReport
where
    F: Fn(Step) -> Fut,
    Fut: Future<Output = StepResult>,
{
    run_with_checkpoints(plan, already_done, max_parallel, cancel, run_step, |_| {
        Decision::default()
    })
    .await
}

/// [`run`] with a checkpoint after every batch of finished steps (rule 6).
pub async fn run_with_checkpoints<F, Fut, C>(
    plan: &Plan,
    already_done: &BTreeSet<String>,
    max_parallel: usize,
    cancel: &CancellationToken,
    run_step: F,
    mut checkpoint: C,
) -> DagReport
where
    F: Fn(Step) -> Fut,
    Fut: Future<Output = StepResult>,
    C: FnMut(&Batch<'_>) -> Decision,
{
    let max_parallel = max_parallel.max(1);
    let graph = Graph::new(plan);
    let mut status = graph.initial_status(already_done);
    let mut report = DagReport::default();
    let mut running: Vec<(usize, Pin<Box<Fut>>)> = Vec::new();
    let succeeded_before = status.iter().filter(|s| **s == Status::AlreadyDone).count();

    loop {
        graph.skip_dependents_of_failures(&mut status);
        if !cancel.is_cancelled() && report.replan.is_none() {
            for &i in &graph.order {
                if running.len() >= max_parallel {
                    break;
                }
                if graph.can_start(i, &status) {
                    let step = plan.steps[i].clone();
                    tracing::info!(step = %step.id, files = ?step.files, "step started");
                    status[i] = Status::Running;
                    running.push((i, Box::pin(run_step(step))));
                }
            }
        }
        if running.is_empty() {
            break;
        }
        let batch: Vec<(usize, StepResult)> = next_finished(&mut running).await;
        let mut finished = Vec::with_capacity(batch.len());
        for (i, result) in batch {
            let id = &plan.steps[i].id;
            match &result {
                StepResult::Done => {
                    tracing::info!(step = %id, "step done");
                    status[i] = Status::Done;
                    report.done.push(id.clone());
                }
                StepResult::Failed(reason) => {
                    tracing::info!(step = %id, %reason, "step failed");
                    status[i] = Status::Failed;
                }
            }
            finished.push((id.clone(), result));
        }
        let failed_now = finished
            .iter()
            .filter(|(_, r)| *r != StepResult::Done)
            .count();
        let decision = checkpoint(&Batch {
            finished: &finished,
            succeeded: succeeded_before + report.done.len(),
            failed: report.failed.len() + failed_now,
        });
        for (id, result) in finished {
            let StepResult::Failed(reason) = result else {
                continue;
            };
            let again = decision.retry.contains(&id)
                && report.replan.is_none()
                && decision.replan.is_none();
            if again {
                tracing::info!(step = %id, "checkpoint: step runs again");
                let i = graph.position(&id);
                status[i] = Status::Pending;
                report.retried.push(id);
            } else {
                report.failed.push((id, reason));
            }
        }
        if let Some(why) = decision.replan
            && report.replan.is_none()
        {
            tracing::info!(%why, "checkpoint: stopping for a new plan");
            report.replan = Some(why);
        }
    }

    for (i, s) in status.iter_mut().enumerate() {
        let id = &plan.steps[i].id;
        if *s == Status::Pending {
            if report.replan.is_some() {
                tracing::info!(step = %id, "step deferred to the new plan");
                report.deferred.push(id.clone());
                continue;
            }
            if cancel.is_cancelled() {
                tracing::info!(step = %id, "step cancelled before it started");
                report.cancelled.push(id.clone());
                continue;
            }
            // Only a broken plan gets here (rule 7): whatever still waits has nothing left
            // to wait for.
            *s = Status::Skipped("its dependencies and files wait on each other".into());
        }
        if let Status::Skipped(why) = s {
            tracing::info!(step = %id, %why, "step skipped");
            report.skipped.push((id.clone(), why.clone()));
        }
    }
    report
}

/// Where a step stands during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    AlreadyDone,
    Pending,
    Running,
    Done,
    Failed,
    Skipped(String),
}

impl Status {
    fn satisfies_dependents(&self) -> bool {
        matches!(self, Self::AlreadyDone | Self::Done)
    }

    /// Whether the step may still edit files, and so blocks later steps sharing them.
    fn unfinished(&self) -> bool {
        matches!(self, Self::Pending | Self::Running)
    }
}

/// The plan as positions: who depends on whom and in which order steps are considered.
struct Graph<'p> {
    plan: &'p Plan,
    /// Per step, the positions of the dependencies that exist in the plan.
    deps: Vec<Vec<usize>>,
    /// Per step, the first dependency naming no step (a broken plan).
    unknown_dep: Vec<Option<&'p str>>,
    /// Per step, whether an earlier step already has its id (a broken plan).
    duplicate: Vec<bool>,
    /// Every position, in plan order (see the module documentation); steps that have no
    /// place in it, being in or behind a cycle, come last by position.
    order: Vec<usize>,
    /// Per step, its index in `order`.
    rank: Vec<usize>,
}

impl<'p> Graph<'p> {
    fn new(plan: &'p Plan) -> Self {
        let n = plan.steps.len();
        let first_with_id = |id: &str| plan.steps.iter().position(|s| s.id == id);
        let duplicate: Vec<bool> = (0..n)
            .map(|i| first_with_id(&plan.steps[i].id) != Some(i))
            .collect();
        let mut deps = Vec::with_capacity(n);
        let mut unknown_dep = Vec::with_capacity(n);
        for step in &plan.steps {
            let mut known = Vec::new();
            let mut unknown = None;
            for d in &step.depends_on {
                match first_with_id(d) {
                    Some(j) => known.push(j),
                    None => unknown = unknown.or(Some(d.as_str())),
                }
            }
            deps.push(known);
            unknown_dep.push(unknown);
        }

        // Kahn's algorithm with ties by position, as `Plan::order`, over positions so it also
        // copes with what `Plan::check` would refuse.
        let mut order = Vec::with_capacity(n);
        let mut placed = vec![false; n];
        while let Some(i) =
            (0..n).find(|&i| !placed[i] && !duplicate[i] && deps[i].iter().all(|&d| placed[d]))
        {
            placed[i] = true;
            order.push(i);
        }
        order.extend((0..n).filter(|&i| !placed[i]));
        let mut rank = vec![0; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }

        Self {
            plan,
            deps,
            unknown_dep,
            duplicate,
            order,
            rank,
        }
    }

    /// The position of the step with this id (the first, if a broken plan repeats it).
    fn position(&self, id: &str) -> usize {
        self.plan
            .steps
            .iter()
            .position(|s| s.id == id)
            .expect("ids reported by the scheduler are the plan's")
    }

    /// Statuses before anything runs: done work stays done, and the steps a broken plan makes
    /// impossible are skipped up front with the reason.
    fn initial_status(&self, already_done: &BTreeSet<String>) -> Vec<Status> {
        let n = self.plan.steps.len();
        let mut status: Vec<Status> = (0..n)
            .map(|i| {
                let step = &self.plan.steps[i];
                if already_done.contains(&step.id) {
                    Status::AlreadyDone
                } else if self.duplicate[i] {
                    Status::Skipped(format!("an earlier step also has the id {:?}", step.id))
                } else if let Some(d) = self.unknown_dep[i] {
                    Status::Skipped(format!("depends on {d}, which is not in the plan"))
                } else {
                    Status::Pending
                }
            })
            .collect();
        // A cycle through a step that is already done is no obstacle: it is done. Only cycles
        // of steps still to run can never start.
        let blocks = |j: usize, status: &[Status]| status[j] == Status::Pending;
        let in_cycle: Vec<Option<usize>> = (0..n)
            .map(|i| {
                if !blocks(i, &status) {
                    return None;
                }
                self.deps[i]
                    .iter()
                    .copied()
                    .find(|&d| blocks(d, &status) && self.reaches(d, i, &status))
            })
            .collect();
        for (i, via) in in_cycle.into_iter().enumerate() {
            if let Some(d) = via {
                let dep = &self.plan.steps[d].id;
                status[i] =
                    Status::Skipped(format!("depends on {dep}, which is in a dependency cycle"));
            }
        }
        status
    }

    /// Whether `to` can be reached from `from` along dependencies on pending steps.
    fn reaches(&self, from: usize, to: usize, status: &[Status]) -> bool {
        let mut seen = vec![false; self.plan.steps.len()];
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            if i == to {
                return true;
            }
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            stack.extend(
                self.deps[i]
                    .iter()
                    .copied()
                    .filter(|&d| status[d] == Status::Pending),
            );
        }
        false
    }

    /// Skips every pending step whose dependency failed or was skipped, repeating until
    /// nothing changes so that dependents of dependents go too. A skipped step passes on its
    /// own reason, so the whole chain names the step that actually failed.
    fn skip_dependents_of_failures(&self, status: &mut [Status]) {
        loop {
            let mut changed = false;
            for i in 0..status.len() {
                if status[i] != Status::Pending {
                    continue;
                }
                let why = self.deps[i].iter().find_map(|&d| match &status[d] {
                    Status::Failed => Some(format!(
                        "depends on {}, which failed",
                        self.plan.steps[d].id
                    )),
                    Status::Skipped(why) => Some(why.clone()),
                    _ => None,
                });
                if let Some(why) = why {
                    status[i] = Status::Skipped(why);
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// Rules 1 and 2: the step's dependencies are done, and no running step and no earlier
    /// unfinished step shares a file with it.
    fn can_start(&self, i: usize, status: &[Status]) -> bool {
        status[i] == Status::Pending
            && self.deps[i]
                .iter()
                .all(|&d| status[d].satisfies_dependents())
            && !(0..status.len()).any(|j| {
                j != i
                    && (status[j] == Status::Running
                        || (status[j].unfinished() && self.rank[j] < self.rank[i]))
                    && share_files(&self.plan.steps[i], &self.plan.steps[j])
            })
    }
}

/// Whether two steps may edit the same file. No files listed means "could be anything".
fn share_files(a: &Step, b: &Step) -> bool {
    a.files.is_empty()
        || b.files.is_empty()
        || a.files
            .iter()
            .any(|x| b.files.iter().any(|y| paths_overlap(x, y)))
}

/// Equal paths, or one a directory holding the other, compared by whole path components.
fn paths_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (normalize(a), normalize(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    // An empty path is the repository root (`.` or `./`), which holds everything.
    short.is_empty()
        || long == short
        || long
            .strip_prefix(short)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Drops spellings that name the same path differently: `./src/` is `src`.
fn normalize(path: &str) -> &str {
    let path = path.trim().trim_start_matches("./").trim_end_matches('/');
    if path == "." { "" } else { path }
}

/// Waits for running steps to finish and takes every one that has out of `running`: one
/// batch, in start order.
///
/// This polls every running step on each wake-up instead of only the woken one (as
/// `FuturesUnordered` would): at most `max_parallel` steps, each a long agent session, make
/// that cost nothing, and it keeps `futures-util` out of the runtime dependencies. Polling in
/// start order makes the result deterministic when several are ready at once.
async fn next_finished<Fut: Future>(
    running: &mut Vec<(usize, Pin<Box<Fut>>)>,
) -> Vec<(usize, Fut::Output)> {
    std::future::poll_fn(|cx| {
        let mut batch = Vec::new();
        let mut k = 0;
        while k < running.len() {
            if let Poll::Ready(out) = running[k].1.as_mut().poll(cx) {
                let (i, _) = running.remove(k);
                batch.push((i, out));
            } else {
                k += 1;
            }
        }
        if batch.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(batch)
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::implement::plan::fixtures::{plan, step};

    fn done(ids: &[&str]) -> BTreeSet<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    /// A fake step runner that records what a user would see of the run: which steps
    /// started and ended, in order, and how many ran at once.
    #[derive(Default)]
    struct Probe {
        running: AtomicUsize,
        most_at_once: AtomicUsize,
        log: Mutex<Vec<String>>,
        /// Steps that report failure instead of success.
        failing: BTreeSet<String>,
        /// Steps that fail the first time they run and succeed after.
        fail_once: Mutex<BTreeSet<String>>,
    }

    impl Probe {
        fn failing(ids: &[&str]) -> Self {
            Self {
                failing: done(ids),
                ..Self::default()
            }
        }

        async fn run_step(&self, step: Step) -> StepResult {
            let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_at_once.fetch_max(now, Ordering::SeqCst);
            self.log.lock().unwrap().push(format!("start {}", step.id));
            // Hand control back a few times so that any step the scheduler started alongside
            // this one gets polled while this one is still running.
            for _ in 0..5 {
                tokio::task::yield_now().await;
            }
            self.running.fetch_sub(1, Ordering::SeqCst);
            self.log.lock().unwrap().push(format!("end {}", step.id));
            if self.failing.contains(&step.id) || self.fail_once.lock().unwrap().remove(&step.id) {
                StepResult::Failed(format!("{} broke the build", step.id))
            } else {
                StepResult::Done
            }
        }

        fn most_at_once(&self) -> usize {
            self.most_at_once.load(Ordering::SeqCst)
        }

        fn log(&self) -> Vec<String> {
            self.log.lock().unwrap().clone()
        }

        fn started(&self) -> Vec<String> {
            self.log()
                .iter()
                .filter_map(|e| e.strip_prefix("start ").map(str::to_string))
                .collect()
        }

        /// Where `event` is in the log; panics with the log when it is missing.
        fn at(&self, event: &str) -> usize {
            let log = self.log();
            log.iter()
                .position(|e| e == event)
                .unwrap_or_else(|| panic!("{event:?} is not in {log:?}"))
        }
    }

    /// Runs `plan` with `probe` as the step runner, failing the test instead of hanging.
    async fn run_with(
        probe: &Probe,
        plan: &Plan,
        already_done: &BTreeSet<String>,
        max_parallel: usize,
    ) -> DagReport {
        let cancel = CancellationToken::new();
        let run = run(plan, already_done, max_parallel, &cancel, |s| {
            probe.run_step(s)
        });
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the scheduler hung")
    }

    fn sorted(mut ids: Vec<String>) -> Vec<String> {
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn independent_steps_run_together_up_to_the_bound() {
        let p = plan(
            (1..=5)
                .map(|i| step(&format!("s{i}"), &[&format!("f{i}.rs")], &[]))
                .collect(),
        );
        for (max_parallel, expected) in [(3, 3), (8, 5), (1, 1), (0, 1)] {
            let probe = Probe::default();
            let report = run_with(&probe, &p, &done(&[]), max_parallel).await;
            assert!(report.all_done(), "{report:?}");
            assert_eq!(sorted(report.done), ["s1", "s2", "s3", "s4", "s5"]);
            assert_eq!(
                probe.most_at_once(),
                expected,
                "max_parallel {max_parallel}"
            );
            assert_eq!(probe.started(), ["s1", "s2", "s3", "s4", "s5"]);
        }
    }

    #[tokio::test]
    async fn steps_sharing_a_file_run_one_after_the_other_in_plan_order() {
        let p = plan(vec![
            step("a", &["src/lib.rs", "README.md"], &[]),
            step("b", &["src/main.rs"], &[]),
            step("c", &["README.md"], &[]),
            step("d", &["src/main.rs", "docs/x.md"], &[]),
        ]);
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&[]), 4).await;
        assert!(report.all_done(), "{report:?}");
        // a and b are disjoint, so they overlap; c waits for a, d waits for b.
        assert_eq!(probe.most_at_once(), 2);
        assert!(probe.at("end a") < probe.at("start c"), "{:?}", probe.log());
        assert!(probe.at("end b") < probe.at("start d"), "{:?}", probe.log());
    }

    #[tokio::test]
    async fn a_directory_shares_with_the_files_under_it() {
        let p = plan(vec![
            step("dir", &["src/"], &[]),
            step("file", &["src/a.rs"], &[]),
            step("bare_dir", &["./src"], &[]),
        ]);
        let probe = Probe::default();
        run_with(&probe, &p, &done(&[]), 3).await;
        assert_eq!(probe.most_at_once(), 1);
        assert_eq!(
            probe.log(),
            [
                "start dir",
                "end dir",
                "start file",
                "end file",
                "start bare_dir",
                "end bare_dir"
            ]
        );

        // A common string prefix is not a common directory.
        let p = plan(vec![
            step("a", &["src"], &[]),
            step("b", &["src2/a.rs"], &[]),
        ]);
        let probe = Probe::default();
        run_with(&probe, &p, &done(&[]), 2).await;
        assert_eq!(probe.most_at_once(), 2);
    }

    #[tokio::test]
    async fn a_step_without_files_runs_alone_in_plan_order() {
        let p = plan(vec![
            step("a", &["a.rs"], &[]),
            step("anything", &[], &[]),
            step("c", &["c.rs"], &[]),
        ]);
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&[]), 3).await;
        assert_eq!(report.done, ["a", "anything", "c"]);
        assert_eq!(probe.most_at_once(), 1);
        assert_eq!(
            probe.log(),
            [
                "start a",
                "end a",
                "start anything",
                "end anything",
                "start c",
                "end c"
            ]
        );
    }

    #[tokio::test]
    async fn a_step_starts_only_after_its_dependencies_ended() {
        let p = plan(vec![
            step("model", &["src/model.rs"], &[]),
            step("api", &["src/api.rs"], &["model"]),
            step("cli", &["src/cli.rs"], &["model"]),
            step("docs", &["README.md"], &["api", "cli"]),
        ]);
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&[]), 4).await;
        assert!(report.all_done(), "{report:?}");
        assert!(probe.at("end model") < probe.at("start api"));
        assert!(probe.at("end model") < probe.at("start cli"));
        assert!(probe.at("end api") < probe.at("start docs"));
        assert!(probe.at("end cli") < probe.at("start docs"));
        // api and cli do not depend on each other and touch different files.
        assert_eq!(probe.most_at_once(), 2);
    }

    #[tokio::test]
    async fn file_order_follows_dependencies_when_the_plan_lists_a_dependent_first() {
        // Listed first but depends on `schema`, with which it shares a file: position alone
        // would make each wait for the other.
        let p = plan(vec![
            step("use", &["src/db.rs"], &["schema"]),
            step("schema", &["src/db.rs"], &[]),
        ]);
        assert_eq!(p.check(), Ok(()));
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&[]), 2).await;
        assert_eq!(report.done, ["schema", "use"]);
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_nothing_else() {
        let p = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &["a"]),
            step("c", &["c.rs"], &["b"]),
            step("d", &["d.rs"], &[]),
            step("e", &["e.rs"], &["d"]),
        ]);
        let probe = Probe::failing(&["a"]);
        let report = run_with(&probe, &p, &done(&[]), 2).await;
        assert!(!report.all_done());
        assert_eq!(
            report.failed,
            [("a".to_string(), "a broke the build".to_string())]
        );
        assert_eq!(
            report.skipped,
            [
                ("b".to_string(), "depends on a, which failed".to_string()),
                ("c".to_string(), "depends on a, which failed".to_string()),
            ]
        );
        assert_eq!(sorted(report.done), ["d", "e"]);
        assert_eq!(sorted(probe.started()), ["a", "d", "e"]);
    }

    #[tokio::test]
    async fn steps_done_before_a_crash_are_not_redone_and_satisfy_dependents() {
        let p = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &["a"]),
            step("c", &["a.rs"], &[]),
        ]);
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&["a"]), 2).await;
        assert!(report.all_done(), "{report:?}");
        assert_eq!(sorted(report.done), ["b", "c"]);
        assert_eq!(sorted(probe.started()), ["b", "c"]);
        // With `a` done, nothing holds c back on a.rs.
        assert_eq!(probe.most_at_once(), 2);
    }

    #[tokio::test]
    async fn cancelling_starts_nothing_new_and_lets_running_steps_finish() {
        let p = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &[]),
            step("c", &["c.rs"], &[]),
            step("d", &["d.rs"], &["a"]),
        ]);
        let probe = Probe::default();
        let cancel = CancellationToken::new();
        let nothing_done = done(&[]);
        let report = run(&p, &nothing_done, 2, &cancel, |s| {
            let (probe, cancel) = (&probe, &cancel);
            async move {
                match s.id.as_str() {
                    // `/orion stop` arrives while a is running; a finishes its work anyway.
                    "a" => {
                        cancel.cancel();
                        probe.run_step(s).await
                    }
                    // b watches the token, as the real step runner does, and ends early.
                    "b" => {
                        cancel.cancelled().await;
                        StepResult::Failed("stopped by /orion stop".into())
                    }
                    _ => probe.run_step(s).await,
                }
            }
        });
        let report = tokio::time::timeout(Duration::from_secs(30), report)
            .await
            .expect("the scheduler hung");
        assert_eq!(report.done, ["a"]);
        assert_eq!(
            report.failed,
            [("b".to_string(), "stopped by /orion stop".to_string())]
        );
        assert_eq!(report.cancelled, ["c", "d"]);
        assert!(report.skipped.is_empty());
        assert_eq!(probe.started(), ["a"]);

        // Already cancelled (shutdown came first): nothing starts at all.
        let probe = Probe::default();
        let report = run(&p, &done(&["a"]), 2, &cancel, |s| probe.run_step(s)).await;
        assert_eq!(report.cancelled, ["b", "c", "d"]);
        assert!(report.done.is_empty() && report.failed.is_empty());
        assert!(probe.log().is_empty());
    }

    #[tokio::test]
    async fn a_broken_plan_ends_with_the_impossible_steps_skipped() {
        let p = plan(vec![
            step("a", &["a.rs"], &["b"]),
            step("b", &["b.rs"], &["a"]),
            step("c", &["c.rs"], &["a"]),
            step("self", &["s.rs"], &["self"]),
            step("ghost", &["g.rs"], &["nowhere"]),
            step("after_ghost", &["h.rs"], &["ghost"]),
            step("twice", &["t.rs"], &[]),
            step("twice", &["u.rs"], &[]),
            step("fine", &["f.rs"], &[]),
        ]);
        assert!(p.check().is_err());
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&[]), 4).await;
        assert_eq!(sorted(report.done), ["fine", "twice"]);
        let skipped: Vec<(&str, &str)> = report
            .skipped
            .iter()
            .map(|(id, why)| (id.as_str(), why.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                ("a", "depends on b, which is in a dependency cycle"),
                ("b", "depends on a, which is in a dependency cycle"),
                ("c", "depends on b, which is in a dependency cycle"),
                ("self", "depends on self, which is in a dependency cycle"),
                ("ghost", "depends on nowhere, which is not in the plan"),
                (
                    "after_ghost",
                    "depends on nowhere, which is not in the plan"
                ),
                ("twice", "an earlier step also has the id \"twice\""),
            ]
        );
        assert_eq!(sorted(probe.started()), ["fine", "twice"]);
    }

    #[tokio::test]
    async fn a_cycle_through_a_done_step_is_no_obstacle() {
        let p = plan(vec![
            step("a", &["a.rs"], &["b"]),
            step("b", &["b.rs"], &["a"]),
        ]);
        let probe = Probe::default();
        let report = run_with(&probe, &p, &done(&["a"]), 2).await;
        assert_eq!(report.done, ["b"]);
        assert!(report.all_done(), "{report:?}");
    }

    #[tokio::test]
    async fn the_run_can_be_spawned_when_the_steps_can() {
        fn assert_send<T: Send>(value: T) -> T {
            value
        }
        let p = plan(vec![step("a", &["a.rs"], &[])]);
        let (already_done, cancel) = (done(&[]), CancellationToken::new());
        let report = assert_send(run(&p, &already_done, 1, &cancel, |_| async {
            StepResult::Done
        }))
        .await;
        assert_eq!(report.done, ["a"]);
    }

    /// Runs `plan` with a checkpoint that records what it is shown and answers with `decide`.
    async fn run_checked(
        probe: &Probe,
        plan: &Plan,
        already_done: &BTreeSet<String>,
        max_parallel: usize,
        mut decide: impl FnMut(&Batch<'_>) -> Decision,
    ) -> (DagReport, Vec<String>) {
        let cancel = CancellationToken::new();
        let mut seen = Vec::new();
        let run = run_with_checkpoints(
            plan,
            already_done,
            max_parallel,
            &cancel,
            |s| probe.run_step(s),
            |batch| {
                let ids: Vec<&str> = batch.finished.iter().map(|(id, _)| id.as_str()).collect();
                seen.push(format!(
                    "{} ({} ok, {} failed)",
                    ids.join("+"),
                    batch.succeeded,
                    batch.failed
                ));
                decide(batch)
            },
        );
        let report = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .expect("the scheduler hung");
        (report, seen)
    }

    #[tokio::test]
    async fn a_checkpoint_sees_every_batch_with_the_tally_including_work_done_before() {
        let probe = Probe::failing(&["b"]);
        let plan = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &[]),
            step("c", &["c.rs"], &["a"]),
            step("d", &["d.rs"], &[]),
        ]);
        let (report, seen) =
            run_checked(&probe, &plan, &done(&["d"]), 1, |_| Decision::default()).await;
        assert_eq!(
            seen,
            [
                "a (2 ok, 0 failed)",
                "b (2 ok, 1 failed)",
                "c (3 ok, 1 failed)"
            ]
        );
        assert_eq!(
            report.failed,
            [("b".to_string(), "b broke the build".to_string())]
        );
        assert!(report.retried.is_empty() && report.replan.is_none());
    }

    #[tokio::test]
    async fn steps_finishing_together_make_one_batch() {
        let probe = Probe::default();
        let plan = plan(vec![step("a", &["a.rs"], &[]), step("b", &["b.rs"], &[])]);
        let (_, seen) = run_checked(&probe, &plan, &done(&[]), 2, |_| Decision::default()).await;
        assert_eq!(seen, ["a+b (2 ok, 0 failed)"]);
    }

    #[tokio::test]
    async fn a_retried_step_runs_again_and_its_dependents_wait_for_it() {
        let probe = Probe::default();
        probe.fail_once.lock().unwrap().insert("a".into());
        let plan = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &["a"]),
        ]);
        let (report, seen) = run_checked(&probe, &plan, &done(&[]), 2, |batch| Decision {
            retry: batch
                .finished
                .iter()
                .filter(|(_, r)| *r != StepResult::Done)
                .map(|(id, _)| id.clone())
                .collect(),
            replan: None,
        })
        .await;
        assert_eq!(probe.started(), ["a", "a", "b"]);
        assert_eq!(report.retried, ["a"]);
        assert!(report.all_done(), "{report:?}");
        assert_eq!(report.done, ["a", "b"]);
        assert_eq!(
            seen,
            [
                "a (0 ok, 1 failed)",
                "a (1 ok, 0 failed)",
                "b (2 ok, 0 failed)"
            ]
        );
    }

    #[tokio::test]
    async fn a_replan_stops_new_steps_lets_running_ones_finish_and_defers_the_rest() {
        let probe = Probe::failing(&["a"]);
        let plan = plan(vec![
            step("a", &["a.rs"], &[]),
            step("b", &["b.rs"], &[]),
            step("c", &["c.rs"], &["a"]),
            step("d", &["d.rs"], &[]),
        ]);
        // Two at a time: `a` and `b` start together; `a` fails while `b` still runs.
        let (report, _) = run_checked(&probe, &plan, &done(&[]), 2, |batch| Decision {
            retry: vec!["a".into()],
            replan: (batch.failed > 0).then(|| "too many failures".to_string()),
        })
        .await;
        assert_eq!(report.replan.as_deref(), Some("too many failures"));
        assert_eq!(
            sorted(probe.started()),
            ["a", "b"],
            "nothing new after the stop"
        );
        assert_eq!(report.done, ["b"]);
        assert_eq!(report.failed.len(), 1, "a replan overrides a retry");
        assert!(report.retried.is_empty());
        assert_eq!(report.deferred, ["d"]);
        assert_eq!(
            report.skipped,
            [("c".to_string(), "depends on a, which failed".to_string())]
        );
        assert!(!report.all_done());
    }
}
