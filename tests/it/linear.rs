//! Orion's Linear client against the fake Linear: every operation, the resilience rules, and the
//! status comment that exists once however the network behaves.

use std::time::{Duration, Instant};

use orion_bot::config::LinearConfig;
use orion_bot::forge::Journal;
use orion_bot::forge::linear::{Linear, LinearAuth, LinearError, StateTarget, marker};

use crate::fake_linear::{FakeLinear, Fault, KeyKind};

struct Scene {
    fake: FakeLinear,
    linear: Linear,
    journal: Journal,
    _dir: tempfile::TempDir,
}

fn config(fake: &FakeLinear) -> LinearConfig {
    LinearConfig {
        api_url: fake.api_url().to_owned(),
        request_timeout_ms: 2_000,
        max_retries: 3,
        retry_base_ms: 10,
        retry_max_ms: 40,
        max_rate_limit_wait_s: 5,
        ..LinearConfig::default()
    }
}

async fn scene_with(tweak: impl FnOnce(&mut LinearConfig)) -> Scene {
    let fake = FakeLinear::start().await;
    let mut config = config(&fake);
    tweak(&mut config);
    let auth = LinearAuth::ApiKey(orion_bot::config::Secret::new(fake.orion_key()));
    let linear = Linear::new(&config, auth).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::new(crate::support::fresh_store(dir.path()).await);
    Scene {
        fake,
        linear,
        journal,
        _dir: dir,
    }
}

async fn scene() -> Scene {
    scene_with(|_| {}).await
}

