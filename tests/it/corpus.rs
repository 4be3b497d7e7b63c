//! Every real payload in the corpus goes through the real router, signed as its sender would.

use std::collections::BTreeMap;

use orion_bot::event::{Event, EventKind, IssueNumber};
use serde_json::Value;

use crate::support::*;

/// Whether Orion acts on this (event, payload), decided here from the raw JSON independently of
/// the parser under test.
fn acted_on(event: &str, payload: &Value) -> bool {
    let action = payload["action"].as_str().unwrap_or("");
    match event {
        "issues" => matches!(
            action,
            "opened"
                | "edited"
                | "labeled"
                | "unlabeled"
                | "assigned"
                | "unassigned"
                | "closed"
                | "reopened"
                | "deleted"
        ),
        "issue_comment" | "pull_request_review_comment" => {
            matches!(action, "created" | "edited" | "deleted")
        }
        "pull_request" => matches!(
            action,
            "opened"
                | "reopened"
                | "ready_for_review"
                | "converted_to_draft"
                | "synchronize"
                | "edited"
                | "closed"
                | "labeled"
                | "unlabeled"
        ),
        "pull_request_review" => matches!(action, "submitted" | "edited" | "dismissed"),
        "check_run" | "check_suite" | "workflow_run" => action == "completed",
        "push" => payload["ref"]
            .as_str()
            .unwrap_or("")
            .starts_with("refs/heads/"),
        "installation" => matches!(
            action,
            "created" | "deleted" | "suspend" | "unsuspend" | "new_permissions_accepted"
        ),
        "installation_repositories" => matches!(action, "added" | "removed"),
        _ => false,
    }
}

/// The issue or PR number a payload is about, read straight from the JSON.
fn number_in(payload: &Value) -> Option<u64> {
    payload["issue"]["number"]
        .as_u64()
        .or_else(|| payload["pull_request"]["number"].as_u64())
}

