//! Pagination, traffic records, and deterministic failure on demand.

use std::time::Duration;

use http::Method;
use octocrab::models::issues::Comment;
use serde_json::json;

use super::{get, message, scene, send, token_client};
use crate::fake_github::{AuthKind, FakeGitHub, Fault, FaultPlan, RequestRecord};

#[tokio::test]
async fn lists_paginate_with_link_headers() {
    let s = scene().await;
    let number = s
        .fake
        .issue("octo/widgets", "alice", "Busy", "Many comments.");
    for i in 0..65 {
        s.fake
            .comment_as("octo/widgets", number, "alice", &format!("comment {i}"));
    }
    let api = s.fake.api_url();
    let path = "/repos/octo/widgets/issues/1/comments";

    let first = send(&s.bot, Method::GET, path, None).await;
    assert_eq!(first.json::<Vec<Comment>>().len(), 30);
    assert_eq!(
        first.header("link"),
        format!("<{api}{path}?page=2>; rel=\"next\", <{api}{path}?page=3>; rel=\"last\"")
    );
    let last = send(
        &s.bot,
        Method::GET,
        &format!("{path}?per_page=30&page=3"),
        None,
    )
    .await;
    assert_eq!(last.json::<Vec<Comment>>().len(), 5);
    assert_eq!(
        last.header("link"),
        format!(
            "<{api}{path}?per_page=30&page=2>; rel=\"prev\", <{api}{path}?per_page=30&page=1>; rel=\"first\""
        )
    );
    let capped = send(&s.bot, Method::GET, &format!("{path}?per_page=500"), None).await;
    assert_eq!(capped.json::<Vec<Comment>>().len(), 65);
    assert!(capped.headers.get("link").is_none());

    // octocrab follows the absolute `next` links with a personal token.
    let alice = token_client(&s.fake, &s.fake.personal_token("alice"));
    let page = alice
        .issues("octo", "widgets")
        .list_comments(number)
        .per_page(20)
        .send()
        .await
        .unwrap();
    assert_eq!(alice.all_pages(page).await.unwrap().len(), 65);
}

#[tokio::test]
async fn every_answer_carries_github_headers_and_is_recorded() {
    let s = scene().await;
    let one = send(&s.bot, Method::GET, "/repos/octo/widgets", None).await;
    let two = send(&s.bot, Method::GET, "/repos/octo/widgets", None).await;
    assert_eq!(one.header("x-ratelimit-limit"), "5000");
    assert_eq!(one.header("x-ratelimit-resource"), "core");
    let used = |a: &super::Answer| a.header("x-ratelimit-used").parse::<u64>().unwrap();
    let remaining = |a: &super::Answer| a.header("x-ratelimit-remaining").parse::<u64>().unwrap();
    assert_eq!(
        (used(&two) - used(&one), remaining(&one) - remaining(&two)),
        (1, 1)
    );
    let reset: i64 = one.header("x-ratelimit-reset").parse().unwrap();
    assert!(reset > chrono::Utc::now().timestamp());
    assert_eq!(one.header("x-github-request-id").split(':').count(), 5);

    let stray = send(&s.bot, Method::GET, "/repos/octo/widgets/branches", None).await;
    assert_eq!(
        (stray.status, message(&stray)),
        (404, "Not Found".to_owned())
    );
    let wrong_verb = send(&s.bot, Method::PUT, "/repos/octo/widgets", None).await;
    assert_eq!(wrong_verb.status, 404);
    let id = s.installation;
    assert_eq!(
        s.fake.unexpected(),
        [
            RequestRecord {
                method: "GET".into(),
                path: "/repos/octo/widgets/branches".into(),
                status: 404,
                auth: AuthKind::Installation(id)
            },
            RequestRecord {
                method: "PUT".into(),
                path: "/repos/octo/widgets".into(),
                status: 404,
                auth: AuthKind::Installation(id)
            },
        ]
    );
    let writes: Vec<(String, String)> = s
        .fake
        .writes()
        .into_iter()
        .map(|r| (r.method, r.path))
        .collect();
    assert_eq!(
        writes,
        [
            (
                "POST".to_owned(),
                format!("/app/installations/{id}/access_tokens")
            ),
            ("PUT".to_owned(), "/repos/octo/widgets".to_owned()),
        ]
    );
}

/// Statuses of `count` repository reads under `plan`, on a fresh fake.
async fn statuses_under(plan: FaultPlan, count: usize) -> Vec<(u16, Option<String>)> {
    let fake = FakeGitHub::start().await;
    fake.repo("octo/widgets").create();
    let alice = token_client(&fake, &fake.personal_token("alice"));
    fake.faults(plan);
    let mut seen = Vec::new();
    for _ in 0..count {
        let answer = send(&alice, Method::GET, "/repos/octo/widgets", None).await;
        let retry = answer
            .headers
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        if answer.status == 403 && retry.is_none() {
            assert_eq!(answer.header("x-ratelimit-remaining"), "0");
            assert!(message(&answer).starts_with("API rate limit exceeded for user ID"));
        }
        seen.push((answer.status, retry));
    }
    seen
}

