//! The heartbeat scan end to end: a stuck task runs again, a task blocked too long gets one
//! reminder, and a later scan repeats neither.

use std::time::Duration;

use orion_bot::queue::{NewJob, Queue};
use serde_json::json;

use crate::implement::{REPO, World, finish, review_clean, write};
use crate::review::{findings, orions_red_pull, reports};
use crate::support::{now_ms, wait_until};

pub(crate) async fn heartbeat(w: &World, tick: i64) {
    let job = NewJob::new(
        "heartbeat",
        &json!({ "tick": tick }),
        format!("heartbeat:{tick}"),
        3,
    )
    .unwrap();
    Queue::new(w.app.store().clone())
        .enqueue(&[job])
        .await
        .unwrap();
    wait_until(Duration::from_secs(30), || async {
        w.app.jobs().await.iter().any(|j| {
            j.kind == "heartbeat" && j.payload.contains(&tick.to_string()) && j.state == "done"
        })
    })
    .await;
}

#[tokio::test]
async fn a_scan_resumes_a_stuck_task_and_reminds_people_of_a_long_blocked_one_once() {
    let w = World::start_with(|c| c.heartbeat.escalate_to = Some("@octo/maintainers".into())).await;
    let store = w.app.store().clone();

    // A task blocked three hours ago.
    let blocked = w
        .github
        .issue(REPO, "bob", "Make them green", "Green, please.");
    // carol owns it now: she is the one to ask.
    w.github.assign(REPO, blocked, "carol");
    sqlx::query(
        "INSERT INTO tasks (repo, issue, installation, state, requested_by, title, detail, created_at, updated_at, finished_at)
         VALUES ($1, $2, $4, 'blocked', 'bob', 'Make them green', 'Both models gave up on the colour step.', $3, $3, $3)",
    )
    .bind(REPO)
    .bind(blocked as i64)
    .bind(now_ms() - 3 * 3_600_000)
    .bind(w.installation as i64)
    .execute(store.pool())
    .await
    .unwrap();
    // A task queued an hour ago whose job was lost: nothing runs it.
    let n = w.red_issue();
    sqlx::query(
        "INSERT INTO tasks (repo, issue, installation, state, requested_by, title, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 'alice', 'Widgets should be red', $4, $4)",
    )
    .bind(REPO)
    .bind(n as i64)
    .bind(w.installation as i64)
    .bind(now_ms() - 3_600_000)
    .execute(store.pool())
    .await
    .unwrap();
    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);

    heartbeat(&w, 1).await;
    w.wait_for_pull().await;
    let reminders: Vec<String> = w
        .github
        .comments(REPO, blocked)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].starts_with("@carol @octo/maintainers: this task has been blocked for 3 h")
            && reminders[0].contains("Both models gave up")
            && reminders[0].contains("`/orion retry`"),
        "{}",
        reminders[0]
    );

    // The next scan: nothing stuck, the reminder already given.
    w.app.drain().await;
    heartbeat(&w, 2).await;
    w.app.drain().await;
    assert_eq!(w.github.comments(REPO, blocked).len(), 1);
    assert_eq!(w.github.pulls(REPO).len(), 1);
    let implement_runs = w
        .app
        .jobs()
        .await
        .iter()
        .filter(|j| j.kind == "implement")
        .count();
    assert_eq!(implement_runs, 1);
}

/// alice's issue asking for red widgets, labelled `orion` by her while Orion was down (no
/// webhook), with the run that makes them red scripted; its number.
fn labelled_red_issue(w: &World) -> u64 {
    let n = w.red_issue();
    w.github.label(REPO, n, "orion", "alice");
    w.model.script(
        "implement",
        [write("src/colour.txt", "red\n"), finish("red")],
    );
    w.model.script("review", [review_clean()]);
    n
}

/// The scan's GitHub requests from `from` on: (list reads, of them answered 304).
fn list_reads(w: &World, from: usize) -> (usize, usize) {
    let requests = w.github.requests();
    let lists: Vec<_> = requests[from..]
        .iter()
        .filter(|r| {
            r.method == "GET"
                && (r.path.ends_with("/issues")
                    || r.path.ends_with("/pulls")
                    || r.path.ends_with("/check-runs")
                    || r.path.ends_with("/status")
                    || r.path == "/app/installations"
                    || r.path == "/installation/repositories")
        })
        .collect();
    let not_modified = lists.iter().filter(|r| r.status == 304).count();
    (lists.len(), not_modified)
}