fn check_event(file: &str, event_header: &str, payload: &Value, event: &Event) {
    let repo = payload["repository"]["full_name"].as_str();
    let sender = payload["sender"]["login"].as_str().unwrap();
    let label = payload["label"]["name"].as_str().map(str::to_owned);
    assert_eq!(
        event.repo().map(|r| r.as_str()),
        if event_header.starts_with("installation") {
            None
        } else {
            repo
        },
        "{file}: repo"
    );
    let number = number_in(payload).map(IssueNumber);
    match (&event.kind, event_header) {
        (EventKind::Issue(e), "issues") => {
            assert_eq!(Some(e.issue.number), number, "{file}");
            assert_eq!(e.sender.login, sender, "{file}");
            assert_eq!(e.label, label, "{file}");
            assert_eq!(e.action.as_str(), payload["action"], "{file}");
            assert_eq!(
                e.issue.title,
                payload["issue"]["title"].as_str().unwrap(),
                "{file}"
            );
        }
        (EventKind::IssueComment(e), "issue_comment") => {
            assert_eq!(Some(e.issue.number), number, "{file}");
            assert_eq!(e.sender.login, sender, "{file}");
            assert_eq!(
                e.comment.body,
                payload["comment"]["body"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.comment.id,
                payload["comment"]["id"].as_u64().unwrap(),
                "{file}"
            );
        }
        (EventKind::PullRequest(e), "pull_request") => {
            assert_eq!(Some(e.pull.number), number, "{file}");
            assert_eq!(e.sender.login, sender, "{file}");
            assert_eq!(e.label, label, "{file}");
            assert_eq!(
                e.pull.head.sha.as_str(),
                payload["pull_request"]["head"]["sha"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.pull.base.branch,
                payload["pull_request"]["base"]["ref"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.pull.draft,
                payload["pull_request"]["draft"].as_bool().unwrap_or(false),
                "{file}"
            );
        }
        (EventKind::PullRequestReview(e), "pull_request_review") => {
            assert_eq!(Some(e.pull.number), number, "{file}");
            assert_eq!(
                e.review.id,
                payload["review"]["id"].as_u64().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.review.state,
                payload["review"]["state"].as_str().unwrap().to_lowercase(),
                "{file}"
            );
        }
        (EventKind::PullRequestReviewComment(e), "pull_request_review_comment") => {
            assert_eq!(Some(e.pull.number), number, "{file}");
            assert_eq!(
                e.comment.path,
                payload["comment"]["path"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.comment.line,
                payload["comment"]["line"].as_u64(),
                "{file}"
            );
        }
        (EventKind::Check(e), "check_run" | "check_suite" | "workflow_run") => {
            assert_eq!(e.kind.as_str(), event_header, "{file}");
            let object = &payload[event_header];
            assert_eq!(
                e.head_sha.as_str(),
                object["head_sha"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.conclusion.as_deref(),
                object["conclusion"].as_str(),
                "{file}"
            );
            let prs: Vec<u64> = object["pull_requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["number"].as_u64().unwrap())
                .collect();
            assert_eq!(
                e.pull_numbers.iter().map(|n| n.0).collect::<Vec<_>>(),
                prs,
                "{file}"
            );
        }
        (EventKind::Push(e), "push") => {
            assert_eq!(
                format!("refs/heads/{}", e.branch),
                payload["ref"].as_str().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.after.as_str(),
                payload["after"].as_str().unwrap(),
                "{file}"
            );
        }
        (EventKind::Installation(e), "installation" | "installation_repositories") => {
            assert_eq!(
                e.installation.0,
                payload["installation"]["id"].as_u64().unwrap(),
                "{file}"
            );
            assert_eq!(
                e.account,
                payload["installation"]["account"]["login"]
                    .as_str()
                    .unwrap(),
                "{file}"
            );
            if let Some(added) = payload["repositories_added"].as_array() {
                assert_eq!(e.repos_added.len(), added.len(), "{file}");
            }
        }
        (kind, header) => panic!("{file}: {header} parsed into the wrong variant {kind:?}"),
    }
}

#[tokio::test]
async fn every_github_corpus_payload_is_accepted_and_parsed() {
    let app = TestApp::spawn().await;
    let root = corpus().join("github-webhooks");
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|dir| {
            let dir = dir.unwrap().path();
            std::fs::read_dir(&dir)
                .unwrap()
                .map(move |f| (dir.clone(), f.unwrap().path()))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 123, "the corpus has 123 GitHub payloads");

    let mut expected = BTreeMap::new();
    for (i, (dir, file)) in files.iter().enumerate() {
        let event = dir.file_name().unwrap().to_str().unwrap();
        let name = format!("{event}/{}", file.file_name().unwrap().to_str().unwrap());
        let body = std::fs::read(file).unwrap();
        let payload: Value = serde_json::from_slice(&body).unwrap();
        let delivery = format!("corpus-{i:03}");
        let (status, reply) = app.github(event, &delivery, &body).await;
        let (want_status, want_outcome) = match event {
            "ping" => (200, "ping"),
            _ if acted_on(event, &payload) => (202, "accepted"),
            _ => (202, "ignored"),
        };
        assert_eq!(
            (status, reply["outcome"].as_str().unwrap()),
            (want_status, want_outcome),
            "{name}: {reply}"
        );
        if want_outcome == "accepted" {
            expected.insert(delivery, (name, event.to_owned(), payload));
        }
    }

    let events = app.events().await;
    assert_eq!(
        events.len(),
        expected.len(),
        "one job per acted-on delivery, none for the rest"
    );
    for event in &events {
        let (name, header, payload) = &expected[event.delivery.as_str()];
        check_event(name, header, payload, event);
    }
    app.drain().await;
    assert!(app.jobs().await.iter().all(|j| j.state == "done"));
    app.shutdown().await;
}

#[tokio::test]
async fn every_linear_corpus_payload_is_accepted_with_a_fresh_timestamp() {
    let app = TestApp::spawn().await;
    let mut files: Vec<_> =
        std::fs::read_dir(corpus().join("linear-webhooks/korosuke613-linear-webhook"))
            .unwrap()
            .map(|f| f.unwrap().path())
            .collect();
    files.sort();
    files.push(corpus().join("linear-webhooks/linear-sdk-test/comment-create.json"));
    assert_eq!(files.len(), 19);

    let mut accepted = 0;
    for (i, file) in files.iter().enumerate() {
        let body = linear_body(file, now_ms());
        let payload: Value = serde_json::from_slice(&body).unwrap();
        let entity = payload["type"].as_str().unwrap();
        let delivery = format!("linear-{i}");
        let (status, reply) = app.linear(&body, Some(&delivery)).await;
        let want = if matches!(entity, "Issue" | "Comment") {
            "accepted"
        } else {
            "ignored"
        };
        assert_eq!(
            (status, reply["outcome"].as_str().unwrap()),
            (200, want),
            "{}: {reply}",
            file.display()
        );
        if want == "accepted" {
            accepted += 1;
        }
    }
    let events = app.events().await;
    assert_eq!(events.len(), accepted);
    for event in &events {
        let i: usize = event
            .delivery
            .as_str()
            .trim_start_matches("linear-")
            .parse()
            .unwrap();
        let payload: Value = serde_json::from_slice(&std::fs::read(&files[i]).unwrap()).unwrap();
        let data = &payload["data"];
        match &event.kind {
            EventKind::LinearIssue(e) => {
                assert_eq!(e.id, data["id"].as_str().unwrap());
                assert_eq!(e.title, data["title"].as_str().unwrap());
                assert_eq!(e.action.as_str(), payload["action"].as_str().unwrap());
                assert_eq!(e.team_key.as_deref(), data["team"]["key"].as_str());
                assert_eq!(e.state_name.as_deref(), data["state"]["name"].as_str());
                let changed: Vec<&str> = payload["updatedFrom"]
                    .as_object()
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                assert_eq!(e.changed, changed);
            }
            EventKind::LinearComment(e) => {
                assert_eq!(e.id, data["id"].as_str().unwrap());
                assert_eq!(e.body, data["body"].as_str().unwrap());
                assert_eq!(e.issue_id.as_deref(), data["issueId"].as_str());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    app.shutdown().await;
}

/// GitHub's `pull_request_review_thread` has no example in the corpus; its payload is the
/// review comment payload's parts with the comment inside `thread.comments`, as GitHub
/// documents it. Built from the corpus's real comment so every field is one GitHub sends.
#[tokio::test]
async fn a_resolved_review_thread_is_parsed_with_its_comments() {
    let app = TestApp::spawn().await;
    let comment: Value = serde_json::from_slice(
        &std::fs::read(
            corpus().join("github-webhooks/pull_request_review_comment/created.payload.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let payload = serde_json::json!({
        "action": "resolved",
        "thread": {"node_id": "PRRT_kwDOA", "comments": [comment["comment"]]},
        "pull_request": comment["pull_request"],
        "repository": comment["repository"],
        "sender": comment["sender"],
    });
    let body = serde_json::to_vec(&payload).unwrap();
    let (status, reply) = app
        .github("pull_request_review_thread", "thread-1", &body)
        .await;
    assert_eq!((status, reply["outcome"].as_str()), (202, Some("accepted")));
    let mut unresolved = payload.clone();
    unresolved["action"] = "unresolved".into();
    let (_, reply) = app
        .github(
            "pull_request_review_thread",
            "thread-2",
            &serde_json::to_vec(&unresolved).unwrap(),
        )
        .await;
    assert_eq!(reply["outcome"].as_str(), Some("accepted"));
    let events = app.events().await;
    let EventKind::ReviewThread(e) = &events[0].kind else {
        panic!("{:?}", events[0].kind)
    };
    assert_eq!(events[0].name(), "pull_request_review_thread.resolved");
    assert_eq!(e.comments.len(), 1);
    assert_eq!(e.comments[0].id, comment["comment"]["id"].as_u64().unwrap());
    assert_eq!(
        e.pull.number.0,
        comment["pull_request"]["number"].as_u64().unwrap()
    );
    app.drain().await;
    app.shutdown().await;
}
