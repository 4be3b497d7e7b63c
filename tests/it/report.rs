//! Standup reports as a team sees them: the text made from seeded tasks and ledger rows (checked
//! against expected files under `tests/it/snapshots/`), and the deliveries: one pinned GitHub
//! issue edited in place, one Linear comment edited in place, a Slack webhook retried when it
//! fails for a while, and each destination served on its own.
//!
//! To accept a changed report after reading the diff, run the test with `ORION_UPDATE_SNAPSHOTS=1`
//! and review the expected file in the commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use orion_bot::config::{Config, Secret, Secrets};
use orion_bot::forge::github::GitHubSecrets;
use orion_bot::queue::{NewJob, Queue};
use orion_bot::report::Destination::{self, GitHub, Linear, Slack};
use orion_bot::report::{Edition, render};
use orion_bot::store::Store;
use serde_json::json;

use crate::fake_github::FakeGitHub;
use crate::fake_linear::{FakeLinear, IssueHandle};
use crate::fake_slack::{Answer, FakeSlack};
use crate::support::{JobRow, SECRET, TestApp, fresh_store, wait_until};

const BERLIN: &str = "Europe/Berlin";

fn ms(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
        .timestamp_millis()
}

// ---- content ------------------------------------------------------------------------------

/// A week of work for acme, around Friday 2026-11-27 in Berlin (UTC+1): tasks finished on
/// different days, one mid-way, one blocked since Tuesday, one failed on Friday, one queued,
/// one waiting for an answer, one cancelled (never listed) and one done long ago (never
/// listed); model calls on both tiers, one just after midnight Berlin time (still Thursday in
/// UTC, so the UTC daily budget does not count it), one failed; two queued jobs and a dead one.
async fn seed(store: &Store) {
    let statements = [
        format!(
            "INSERT INTO tasks (id, repo, issue, state, requested_by, title, pr_number, pr_url, detail, created_at, updated_at, finished_at) VALUES
             (1, 'acme/widgets', 7, 'done', 'ann', 'Paint the widgets <red>', 12, 'https://github.com/acme/widgets/pull/12', NULL, {thu}, {fri_10}, {fri_10}),
             (2, 'acme/gears', 9, 'done', 'bob', 'Oil the gears', 13, 'https://github.com/acme/gears/pull/13', NULL, {tue}, {wed}, {wed}),
             (3, 'acme/widgets', 11, 'executing', 'ann', 'Add a *blue* option', NULL, NULL, NULL, {thu}, {fri_0730}, NULL),
             (4, 'acme/widgets', 14, 'blocked', 'bob', 'Make them green', NULL, NULL, 'Both models gave up on the colour step.\n\nAsk @bob which green.', {mon}, {tue}, {tue}),
             (5, 'acme/gears', 15, 'failed', 'cy', 'Reticulate splines', NULL, NULL, 'The test command failed 3 times: `cargo test` exited with 101.', {thu}, {fri_0930}, {fri_0930}),
             (6, 'acme/widgets', 16, 'queued', 'ann', 'Document the widgets', NULL, NULL, NULL, {fri_0600}, {fri_0600}, NULL),
             (7, 'acme/gears', 17, 'awaiting_input', 'dee', 'Faster gears', NULL, NULL, 'Which gear ratio do you want: 3:1 or 5:1?', {thu}, {thu}, NULL),
             (8, 'acme/gears', 18, 'cancelled', 'dee', 'Square gears', NULL, NULL, 'stopped by dee', {thu}, {fri_0930}, {fri_0930}),
             (9, 'acme/widgets', 3, 'done', 'ann', 'Ancient history', 2, 'https://github.com/acme/widgets/pull/2', NULL, {oct}, {oct}, {oct})",
            mon = ms("2026-11-23T09:00:00Z"),
            tue = ms("2026-11-24T09:00:00Z"),
            wed = ms("2026-11-25T15:00:00Z"),
            thu = ms("2026-11-26T09:00:00Z"),
            fri_0600 = ms("2026-11-27T06:00:00Z"),
            fri_0730 = ms("2026-11-27T07:30:00Z"),
            fri_0930 = ms("2026-11-27T09:30:00Z"),
            fri_10 = ms("2026-11-27T10:00:00Z"),
            oct = ms("2026-10-01T09:00:00Z"),
        ),
        // A Linear issue, implemented in acme/widgets.
        format!(
            "INSERT INTO tasks (id, repo, issue, state, requested_by, title, pr_number, pr_url, tracker, linear, created_at, updated_at, finished_at) VALUES
             (10, 'acme/widgets', 42, 'done', 'eve', 'Round the corners', 19, 'https://github.com/acme/widgets/pull/19', 'linear:ENG',
              '{{\"id\":\"9b2f\",\"identifier\":\"ENG-42\",\"url\":\"https://linear.app/acme/issue/ENG-42/round-the-corners\",\"team_key\":\"ENG\",\"branch_name\":null}}',
              {thu}, {fri_0930}, {fri_0930})",
            thu = ms("2026-11-26T09:00:00Z"),
            fri_0930 = ms("2026-11-27T09:30:00Z"),
        ),
        format!(
            "INSERT INTO task_steps (task_id, step_id, state, updated_at) VALUES
             (3, 'paint-doors', 'done', {a}), (3, 'paint-roof', 'running', {b}), (3, 'varnish', 'pending', {b})",
            a = ms("2026-11-27T06:30:00Z"),
            b = ms("2026-11-27T07:30:00Z"),
        ),
        format!(
            "INSERT INTO llm_calls (at, installation, repo, task_id, task_kind, model, tier, input_tokens,
                 output_tokens, cached_input_tokens, cache_write_tokens, cost_nusd, latency_ms, outcome) VALUES
             ({fri_0030}, 'acme', 'acme/widgets', 'task:1', 'implement', 'big-model', 'strategic', 12000, 1500, 3000, 0, 1500000000, 900, 'ok'),
             ({fri_0600}, 'acme', 'acme/widgets', 'task:3', 'implement', 'small-model', 'tactical', 4000, 800, 0, 0, 250000000, 300, 'ok'),
             ({fri_1200}, 'acme', 'acme/gears', 'task:5', 'implement', 'big-model', 'strategic', 20000, 2000, 0, 0, 2000000000, 30000, 'timeout'),
             ({wed}, 'acme', 'acme/gears', 'task:2', 'implement', 'big-model', 'strategic', 30000, 4000, 10000, 0, 3000000000, 1200, 'ok'),
             ({thu}, 'acme', 'acme/gears', 'task:7', 'triage', 'small-model', 'tactical', 1500, 200, 0, 0, 100000000, 200, 'ok')",
            fri_0030 = ms("2026-11-26T23:30:00Z"),
            fri_0600 = ms("2026-11-27T06:00:00Z"),
            fri_1200 = ms("2026-11-27T12:00:00Z"),
            wed = ms("2026-11-25T10:00:00Z"),
            thu = ms("2026-11-26T10:00:00Z"),
        ),
        format!(
            "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, last_error, created_at, updated_at) VALUES
             ('implement', '{{}}', 'seeded-1', 'queued', 0, 3, {a}, NULL, 0, 0),
             ('review', '{{}}', 'seeded-2', 'queued', 0, 3, {b}, NULL, 0, 0),
             ('implement', '{{}}', 'seeded-dead', 'dead', 3, 3, 0, 'the model said no', 0, 0)",
            a = ms("2026-11-27T15:40:00Z"),
            b = ms("2026-11-27T15:55:00Z"),
        ),
    ];
    for sql in statements {
        sqlx::query(&sql).execute(store.pool()).await.expect("seed");
    }
}