#[tokio::test]
async fn the_key_and_api_url_come_from_the_environment() {
    let fake = FakeLinear::start().await;
    let env: Vec<(String, String)> = [
        ("ORION_LINEAR_API_URL", fake.api_url()),
        ("ORION_LINEAR_API_KEY", fake.orion_key()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let loaded = orion_bot::config::Config::load_from(None, &env).unwrap();
    assert_eq!(loaded.config.linear.api_url, fake.api_url());
    let secrets = orion_bot::config::Secrets::from_vars(&env);
    assert!(!format!("{secrets:?}").contains(fake.orion_key()));
    let linear = Linear::from_secrets(&loaded.config.linear, &secrets)
        .unwrap()
        .expect("a key is set");
    assert_eq!(linear.viewer().await.unwrap().display_name, "orion");

    let none = orion_bot::config::Secrets::from_vars(&[]);
    assert!(
        Linear::from_secrets(&loaded.config.linear, &none)
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn reads_an_issue_by_identifier_and_by_id() {
    let s = scene().await;
    let ada = s.fake.user("Ada Lovelace", "ada");
    let handle = s
        .fake
        .issue("ENG", "Widgets turn red", "They should stay blue.");
    s.fake.assign(
        &handle.id,
        Some(&ada),
        Some(s.fake.orion_id()),
        Some("Q3 polish"),
    );
    s.linear
        .add_labels(&s.linear.issue(&handle.id).await.unwrap(), &["Bug"])
        .await
        .unwrap();

    let issue = s.linear.issue(&handle.identifier).await.unwrap();
    assert_eq!(issue.id, handle.id);
    assert_eq!(issue.identifier, "ENG-1");
    assert_eq!(issue.title, "Widgets turn red");
    assert_eq!(issue.description.as_deref(), Some("They should stay blue."));
    assert_eq!(
        (issue.state.name.as_str(), issue.state.kind.as_str()),
        ("Todo", "unstarted")
    );
    assert_eq!(issue.team.key, "ENG");
    assert_eq!(
        issue.project.as_ref().map(|p| p.name.as_str()),
        Some("Q3 polish")
    );
    assert_eq!(
        issue
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["Bug"]
    );
    assert_eq!(
        issue.assignee.as_ref().map(|u| u.name.as_str()),
        Some("Ada Lovelace")
    );
    assert_eq!(
        issue.delegate.as_ref().map(|u| u.id.as_str()),
        Some(s.fake.orion_id())
    );
    assert_eq!(issue.branch_name, "eng-1-widgets-turn-red");
    assert!(
        issue.url.ends_with("/issue/ENG-1/widgets-turn-red"),
        "{}",
        issue.url
    );
    assert_eq!(s.linear.issue(&handle.id).await.unwrap(), issue);

    let missing = s.linear.issue("ENG-999").await.unwrap_err();
    assert!(matches!(missing, LinearError::NotFound { .. }), "{missing}");
    assert!(missing.to_string().contains("IssueRead"), "{missing}");
}

#[tokio::test]
async fn lists_every_comment_across_pages_oldest_first() {
    let s = scene().await;
    let issue = s.fake.issue("ENG", "Chatty", "");
    let ada = s.fake.user("Ada Lovelace", "ada");
    for i in 0..130 {
        s.fake.comment_as(&issue.id, &ada, &format!("comment {i}"));
    }
    let comments = s.linear.comments(&issue.id).await.unwrap();
    assert_eq!(comments.len(), 130);
    assert_eq!(comments[0].body, "comment 0");
    assert_eq!(comments[129].body, "comment 129");
    assert_eq!(comments[0].user.as_ref().unwrap().display_name, "ada");
    assert_eq!(s.fake.count("IssueComments"), 2, "100 per page");
}

#[tokio::test]
async fn creates_and_edits_a_comment() {
    let s = scene().await;
    let issue = s.fake.issue("ENG", "Widgets", "");
    let posted = s.linear.create_comment(&issue.id, "On it.").await.unwrap();
    assert_eq!(posted.user.as_ref().unwrap().id, s.fake.orion_id());
    let edited = s
        .linear
        .update_comment(&posted.id, "Done: see the PR.")
        .await
        .unwrap();
    assert_eq!(edited.id, posted.id);
    let seen = s.fake.comments(&issue.id);
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].author.as_str(), seen[0].body.as_str()),
        ("orion", "Done: see the PR.")
    );

    // Linear lets people edit only their own comments.
    let ada = s.fake.user("Ada Lovelace", "ada");
    let hers = s.fake.comment_as(&issue.id, &ada, "Thanks!");
    let refused = s
        .linear
        .update_comment(&hers, "hijacked")
        .await
        .unwrap_err();
    assert!(
        matches!(refused, LinearError::Forbidden { .. }),
        "{refused}"
    );
    assert_eq!(s.fake.comments(&issue.id)[1].body, "Thanks!");
}

#[tokio::test]
async fn moves_an_issue_to_started_then_in_review() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    let issue = s.linear.issue(&handle.id).await.unwrap();
    let started = s
        .linear
        .move_issue(&issue, StateTarget::Started)
        .await
        .unwrap();
    assert_eq!(started.name, "In Progress");
    assert_eq!(s.fake.state_of(&handle.id), "In Progress");

    let issue = s.linear.issue(&handle.id).await.unwrap();
    let review = s
        .linear
        .move_issue(&issue, StateTarget::InReview)
        .await
        .unwrap();
    assert_eq!(
        (review.name.as_str(), review.kind.as_str()),
        ("In Review", "started")
    );
    assert_eq!(s.fake.state_of(&handle.id), "In Review");

    // Already there: no write.
    let issue = s.linear.issue(&handle.id).await.unwrap();
    s.linear
        .move_issue(&issue, StateTarget::InReview)
        .await
        .unwrap();
    assert_eq!(s.fake.count("IssueSetState"), 2);
}

#[tokio::test]
async fn a_team_without_a_review_state_is_not_moved() {
    let s = scene().await;
    let states = [
        ("Todo", "unstarted"),
        ("Doing", "started"),
        ("Done", "completed"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (n, k))| ((*n).to_owned(), (*k).to_owned(), i as f64))
    .collect();
    s.fake.team_with_states("OPS", "Operations", states);
    let handle = s.fake.issue("OPS", "Rotate keys", "");
    let issue = s.linear.issue(&handle.id).await.unwrap();
    let error = s
        .linear
        .move_issue(&issue, StateTarget::InReview)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, LinearError::NotFound { .. }), "{text}");
    assert!(
        text.contains("OPS") && text.contains("Doing [started]"),
        "{text}"
    );
    assert_eq!(s.fake.state_of(&handle.id), "Todo");
    let started = s
        .linear
        .move_issue(&issue, StateTarget::Started)
        .await
        .unwrap();
    assert_eq!(started.name, "Doing");
}