#[tokio::test]
async fn a_scan_starts_a_labelled_issue_whose_webhook_was_lost_and_reviews_a_waiting_pull_once() {
    let w = World::start().await;
    // Labelled by alice (write access) while Orion was down: no webhook ever arrives.
    let n = labelled_red_issue(&w);
    // Labelled by mallory, who may not spend the team's budget.
    let uninvited = w.github.issue(REPO, "mallory", "Make it purple", "Purple!");
    w.github.label(REPO, uninvited, "orion", "mallory");
    // bob's pull request, opened while Orion was down.
    w.widgets
        .commit_on("shades", &[("src/shade.txt", "light\n")], "Add shades");
    let human = w
        .github
        .open_pull(REPO, "bob", "shades", "main", "Shades", "Adds shades.");
    // One review each for bob's pull request and, once open, Orion's own.
    w.model
        .script("pull_review", [review_clean(), review_clean()]);

    heartbeat(&w, 1).await;
    wait_until(Duration::from_secs(120), || async {
        w.github.pulls(REPO).len() == 2 && !w.github.comments(REPO, human).is_empty()
    })
    .await;
    w.app.drain().await;
    assert!(
        w.github
            .reactions(REPO, n)
            .iter()
            .any(|(_, content)| content == "eyes"),
        "the start is acknowledged on the issue"
    );
    assert!(w.github.comments(REPO, uninvited).is_empty());
    let orion_pull = w
        .github
        .pulls(REPO)
        .into_iter()
        .find(|p| p.number != human)
        .expect("Orion's pull request");
    assert_eq!(w.pushed_file(&orion_pull.head, "src/colour.txt"), "red\n");

    // Later scans start nothing and review nothing again, and on an idle repository every
    // list read is answered 304 Not Modified.
    heartbeat(&w, 2).await;
    w.app.drain().await;
    assert_eq!(
        w.model.requests("pull_review").len(),
        2,
        "both heads reviewed"
    );
    // The labelled-issue list is asked for `since` the newest issue seen: the pipeline's
    // comments moved it, so one more scan reads it afresh; from then on the repository is idle.
    heartbeat(&w, 3).await;
    w.app.drain().await;
    let before = w.github.requests().len();
    let quota = w.github.rate_used(w.installation);
    heartbeat(&w, 4).await;
    w.app.drain().await;
    let (lists, not_modified) = list_reads(&w, before);
    // The App's installations, the installation's repositories, labelled issues, open pull
    // requests, and the check runs and commit statuses of Orion's one open pull request.
    assert_eq!(lists, 6, "the scan read its lists");
    assert_eq!(not_modified, lists, "an idle repository costs no quota");
    let spent: Vec<_> = w.github.requests()[before..]
        .iter()
        .filter(|r| r.status != 304)
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect();
    assert_eq!(w.github.rate_used(w.installation), quota, "{spent:?}");
    let kinds: Vec<String> = w.app.jobs().await.into_iter().map(|j| j.kind).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "implement").count(), 1);
    assert_eq!(
        w.model.requests("pull_review").len(),
        2,
        "no head is reviewed twice"
    );
    let summaries = w.github.comments(REPO, human);
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(
        summaries[0].body.contains("No new findings"),
        "{}",
        summaries[0].body
    );
    assert!(w.github.comments(REPO, uninvited).is_empty());
}

/// Orion's comments on pull request `n` that start with `start`.
fn said(w: &World, n: u64, start: &str) -> Vec<String> {
    w.github
        .comments(REPO, n)
        .into_iter()
        .map(|c| c.body)
        .filter(|b| b.starts_with(start))
        .collect()
}

#[tokio::test]
async fn a_failing_check_on_orions_pull_request_gets_a_fix_offered_once_per_head() {
    let w = World::start().await;
    let (n, branch) = orions_red_pull(&w).await;
    w.model.fallback("pull_review", findings(vec![]));
    reports(&w, "ci", &branch, "tests", "failure", "1 test failed");
    reports(&w, "ci", &branch, "lint", "neutral", "2 warnings");

    heartbeat(&w, 1).await;
    heartbeat(&w, 2).await;
    w.app.drain().await;
    let offers = said(&w, n, "The failing check [`tests`](");
    assert_eq!(offers.len(), 1, "{offers:?}");
    let head = w.widgets.branch_sha(&branch).unwrap();
    assert!(offers[0].contains(&head[..7]), "{}", offers[0]);
    assert!(offers[0].contains("`/orion fix`"), "{}", offers[0]);
    assert!(!offers[0].contains("lint"), "a neutral check is no failure");
    assert!(
        !w.app.jobs().await.iter().any(|j| j.kind == "fix"),
        "offered, not run"
    );
}