#[tokio::test]
async fn fault_plans_are_deterministic_per_seed() {
    let plan = || FaultPlan {
        rate: 0.3,
        seed: 7,
        kinds: vec![
            Fault::BadGateway,
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
            Fault::SecondaryRateLimit {
                retry_after_secs: 2,
            },
            Fault::PrimaryRateLimit { reset_in_secs: 60 },
        ],
    };
    let first = statuses_under(plan(), 40).await;
    let second = statuses_under(plan(), 40).await;
    assert_eq!(first, second);
    let faulted = first.iter().filter(|(status, _)| *status != 200).count();
    assert!(
        (1..40).contains(&faulted),
        "a 30 % plan fails some requests: {first:?}"
    );
    assert!(
        first.contains(&(429, Some("1".to_owned())))
            || first.contains(&(403, Some("2".to_owned())))
    );
}

#[tokio::test]
async fn one_shot_faults_hit_the_chosen_request() {
    let s = scene().await;
    let number = s.fake.issue("octo/widgets", "alice", "Hi", "Hello");
    let path = format!("/repos/octo/widgets/issues/{number}/comments");
    let _: serde_json::Value = get(&s.bot, "/repos/octo/widgets").await;

    s.fake.fail_next("POST", "/comments", Fault::BadGateway);
    let lost = send(
        &s.bot,
        Method::POST,
        &path,
        Some(json!({ "body": "first" })),
    )
    .await;
    assert_eq!(lost.status, 502);
    assert!(
        s.fake.comments("octo/widgets", number).is_empty(),
        "502 before applying"
    );

    s.fake
        .fail_next("POST", "/comments", Fault::BadGatewayAfterApply);
    let ambiguous = send(
        &s.bot,
        Method::POST,
        &path,
        Some(json!({ "body": "second" })),
    )
    .await;
    assert_eq!(ambiguous.status, 502);
    let bodies: Vec<String> = s
        .fake
        .comments("octo/widgets", number)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(
        bodies,
        ["second"],
        "the write landed although the client saw 502"
    );

    s.fake.fail_next(
        "POST",
        "/comments",
        Fault::SecondaryRateLimit {
            retry_after_secs: 30,
        },
    );
    let limited = send(
        &s.bot,
        Method::POST,
        &path,
        Some(json!({ "body": "third" })),
    )
    .await;
    assert_eq!((limited.status, limited.header("retry-after")), (403, "30"));
    assert!(message(&limited).starts_with("You have exceeded a secondary rate limit."));

    // Only `fail_next` reaches the token endpoint; here it makes octocrab's token mint fail.
    s.fake
        .fail_next("POST", "/access_tokens", Fault::BadGateway);
    let fresh = s
        .app
        .installation(octocrab::models::InstallationId(s.installation))
        .unwrap();
    assert!(fresh.repos("octo", "widgets").get().await.is_err());

    // A slow answer trips a client timeout, and the request was applied all the same.
    s.fake
        .fail_next("POST", "/comments", Fault::Slow(Duration::from_secs(5)));
    let creds = s.fake.app_credentials();
    let impatient = octocrab::Octocrab::builder()
        .base_uri(s.fake.api_url())
        .unwrap()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .app(
            octocrab::models::AppId(creds.app_id),
            octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(creds.private_key_pem.as_bytes())
                .unwrap(),
        )
        .build()
        .unwrap()
        .installation(octocrab::models::InstallationId(s.installation))
        .unwrap();
    let timed_out = impatient
        .issues("octo", "widgets")
        .create_comment(number, "slow")
        .await;
    assert!(timed_out.is_err());
    assert_eq!(s.fake.comments("octo/widgets", number).len(), 2);
}

#[tokio::test]
async fn hold_after_applies_the_write_then_withholds_the_answer() {
    let s = scene().await;
    s.repo
        .commit_on("fix", &[("README.md", "# Fixed\n")], "Fix");
    let held = s.fake.hold_after("POST", "/pulls");
    let bot = s.bot.clone();
    let request = tokio::spawn(async move {
        bot.pulls("octo", "widgets")
            .create("Fix", "fix", "main")
            .send()
            .await
    });
    tokio::time::timeout(Duration::from_secs(10), held.reached())
        .await
        .expect("the PR create reached the fake");
    assert_eq!(
        s.fake.pulls("octo/widgets").len(),
        1,
        "applied before answering"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!request.is_finished(), "the answer is withheld");
    held.release();
    let pull = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("released")
        .unwrap()
        .expect("201 after release");
    assert_eq!(pull.number, 1);
}