#[tokio::test]
async fn adds_labels_by_name_without_repeating_them() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    // Another team's "Bug" must not be picked for an ENG issue.
    let ops = s.fake.team("OPS", "Operations");
    s.fake.label("Bug", Some(&ops));
    let issue = s.linear.issue(&handle.id).await.unwrap();
    let labels = s
        .linear
        .add_labels(&issue, &["orion", "Bug"])
        .await
        .unwrap();
    assert_eq!(
        labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["orion", "Bug"]
    );
    assert_eq!(s.fake.labels_of(&handle.id), ["orion", "Bug"]);
    assert_eq!(s.fake.count("IssueAddLabel"), 2);

    let issue = s.linear.issue(&handle.id).await.unwrap();
    s.linear.add_labels(&issue, &["orion"]).await.unwrap();
    assert_eq!(
        s.fake.count("IssueAddLabel"),
        2,
        "already labelled: no write"
    );

    let unknown = s
        .linear
        .add_labels(&issue, &["orion", "no-such"])
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("\"no-such\""), "{unknown}");
    assert_eq!(s.fake.count("IssueAddLabel"), 2);
}

#[tokio::test]
async fn the_viewer_is_orion_and_is_asked_once() {
    let s = scene().await;
    assert_eq!(s.linear.viewer().await.unwrap().id, s.fake.orion_id());
    assert_eq!(s.linear.viewer().await.unwrap().name, "Orion");
    assert_eq!(s.fake.count("Viewer"), 1);
}

#[tokio::test]
async fn a_wrong_key_is_unauthorized_and_keys_need_their_own_form() {
    let fake = FakeLinear::start().await;
    let config = config(&fake);
    let secret = |v: &str| orion_bot::config::Secret::new(v);
    let wrong = Linear::new(&config, LinearAuth::ApiKey(secret("lin_api_revoked"))).unwrap();
    let error = wrong.viewer().await.unwrap_err();
    assert!(matches!(error, LinearError::Unauthorized { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.contains("Viewer") && text.contains("Authentication required"),
        "{text}"
    );
    assert!(!error.is_transient());
    assert_eq!(fake.requests().len(), 1, "not retried");
    assert!(!fake.requests()[0].authenticated);

    // A personal key sent as a bearer token is refused, as Linear refuses it.
    let bearer = Linear::new(&config, LinearAuth::OAuth(secret(fake.orion_key()))).unwrap();
    assert!(matches!(
        bearer.viewer().await,
        Err(LinearError::Unauthorized { .. })
    ));
    // An OAuth token goes as `Bearer`.
    let app = fake.user("Orion App", "orion-app");
    let token = fake.key_for(&app, KeyKind::OAuth);
    let oauth = Linear::new(&config, LinearAuth::from_secret(&secret(&token))).unwrap();
    assert_eq!(oauth.viewer().await.unwrap().name, "Orion App");
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_until_its_reset() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    s.fake.fail_next(
        "CommentCreate",
        Fault::RateLimited {
            reset_in: Duration::from_millis(1_200),
        },
    );
    let started = Instant::now();
    s.linear.create_comment(&handle.id, "On it.").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1_200),
        "waited for the reset"
    );
    assert_eq!(s.fake.count("CommentCreate"), 2);
    assert_eq!(
        s.fake.comments(&handle.id).len(),
        1,
        "a refused mutation is safe to repeat"
    );
}