fn content_config() -> Config {
    let mut config = Config::default();
    config.heartbeat.time_zone = BERLIN.to_owned();
    config.budgets.limits.daily_usd = Some(2.5);
    config.budgets.limits.monthly_usd = Some(6.0);
    config.budgets.installations.insert(
        "globex".to_owned(),
        orion_bot::llm::BudgetLimits {
            daily_usd: Some(1.0),
            ..Default::default()
        },
    );
    config
}

fn snapshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(name)
}

/// Fails with a line-by-line diff unless `actual` is the expected file's text;
/// `ORION_UPDATE_SNAPSHOTS=1` writes it instead.
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    if std::env::var("ORION_UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); run with ORION_UPDATE_SNAPSHOTS=1 to write it from:\n{actual}",
            path.display()
        )
    });
    if expected == actual {
        return;
    }
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let diff = line_diff(&old, &new);
    panic!(
        "{name} differs from {} (- expected, + actual; ORION_UPDATE_SNAPSHOTS=1 accepts it):\n{diff}",
        path.display()
    );
}

/// The lines only in `old` (`-`) and only in `new` (`+`), with their line numbers, by a
/// longest-common-subsequence match, so an inserted line shows as one line.
fn line_diff(old: &[&str], new: &[&str]) -> String {
    // common[i][j]: the longest common subsequence of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            i += 1;
            j += 1;
        } else if j < new.len() && (i == old.len() || common[i][j + 1] >= common[i + 1][j]) {
            out.push_str(&format!("{:>4} + {}\n", j + 1, new[j]));
            j += 1;
        } else {
            out.push_str(&format!("{:>4} - {}\n", i + 1, old[i]));
            i += 1;
        }
    }
    out
}