#[tokio::test]
async fn in_fix_mode_failing_checks_get_a_bounded_number_of_fix_rounds_then_a_human() {
    let w = World::start_with(|c| {
        c.heartbeat.failing_checks = orion_bot::heartbeat::config::FailingChecks::Fix;
        c.heartbeat.fix_rounds = 1;
    })
    .await;
    let (n, branch) = orions_red_pull(&w).await;
    w.model.fallback("pull_review", findings(vec![]));
    reports(
        &w,
        "ci",
        &branch,
        "tests",
        "failure",
        "shade_is_listed failed",
    );
    w.model.script(
        "fix",
        [
            write("src/shade.txt", "crimson\n"),
            finish("Added src/shade.txt."),
        ],
    );

    heartbeat(&w, 1).await;
    wait_until(Duration::from_secs(60), || async {
        !said(&w, n, "Orion pushed `").is_empty()
    })
    .await;
    w.app.drain().await;
    assert_eq!(w.pushed_file(&branch, "src/shade.txt"), "crimson\n");

    // The new head fails too: the one round is spent, so a human is asked, once.
    reports(
        &w,
        "ci",
        &branch,
        "tests",
        "failure",
        "shade_is_listed failed again",
    );
    heartbeat(&w, 2).await;
    heartbeat(&w, 3).await;
    w.app.drain().await;
    let fixes = w
        .app
        .jobs()
        .await
        .into_iter()
        .filter(|j| j.kind == "fix")
        .count();
    assert_eq!(fixes, 1);
    let given_up = said(&w, n, "The failing check [`tests`](");
    assert_eq!(given_up.len(), 1, "{given_up:?}");
    assert!(
        given_up[0].contains("after 1 automatic fix round(s)"),
        "{}",
        given_up[0]
    );
}

#[tokio::test]
async fn a_red_budget_holds_a_labelled_issue_until_there_is_budget_again() {
    let w = World::start_with(|c| c.budgets.limits.daily_usd = Some(1.0)).await;
    let store = w.app.store().clone();
    // 96% of today's dollar is spent: past stop_at.
    sqlx::query(
        "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier, input_tokens,
                                output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd,
                                latency_ms, outcome)
         VALUES ($1, $2, $3, 'task:99', 'implement_step', 'strong', 'strategic', 1, 1, 0, 0, 960000000, 5, 'ok')",
    )
    .bind(now_ms())
    .bind(w.installation.to_string())
    .bind(REPO)
    .execute(store.pool())
    .await
    .unwrap();
    let n = labelled_red_issue(&w);

    heartbeat(&w, 1).await;
    w.app.drain().await;
    assert!(!w.app.jobs().await.iter().any(|j| j.kind == "implement"));
    assert!(w.github.comments(REPO, n).is_empty(), "held, not started");

    // The day rolls over (the spend no longer counts): the next tick finds the issue again.
    sqlx::query("DELETE FROM llm_calls WHERE task_id = 'task:99'")
        .execute(store.pool())
        .await
        .unwrap();
    w.model
        .fallback("pull_review", crate::review::findings(vec![]));
    heartbeat(&w, 2).await;
    w.wait_for_pull().await;
    assert_eq!(
        w.pushed_file(&w.github.pulls(REPO)[0].head, "src/colour.txt"),
        "red\n"
    );
}