#[tokio::test]
async fn a_rate_limit_beyond_the_patience_is_reported_with_its_reset() {
    let s = scene_with(|c| c.max_rate_limit_wait_s = 1).await;
    s.fake.fail_next(
        "Viewer",
        Fault::RateLimited {
            reset_in: Duration::from_secs(600),
        },
    );
    let error = s.linear.viewer().await.unwrap_err();
    let LinearError::RateLimited { reset_in, .. } = &error else {
        panic!("expected a rate limit, got {error}");
    };
    assert!(reset_in.as_secs() >= 599, "{reset_in:?}");
    assert!(error.is_transient());
    assert_eq!(s.fake.count("Viewer"), 1);
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_and_ambiguous_for_creates() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    s.fake.fail_next("IssueRead", Fault::ServerError(502));
    s.fake.fail_next("IssueRead", Fault::ServerError(503));
    let issue = s.linear.issue(&handle.identifier).await.unwrap();
    assert_eq!(issue.id, handle.id);
    assert_eq!(s.fake.count("IssueRead"), 3);

    for _ in 0..4 {
        s.fake.fail_next("TeamStates", Fault::ServerError(500));
    }
    let error = s.linear.workflow_states(&issue.team.id).await.unwrap_err();
    assert!(
        matches!(error, LinearError::Unavailable { attempts: 4, .. }),
        "{error}"
    );

    s.fake
        .fail_next("CommentCreate", Fault::ServerErrorAfterApply(502));
    let error = s
        .linear
        .create_comment(&handle.id, "On it.")
        .await
        .unwrap_err();
    assert!(matches!(error, LinearError::Ambiguous { .. }), "{error}");
    assert_eq!(
        s.fake.count("CommentCreate"),
        1,
        "a create is not repeated blindly"
    );
    assert_eq!(s.fake.comments(&handle.id).len(), 1, "Linear did act on it");
}

#[tokio::test]
async fn a_timed_out_create_is_ambiguous_and_the_sticky_comment_stays_single() {
    let s = scene_with(|c| c.request_timeout_ms = 300).await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    let slow = Fault::SlowAfterApply(Duration::from_secs(2));

    s.fake.fail_next("CommentCreate", slow.clone());
    let error = s
        .linear
        .create_comment(&handle.id, "plain")
        .await
        .unwrap_err();
    assert!(matches!(error, LinearError::Ambiguous { .. }), "{error}");
    assert!(error.to_string().contains("CommentCreate"), "{error}");
    s.fake.delete_comment(&s.fake.comments(&handle.id)[0].id);

    let key = "task:7/status";
    s.fake.fail_next("CommentCreate", slow);
    let first = s
        .linear
        .sticky_comment(&s.journal, key, &handle.id, "Working on it.")
        .await
        .unwrap();
    let seen = s.fake.comments(&handle.id);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(seen[0].body.starts_with("Working on it.") && seen[0].body.contains(&marker(key)));

    // The job runs again (a retry), later with news: still one comment, edited.
    let again = s
        .linear
        .sticky_comment(&s.journal, key, &handle.id, "Working on it.")
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    let done = s
        .linear
        .sticky_comment(&s.journal, key, &handle.id, "Pull request opened.")
        .await
        .unwrap();
    assert_eq!(done.id, first.id);
    let seen = s.fake.comments(&handle.id);
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert!(
        seen[0].body.starts_with("Pull request opened."),
        "{}",
        seen[0].body
    );
    assert_eq!(
        s.fake.count("CommentCreate"),
        2,
        "one ambiguous create per scenario"
    );
    assert_eq!(
        s.fake.count("CommentUpdate"),
        1,
        "an unchanged body is not rewritten"
    );
}