async fn report_at(
    store: &Store,
    config: &Config,
    edition: Edition,
    at: &str,
) -> orion_bot::report::Report {
    let local = orion_bot::report::local_tick(config, ms(at)).unwrap();
    orion_bot::report::gather(store, config, edition, local)
        .await
        .unwrap()
}

#[tokio::test]
async fn reports_from_seeded_tasks_and_ledger_read_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path()).await;
    seed(&store).await;
    let config = content_config();
    let weekly_on = config.report.weekly_day().unwrap();

    // Friday 08:00 in Berlin.
    let at = orion_bot::report::local_tick(&config, ms("2026-11-27T07:00:00Z")).unwrap();
    assert_eq!(Edition::for_tick(&at, weekly_on), Edition::Morning);
    let morning = report_at(&store, &config, Edition::Morning, "2026-11-27T07:00:00Z").await;
    assert_snapshot("report-morning.md", &render::markdown(&morning, 20));

    // Thursday 17:00: yesterday's end of day.
    let at = orion_bot::report::local_tick(&config, ms("2026-11-26T16:00:00Z")).unwrap();
    assert_eq!(Edition::for_tick(&at, weekly_on), Edition::EndOfDay);
    let end_of_day = report_at(&store, &config, Edition::EndOfDay, "2026-11-26T16:00:00Z").await;
    assert_snapshot("report-end-of-day.md", &render::markdown(&end_of_day, 20));

    // Friday 17:00: the weekly summary, in both dialects, and cut to two tasks a section.
    let at = orion_bot::report::local_tick(&config, ms("2026-11-27T16:00:00Z")).unwrap();
    assert_eq!(Edition::for_tick(&at, weekly_on), Edition::Weekly);
    let weekly = report_at(&store, &config, Edition::Weekly, "2026-11-27T16:00:00Z").await;
    assert_snapshot("report-weekly.md", &render::markdown(&weekly, 20));
    let slack = render::slack_payload(&weekly, 20);
    assert_eq!(slack.as_object().unwrap().len(), 1, "{slack}");
    assert_snapshot("report-weekly.slack.txt", slack["text"].as_str().unwrap());
    assert_snapshot("report-weekly-short.md", &render::markdown(&weekly, 1));
    store.close().await;
}

// ---- delivery -------------------------------------------------------------------------------

const REPO: &str = "octo/ops";

/// Orion with GitHub (App) pointed at the fake and the reports going to `octo/ops`, and
/// optionally to a Linear issue and a Slack webhook.
struct Scene {
    github: FakeGitHub,
    linear: Option<(FakeLinear, IssueHandle)>,
    slack: Option<FakeSlack>,
    app: TestApp,
}

