//! GitHub on a bad day: 5xx, rate limits, slow answers, and the errors that must not be retried.

use std::time::{Duration, Instant};

use orion_bot::event::IssueNumber;
use orion_bot::forge::github::{ForgeError, NewPullRequest};

use super::{REPO, World};
use crate::fake_github::{Fault, FaultPlan};

fn gets_of(w: &World, suffix: &str) -> usize {
    w.fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(suffix))
        .count()
}

#[tokio::test]
async fn reads_come_through_502s_and_secondary_rate_limits() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "Widgets are blue", "b");
    let path = format!("/issues/{n}");
    w.fake.fail_next("GET", &path, Fault::BadGateway);
    w.fake.fail_next("GET", &path, Fault::BadGateway);
    w.fake.fail_next(
        "GET",
        &path,
        Fault::SecondaryRateLimit {
            retry_after_secs: 1,
        },
    );
    let started = Instant::now();
    let issue = w.repo().issue(IssueNumber(n)).await.unwrap();
    assert_eq!(issue.title, "Widgets are blue");
    assert_eq!(gets_of(&w, &path), 4);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after is honoured"
    );
}

#[tokio::test]
async fn the_primary_rate_limit_is_waited_out_when_it_resets_soon_and_reported_when_not() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let path = format!("/issues/{n}");
    w.fake
        .fail_next("GET", &path, Fault::PrimaryRateLimit { reset_in_secs: 1 });
    w.repo().issue(IssueNumber(n)).await.unwrap();
    assert_eq!(gets_of(&w, &path), 2);

    // An hour away is longer than github.max_rate_limit_wait_s (5 s here): fail now, with the
    // reset, so the queue retries the job later instead of a worker sleeping for an hour.
    w.fake.fail_next(
        "GET",
        &path,
        Fault::PrimaryRateLimit {
            reset_in_secs: 3600,
        },
    );
    let err = w.repo().issue(IssueNumber(n)).await.unwrap_err();
    match &err {
        ForgeError::RateLimited {
            reset_in, message, ..
        } => {
            assert!(reset_in.as_secs() > 3000, "{reset_in:?}");
            assert!(message.contains("API rate limit exceeded"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_transient());
    assert_eq!(
        gets_of(&w, &path),
        3,
        "no request while waiting is pointless"
    );
}

#[tokio::test]
async fn a_hung_read_times_out_and_is_retried() {
    let w = World::start_with(|c| c.request_timeout_ms = 300).await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let path = format!("/issues/{n}");
    w.fake
        .fail_next("GET", &path, Fault::Slow(Duration::from_secs(3)));
    w.repo().issue(IssueNumber(n)).await.unwrap();
    assert_eq!(gets_of(&w, &path), 2);
}

#[tokio::test]
async fn github_down_for_good_fails_after_the_retries_with_a_clear_error() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    w.repo().issue(IssueNumber(n)).await.unwrap(); // mint the token first
    w.fake.faults(FaultPlan {
        rate: 1.0,
        seed: 1,
        kinds: vec![Fault::BadGateway],
    });
    let err = w.repo().issue(IssueNumber(n)).await.unwrap_err();
    match &err {
        ForgeError::Unavailable {
            attempts, message, ..
        } => {
            assert_eq!(*attempts, 5, "the first try and github.max_retries = 4");
            assert!(message.contains("502"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("reading issue #{n} in octo/widgets")),
        "{err}"
    );
}

#[tokio::test]
async fn refusals_are_final_and_say_what_was_refused() {
    let w = World::start().await;
    let repo = w.repo();
    let before = w.fake.requests().len();

    let err = repo.issue(IssueNumber(999)).await.unwrap_err();
    assert!(matches!(err, ForgeError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("issue #999"), "{err}");

    let err = w
        .effects()
        .pull_request(
            "task:9/pr",
            &NewPullRequest {
                title: "t".into(),
                head: "orion/9-no-such-branch".into(),
                base: "main".into(),
                body: String::new(),
                draft: false,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ForgeError::Validation { .. }), "{err:?}");
    assert!(!err.is_transient());
    // One token mint, one issue read, one PR attempt: nothing was retried.
    assert_eq!(
        w.fake.requests().len() - before,
        3,
        "{:?}",
        w.fake.requests()
    );
}

#[tokio::test]
async fn a_comment_whose_answer_was_lost_is_found_not_posted_twice() {
    let w = World::start().await;
    let n = w.fake.issue(REPO, "alice", "t", "b");
    let comments_path = format!("/issues/{n}/comments");
    // GitHub creates the comment and then answers 502: a blind retry would post it twice.
    w.fake
        .fail_next("POST", &comments_path, Fault::BadGatewayAfterApply);
    let first = w
        .effects()
        .comment_once("task:4/hello", IssueNumber(n), "Hello")
        .await
        .unwrap();
    assert_eq!(w.fake.comments(REPO, n).len(), 1);

    // And a 502 *before* GitHub acted: not found, so posted again, once.
    w.fake.fail_next("POST", &comments_path, Fault::BadGateway);
    w.effects()
        .comment_once("task:4/bye", IssueNumber(n), "Bye")
        .await
        .unwrap();
    let bodies: Vec<String> = w
        .fake
        .comments(REPO, n)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies[0].starts_with("Hello") && bodies[1].starts_with("Bye"));
    assert_eq!(
        w.fake.comments(REPO, n)[0].id,
        first.effect.id,
        "the journal holds the comment GitHub made"
    );
}