#[tokio::test]
async fn the_sticky_comment_survives_a_crash_and_a_deletion() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    let key = "task:9/status";
    // A run that died after Linear created the comment and before the journal heard of it.
    s.journal
        .intend(&format!("linear:{}", handle.id), key, "linear_comment")
        .await
        .unwrap();
    let orphan = s
        .linear
        .create_comment(
            &handle.id,
            &orion_bot::forge::linear::with_marker("Starting.", key),
        )
        .await
        .unwrap();
    // A person quoting the marker does not count: only Orion's own comments do.
    let ada = s.fake.user("Ada Lovelace", "ada");
    s.fake.comment_as(
        &handle.id,
        &ada,
        &format!("why does it say {}?", marker(key)),
    );

    let found = s
        .linear
        .sticky_comment(&s.journal, key, &handle.id, "Planning.")
        .await
        .unwrap();
    assert_eq!(found.id, orphan.id);
    assert_eq!(s.fake.comments(&handle.id).len(), 2);

    s.fake.delete_comment(&orphan.id);
    let reposted = s
        .linear
        .sticky_comment(&s.journal, key, &handle.id, "Implementing.")
        .await
        .unwrap();
    assert_ne!(reposted.id, orphan.id);
    let seen = s.fake.comments(&handle.id);
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1].body.starts_with("Implementing."),
        "{}",
        seen[1].body
    );
}

#[tokio::test]
async fn graphql_errors_in_a_200_name_the_operation() {
    let s = scene().await;
    let handle = s.fake.issue("ENG", "Widgets", "");
    s.fake
        .fail_next("CommentCreate", Fault::Refuse("Body is too long.".into()));
    let error = s.linear.create_comment(&handle.id, "x").await.unwrap_err();
    let LinearError::GraphQl {
        operation,
        code,
        message,
    } = &error
    else {
        panic!("expected a GraphQL error, got {error}");
    };
    assert_eq!(operation, "CommentCreate");
    assert_eq!(code.as_deref(), Some("INVALID_INPUT"));
    assert!(message.contains("Body is too long."), "{message}");
    assert_eq!(
        error.to_string(),
        "Linear refused CommentCreate: Argument Validation Error (Body is too long.) (INVALID_INPUT)"
    );
    assert!(!error.is_transient());
    assert_eq!(s.fake.requests().last().unwrap().status, 200);
    assert!(s.fake.comments(&handle.id).is_empty());
}

#[tokio::test]
async fn the_fake_answers_unknown_operations_like_linear() {
    let fake = FakeLinear::start().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/graphql", fake.api_url()))
        .header("authorization", fake.orion_key())
        .json(&serde_json::json!({ "query": "query Cycles { cycles { nodes { id } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(
        answer
            .headers()
            .contains_key("x-ratelimit-requests-remaining")
    );
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Cycles")
    );
}

#[tokio::test]
async fn labelled_issues_are_listed_across_pages_without_finished_or_unchanged_ones() {
    let s = scene().await;
    let orion = s.fake.label_id("orion");
    let mut labelled = Vec::new();
    for i in 0..120 {
        let issue = s.fake.issue("ENG", &format!("Task {i}"), "");
        if i % 2 == 0 {
            s.fake.set_labels(&issue.id, &[&orion]);
            labelled.push(issue.identifier);
        }
    }
    // Completed issues are not work to start.
    let done = s.fake.issue("ENG", "Shipped", "");
    s.fake.set_labels(&done.id, &[&orion]);
    let issue = s.linear.issue(&done.id).await.unwrap();
    let states = s.linear.workflow_states(&issue.team.id).await.unwrap();
    let completed = states.iter().find(|st| st.kind == "completed").unwrap();
    s.fake.set_state(&done.id, &completed.id);

    let found = s
        .linear
        .labelled_issues("ORION", "2020-01-01T00:00:00Z")
        .await
        .unwrap();
    let mut ids: Vec<String> = found.iter().map(|i| i.identifier.clone()).collect();
    ids.sort();
    labelled.sort();
    assert_eq!(ids, labelled);
    assert_eq!(
        s.fake.count("IssuesLabelled"),
        2,
        "60 issues in pages of 50"
    );
    assert!(found.windows(2).all(|w| w[0].updated_at <= w[1].updated_at));

    // Only what changed after `since` comes back.
    let last = &found.last().unwrap().updated_at;
    let later = s.linear.labelled_issues("orion", last).await.unwrap();
    assert!(later.is_empty(), "{later:?}");
}
