//! The heartbeat scan end to end: a stuck task runs again, a task blocked too long gets one
//! reminder, and a later scan repeats neither.

use std::time::Duration;

use orion_bot::queue::{NewJob, Queue};
use serde_json::json;

use crate::implement::{REPO, World, finish, review_clean, write};
use crate::support::{now_ms, wait_until};

async fn heartbeat(w: &World, tick: i64) {
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
        reminders[0].starts_with("@bob @octo/maintainers: this task has been blocked for 3 h")
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