impl Scene {
    async fn start(to: &[Destination]) -> Self {
        let github = FakeGitHub::start().await;
        github.repo(REPO).file("README.md", "# Ops\n").create();
        github
            .repo("octo/widgets")
            .file("README.md", "# Widgets\n")
            .create();
        github.install("octo", &[REPO, "octo/widgets"]);
        let app_creds = github.app_credentials();
        let linear = match to.contains(&Linear) {
            true => {
                let fake = FakeLinear::start().await;
                let issue = fake.issue("ENG", "Standups", "Where Orion reports.");
                Some((fake, issue))
            }
            false => None,
        };
        let slack = match to.contains(&Slack) {
            true => Some(FakeSlack::start().await),
            false => None,
        };
        let secrets = Secrets {
            github_webhook: vec![Secret::new(SECRET)],
            github: GitHubSecrets {
                app_id: Some(app_creds.app_id.to_string()),
                app_private_key: Some(Secret::new(app_creds.private_key_pem)),
                token: None,
            },
            linear_api_key: linear.as_ref().map(|(f, _)| Secret::new(f.orion_key())),
            slack_webhook_url: slack.as_ref().map(|s| Secret::new(s.url())),
            ..Default::default()
        };
        let api_url = github.api_url().to_owned();
        let linear_target = linear
            .as_ref()
            .map(|(f, issue)| (f.api_url().to_owned(), issue.identifier.clone()));
        let to_github = to.contains(&GitHub);
        let app = TestApp::spawn_with_secrets(secrets, move |c| {
            c.github.api_url = api_url;
            c.github.retry_base_ms = 5;
            c.github.retry_max_ms = 50;
            c.heartbeat.time_zone = BERLIN.to_owned();
            c.queue.backoff_base_ms = 20;
            c.queue.backoff_max_secs = 1;
            c.report.slack_retry_base_ms = 5;
            c.report.slack_retry_max_ms = 20;
            if to_github {
                c.report.github_repo = Some(REPO.to_owned());
            }
            if let Some((url, issue)) = linear_target {
                c.linear.api_url = url;
                c.linear.retry_base_ms = 5;
                c.linear.retry_max_ms = 20;
                c.report.linear_issue = Some(issue);
            }
        })
        .await;
        Self {
            github,
            linear,
            slack,
            app,
        }
    }

    /// Runs the heartbeat job of tick `at` to its end (done, or dead) and returns it.
    async fn tick(&self, at: &str) -> JobRow {
        let tick = ms(at);
        let key = format!("heartbeat:{tick}");
        let job = NewJob::new("heartbeat", &json!({ "tick": tick }), key, 3).unwrap();
        Queue::new(self.app.store().clone())
            .enqueue(&[job])
            .await
            .unwrap();
        let finished = || async {
            self.app.jobs().await.into_iter().find(|j| {
                j.kind == "heartbeat"
                    && j.payload.contains(&tick.to_string())
                    && (j.state == "done" || j.state == "dead")
            })
        };
        wait_until(Duration::from_secs(30), || async {
            finished().await.is_some()
        })
        .await;
        finished().await.unwrap()
    }

    /// Runs the heartbeat job of tick `at`, which must end done.
    async fn tick_done(&self, at: &str) -> JobRow {
        let job = self.tick(at).await;
        assert_eq!(job.state, "done", "{:?}", job.last_error);
        job
    }

    fn writes(&self, method: &str, path: &str) -> usize {
        self.github
            .writes()
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count()
    }
}