#[tokio::test]
async fn a_task_restarted_too_often_without_progress_is_blocked_with_the_reason() {
    let w = World::start_with(|c| c.heartbeat.max_restarts = 2).await;
    let store = w.app.store().clone();
    let n = w.red_issue();
    let quiet_since = now_ms() - 3_600_000;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (repo, issue, installation, state, requested_by, title, created_at, updated_at)
         VALUES ($1, $2, $3, 'executing', 'alice', 'Widgets should be red', $4, $4) RETURNING id",
    )
    .bind(REPO)
    .bind(n as i64)
    .bind(w.installation as i64)
    .bind(quiet_since)
    .fetch_one(store.pool())
    .await
    .unwrap();
    // Two earlier ticks restarted it; both runs ended without moving it.
    for tick in [1, 2] {
        sqlx::query(
            "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, created_at, updated_at)
             VALUES ('implement', $1, $2, 'done', 1, 3, $3, $3, $3)",
        )
        .bind(json!({ "task_id": id }).to_string())
        .bind(format!("implement:{id}:heartbeat:{tick}"))
        .bind(quiet_since + tick * 60_000)
        .execute(store.pool())
        .await
        .unwrap();
    }

    heartbeat(&w, 3).await;
    w.app.drain().await;
    let (state, detail): (String, String) =
        sqlx::query_as("SELECT state, detail FROM tasks WHERE id = $1")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(state, "blocked");
    assert!(detail.contains("restarted this task 2 time(s)"), "{detail}");
    assert!(
        w.github
            .labels(REPO, n)
            .contains(&"orion:blocked".to_owned()),
        "{:?}",
        w.github.labels(REPO, n)
    );
    let runs = w
        .app
        .jobs()
        .await
        .into_iter()
        .filter(|j| j.kind == "implement")
        .count();
    assert_eq!(runs, 2, "not restarted a third time");
}

#[tokio::test]
async fn a_rate_limited_scan_says_so_and_the_next_tick_does_the_work() {
    let w = World::start().await;
    let n = labelled_red_issue(&w);
    w.model.fallback("pull_review", findings(vec![]));
    // GitHub's primary limit is spent for the next hour when the scan lists labelled issues.
    w.github.fail_next(
        "GET",
        &format!("/repos/{REPO}/issues"),
        crate::fake_github::Fault::PrimaryRateLimit {
            reset_in_secs: 3600,
        },
    );

    heartbeat(&w, 1).await;
    w.app.drain().await;
    assert!(w.github.comments(REPO, n).is_empty(), "nothing started");
    assert!(!w.app.jobs().await.iter().any(|j| j.kind == "implement"));

    heartbeat(&w, 2).await;
    w.wait_for_pull().await;
    assert_eq!(
        w.pushed_file(&w.github.pulls(REPO)[0].head, "src/colour.txt"),
        "red\n"
    );
}

#[tokio::test]
async fn each_automatic_fix_round_answers_for_its_own_head() {
    let w = World::start_with(|c| {
        c.heartbeat.failing_checks = orion_bot::heartbeat::config::FailingChecks::Fix;
    })
    .await;
    let (n, branch) = orions_red_pull(&w).await;
    w.model.fallback("pull_review", findings(vec![]));
    // Both rounds look and find nothing to change.
    w.model.script(
        "fix",
        [
            finish("The failure is in CI's cache, not the code."),
            finish("Still CI's cache."),
        ],
    );
    reports(&w, "ci", &branch, "tests", "failure", "cache miss");
    heartbeat(&w, 1).await;
    w.app.drain().await;

    // Someone pushes to the branch; the new head fails too: a second round, a second answer.
    w.widgets
        .commit_on(&branch, &[("NOTES.md", "cache\n")], "Notes");
    reports(&w, "ci", &branch, "tests", "failure", "cache miss again");
    heartbeat(&w, 2).await;
    w.app.drain().await;
    let answers = said(&w, n, "Orion looked at the failing check");
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert!(answers[1].contains("Still CI's cache."), "{}", answers[1]);
}

#[tokio::test]
async fn a_failing_commit_status_counts_like_a_failing_check() {
    let w = World::start().await;
    let (n, branch) = orions_red_pull(&w).await;
    w.model.fallback("pull_review", findings(vec![]));
    let head = w.widgets.branch_sha(&branch).unwrap();
    // A CI service on the older Statuses API: lint passed, the build failed, deploy pending.
    w.github
        .commit_status(REPO, &head, "ci/lint", "success", "Lint passed");
    w.github
        .commit_status(REPO, &head, "ci/build", "pending", "Building");
    w.github
        .commit_status(REPO, &head, "ci/build", "failure", "3 tests failed");
    w.github
        .commit_status(REPO, &head, "ci/deploy", "pending", "Waiting");

    heartbeat(&w, 1).await;
    w.app.drain().await;
    let offers = said(
        &w,
        n,
        "The failing check [`ci/build`](https://ci.example.com/job/",
    );
    assert_eq!(offers.len(), 1, "{:?}", w.github.comments(REPO, n));
    assert!(!offers[0].contains("ci/lint") && !offers[0].contains("ci/deploy"));
}