/// A task Orion finished on Monday morning, so reports have something to say.
async fn finished_task(app: &TestApp) {
    sqlx::query(
        "INSERT INTO tasks (repo, issue, state, requested_by, title, pr_number, pr_url, created_at, updated_at, finished_at)
         VALUES ('octo/widgets', 3, 'done', 'alice', 'Widgets should be red', 4, 'https://github.com/octo/widgets/pull/4', $1, $1, $1)",
    )
    .bind(ms("2026-11-23T06:30:00Z"))
    .execute(app.store().pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn the_report_issue_is_opened_once_pinned_and_then_edited_in_place() {
    let s = Scene::start(&[GitHub]).await;
    finished_task(&s.app).await;

    // Monday 08:00 in Berlin.
    s.tick_done("2026-11-23T07:00:00Z").await;
    let issues = s.github.issues(REPO);
    assert_eq!(issues.len(), 1, "{issues:?}");
    let issue = &issues[0];
    assert_eq!(issue.title, "Orion standup");
    assert_eq!(issue.author, s.github.bot_login());
    assert!(issue.pinned, "pinned when opened");
    let body = issue.body.clone().unwrap();
    assert!(
        body.starts_with("## Orion morning standup · Mon 23 Nov 2026\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "- octo/widgets#3 Widgets should be red: [PR #4](https://github.com/octo/widgets/pull/4)"
        ),
        "{body}"
    );

    // Monday 17:00: the same issue says the end-of-day report; nothing new is opened or pinned.
    s.tick_done("2026-11-23T16:00:00Z").await;
    let issues = s.github.issues(REPO);
    assert_eq!(issues.len(), 1);
    let body = issues[0].body.clone().unwrap();
    assert!(
        body.starts_with("## Orion end-of-day standup · Mon 23 Nov 2026\n"),
        "{body}"
    );
    let issue_path = format!("/repos/{REPO}/issues/{}", issues[0].number);
    assert_eq!(s.writes("POST", &format!("/repos/{REPO}/issues")), 1);
    assert_eq!(s.writes("PATCH", &issue_path), 1);
    assert_eq!(s.writes("POST", "/graphql"), 1);

    // An admin deletes the issue: the next report opens (and pins) a new one.
    s.github.delete_issue(REPO, issues[0].number);
    s.tick_done("2026-11-24T07:00:00Z").await;
    let issues = s.github.issues(REPO);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert!(issues[0].pinned);
    assert!(
        issues[0]
            .body
            .as_deref()
            .unwrap()
            .starts_with("## Orion morning standup · Tue 24 Nov 2026\n")
    );
    assert_eq!(s.writes("POST", &format!("/repos/{REPO}/issues")), 2);
    assert!(
        s.github.unexpected().is_empty(),
        "{:?}",
        s.github.unexpected()
    );
}

#[tokio::test]
async fn a_refused_pin_leaves_the_report_delivered_and_unpinned() {
    let s = Scene::start(&[GitHub]).await;
    // The repository already pins three issues, GitHub's limit.
    for title in ["Roadmap", "Support", "Release plan"] {
        let n = s
            .github
            .issue(REPO, "octo", title, "Pinned by a maintainer.");
        s.github.pin(REPO, n);
    }
    s.tick_done("2026-11-23T11:00:00Z").await;
    let report = s
        .github
        .issues(REPO)
        .into_iter()
        .find(|i| i.title == "Orion standup")
        .expect("the report issue");
    assert!(!report.pinned);
    assert!(
        report
            .body
            .unwrap()
            .starts_with("## Orion midday standup · Mon 23 Nov 2026\n")
    );
    assert_eq!(s.writes("POST", "/graphql"), 1, "tried once, not retried");
}

#[tokio::test]
async fn the_linear_comment_is_edited_in_place_not_posted_again() {
    let s = Scene::start(&[Linear]).await;
    let (linear, issue) = s.linear.as_ref().unwrap();
    s.tick_done("2026-11-23T07:00:00Z").await;
    s.tick_done("2026-11-23T16:00:00Z").await;
    // Configured as ENG-1; the comment is on the issue whatever it is called.
    assert_eq!(issue.identifier, "ENG-1");
    let comments = linear.comments(&issue.id);
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert_eq!(comments[0].author, "orion");
    assert!(
        comments[0]
            .body
            .starts_with("## Orion end-of-day standup · Mon 23 Nov 2026\n"),
        "{}",
        comments[0].body
    );
    assert_eq!(linear.count("CommentCreate"), 1);
    assert_eq!(linear.count("CommentUpdate"), 1);
    // The heartbeat's sweep signs in as an installation (a token is minted), but nothing is
    // written to GitHub.
    let writes: Vec<_> = s
        .github
        .writes()
        .into_iter()
        .filter(|r| !r.path.ends_with("/access_tokens"))
        .collect();
    assert!(writes.is_empty(), "no GitHub destination: {writes:?}");
}

#[tokio::test]
async fn slack_gets_one_message_per_edition_and_day_through_500s_and_rate_limits() {
    let s = Scene::start(&[Slack]).await;
    let slack = s.slack.as_ref().unwrap();
    slack.script([Answer::status(500, "rollup_error"), Answer::rate_limited(1)]);

    s.tick_done("2026-11-23T07:00:00Z").await;
    let posts = slack.posts();
    assert_eq!(
        posts.iter().map(|p| p.status).collect::<Vec<_>>(),
        [500, 429, 200]
    );
    assert!(posts[2].content_type.starts_with("application/json"));
    assert_eq!(posts[2].body.as_object().unwrap().len(), 1, "only `text`");
    let messages = slack.messages();
    assert!(
        messages[0].starts_with("*Orion morning standup · Mon 23 Nov 2026*\n"),
        "{}",
        messages[0]
    );

    // Another morning tick the same day posts nothing; the midday one posts.
    s.tick_done("2026-11-23T08:00:00Z").await;
    assert_eq!(slack.messages().len(), 1);
    s.tick_done("2026-11-23T12:00:00Z").await;
    let messages = slack.messages();
    assert_eq!(messages.len(), 2);
    assert!(
        messages[1].starts_with("*Orion midday standup"),
        "{}",
        messages[1]
    );
}

#[tokio::test]
async fn a_refused_webhook_is_a_clear_error_and_github_still_gets_the_report() {
    let s = Scene::start(&[GitHub, Slack]).await;
    let slack = s.slack.as_ref().unwrap();
    slack.script([Answer::status(404, "no_service")]);

    let job = s.tick("2026-11-23T07:00:00Z").await;
    assert_eq!(
        job.state, "dead",
        "a revoked webhook will not come back by itself"
    );
    assert_eq!(job.attempts, 1);
    let error = job.last_error.unwrap();
    assert!(
        error.contains(
            "slack: the Slack webhook at 127.0.0.1 (ORION_SLACK_WEBHOOK_URL) refused the report: 404 no_service"
        ),
        "{error}"
    );
    assert!(
        !error.contains(slack.token()),
        "the URL is a secret: {error}"
    );
    assert_eq!(slack.posts().len(), 1, "a 404 is not retried");
    let issues = s.github.issues(REPO);
    assert_eq!(issues.len(), 1);
    assert!(
        issues[0]
            .body
            .as_deref()
            .unwrap()
            .starts_with("## Orion morning standup")
    );
}

#[tokio::test]
async fn a_retried_job_sends_only_to_the_destination_that_failed() {
    let s = Scene::start(&[GitHub, Slack]).await;
    let slack = s.slack.as_ref().unwrap();
    // Down for the whole first attempt (the first try and its three retries).
    slack.script((0..4).map(|_| Answer::status(503, "service_unavailable")));

    let job = s.tick_done("2026-11-23T07:00:00Z").await;
    assert_eq!(job.attempts, 2, "the first attempt failed on Slack");
    assert_eq!(
        slack.posts().iter().map(|p| p.status).collect::<Vec<_>>(),
        [503, 503, 503, 503, 200]
    );
    assert_eq!(slack.messages().len(), 1);
    assert_eq!(s.writes("POST", &format!("/repos/{REPO}/issues")), 1);
    let patches = s
        .github
        .writes()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 0, "GitHub had the report: the retry left it alone");
}

// ---- the command line -------------------------------------------------------------------------

#[tokio::test]
async fn orion_report_prints_the_report_or_says_where_to_send_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store(dir.path()).await;
    seed(&store).await;
    store.close().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_orion"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(
                "ORION_STORE__URL",
                format!("sqlite://{}", dir.path().join("orion.db").display()),
            )
            .env("ORION_HEARTBEAT__TIME_ZONE", BERLIN)
            .env("ORION_GIT__WORKDIR", dir.path().join("work"))
            .output()
            .unwrap()
    };
    let printed = run(&["report", "--weekly", "--print"]);
    let stdout = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    assert!(
        stdout.starts_with("## Orion weekly summary · week to "),
        "{stdout}"
    );
    assert!(stdout.contains("### Blocked (1)"), "{stdout}");
    assert!(
        stdout.contains("acme/widgets#14 Make them green: Both models gave up"),
        "{stdout}"
    );

    let standup = run(&["report", "--print"]);
    let stdout = String::from_utf8_lossy(&standup.stdout);
    assert!(standup.status.success());
    assert!(stdout.contains(" standup · "), "{stdout}");

    let nowhere = run(&["report"]);
    assert!(!nowhere.status.success());
    let stderr = String::from_utf8_lossy(&nowhere.stderr);
    assert!(
        stderr.contains("no report destination: set report.github_repo, report.linear_issue or ORION_SLACK_WEBHOOK_URL"),
        "{stderr}"
    );
}
