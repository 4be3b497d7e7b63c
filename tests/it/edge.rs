//! Bad input at the edge gets its status and a clear message, and loses nothing real.

use orion_bot::config::{Secret, Secrets};
use orion_bot::webhook::signature;

use crate::support::*;

fn labeled() -> Vec<u8> {
    std::fs::read(corpus().join("github-webhooks/issues/labeled.payload.json")).unwrap()
}

fn linear_issue(timestamp: i64) -> Vec<u8> {
    linear_body(
        &corpus().join("linear-webhooks/korosuke613-linear-webhook/createIssue.json"),
        timestamp,
    )
}

async fn assert_nothing_stored(app: &TestApp) {
    assert_eq!(app.deliveries().await, vec![], "no delivery recorded");
    assert_eq!(app.jobs().await, vec![], "no job created");
}

#[tokio::test]
async fn signature_problems_answer_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let body = labeled();
    let good = signature::github_header(SECRET, &body);
    let mut flipped = good.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        (
            "other secret",
            Some(signature::github_header("not-the-secret", &body)),
        ),
        (
            "one digit changed",
            Some(String::from_utf8(flipped).unwrap()),
        ),
        (
            "no prefix",
            Some(good.trim_start_matches("sha256=").to_owned()),
        ),
        ("sha1 prefix", Some(good.replace("sha256=", "sha1="))),
        ("not hex", Some("sha256=xyz".to_owned())),
    ];
    for (case, header) in cases {
        let mut request = app
            .post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "d-1")
            .body(body.clone());
        if let Some(h) = header {
            request = request.header("X-Hub-Signature-256", h);
        }
        let (status, reply) = send(request).await;
        assert_eq!(status, 401, "{case}: {reply}");
        assert_eq!(reply["outcome"], "unauthorized", "{case}");
    }
    // A valid signature over different bytes: the body was tampered with.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let (status, _) = send(
        app.post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "d-2")
            .header("X-Hub-Signature-256", good)
            .body(tampered),
    )
    .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn missing_event_or_delivery_headers_answer_400() {
    let app = TestApp::spawn().await;
    let body = labeled();
    for (event, delivery) in [(None, Some("d")), (Some("issues"), None)] {
        let mut request = app
            .post("/webhooks/github")
            .header(
                "X-Hub-Signature-256",
                signature::github_header(SECRET, &body),
            )
            .body(body.clone());
        if let Some(e) = event {
            request = request.header("X-GitHub-Event", e);
        }
        if let Some(d) = delivery {
            request = request.header("X-GitHub-Delivery", d);
        }
        let (status, reply) = send(request).await;
        assert_eq!(status, 400, "{reply}");
        assert!(
            reply["message"]
                .as_str()
                .unwrap()
                .contains("X-GitHub-Delivery")
        );
    }
    assert_nothing_stored(&app).await;
    app.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_answer_413_with_or_without_content_length() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 64 * 1024).await;
    let big = vec![b' '; 64 * 1024 + 1];
    let signed = |body: &[u8]| signature::github_header(SECRET, body);
    let (status, reply) = send(
        app.post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "big-1")
            .header("X-Hub-Signature-256", signed(&big))
            .body(big.clone()),
    )
    .await;
    assert_eq!(status, 413, "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("server.max_body_bytes")
    );

    // Streamed (chunked): no Content-Length to refuse early on, so the read itself is bounded.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let (status, _) = send(
        app.post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "big-2")
            .header("X-Hub-Signature-256", signed(&big))
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                chunks,
            ))),
    )
    .await;
    assert_eq!(status, 413);
    // A body just under the limit is read (and, being spaces, is unreadable JSON, so recorded).
    let fits = vec![b' '; 64 * 1024];
    let (status, _) = app.github("issues", "fits", &fits).await;
    assert_eq!(status, 400);
    assert_eq!(app.deliveries().await.len(), 1);
    app.shutdown().await;
}

#[tokio::test]
async fn signed_but_unreadable_deliveries_answer_400_and_are_recorded() {
    let app = TestApp::spawn().await;
    let (status, reply) = app
        .github("issues", "bad-json", b"{\"action\": \"labeled\", ")
        .await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["outcome"], "unreadable");
    let (status, reply) = app
        .github(
            "issues",
            "bad-shape",
            br#"{"action":"labeled","issue":{"number":"one"}}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        reply["message"].as_str().unwrap().contains("issue"),
        "{reply}"
    );
    // Even for an event Orion ignores, garbage is not mistaken for an ignorable event.
    let (status, _) = app.github("label", "bad-label", b"not json").await;
    assert_eq!(status, 400);

    let deliveries = app.deliveries().await;
    let summary: Vec<_> = deliveries
        .iter()
        .map(|d| (d.delivery_id.as_str(), d.outcome.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("bad-json", "unreadable"),
            ("bad-shape", "unreadable"),
            ("bad-label", "unreadable")
        ]
    );
    assert!(
        deliveries
            .iter()
            .all(|d| d.error.is_some() && d.body.is_some())
    );
    assert_eq!(
        deliveries[0].body.as_deref(),
        Some(&b"{\"action\": \"labeled\", "[..])
    );
    assert_eq!(app.jobs().await, vec![]);

    let status = orion_bot::store::Store::status(app.store(), 10)
        .await
        .unwrap();
    assert_eq!(
        status.recent_deliveries.len(),
        3,
        "unreadable deliveries are visible in orion status"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_github_redelivery_creates_no_second_job() {
    let app = TestApp::spawn().await;
    let body = labeled();
    let (first, _) = app
        .github("issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", &body)
        .await;
    let (again, reply) = app
        .github("issues", "72d3162e-cc78-11e3-81ab-4c9367dc0958", &body)
        .await;
    assert_eq!((first, again), (202, 200));
    assert_eq!(reply["outcome"], "duplicate");
    assert_eq!(app.jobs().await.len(), 1);
    assert_eq!(app.deliveries().await.len(), 1);
    // Concurrent redeliveries race into the same group commit: still one job.
    let sends = (0..8).map(|_| app.github("issues", "burst", &body));
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.jobs().await.len(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn rotation_accepts_old_and_new_secrets_end_to_end() {
    let secrets = Secrets {
        github_webhook: vec![Secret::new("the-new-secret-abcdefgh"), Secret::new(SECRET)],
        linear_webhook: None,
        ..Default::default()
    };
    let app = TestApp::spawn_with_secrets(secrets, |_| {}).await;
    let body = labeled();
    let (status, _) = app.github("issues", "old", &body).await;
    assert_eq!(status, 202);
    let (status, _) = send(
        app.post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "new")
            .header(
                "X-Hub-Signature-256",
                signature::github_header("the-new-secret-abcdefgh", &body),
            )
            .body(body),
    )
    .await;
    assert_eq!(status, 202);
    app.shutdown().await;
}

#[tokio::test]
async fn form_encoded_github_deliveries_are_read() {
    let app = TestApp::spawn().await;
    let json = String::from_utf8(labeled()).unwrap();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &json)
        .finish();
    let (status, reply) = send(
        app.post("/webhooks/github")
            .header("X-GitHub-Event", "issues")
            .header("X-GitHub-Delivery", "form-1")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header(
                "X-Hub-Signature-256",
                signature::github_header(SECRET, body.as_bytes()),
            )
            .body(body),
    )
    .await;
    assert_eq!((status, reply["outcome"].as_str()), (202, Some("accepted")));
    assert_eq!(app.events().await[0].name(), "issues.labeled");
    app.shutdown().await;
}

#[tokio::test]
async fn linear_stale_or_missing_timestamps_answer_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (status, reply) = app
        .linear(&linear_issue(now_ms() - 61_000), Some("stale"))
        .await;
    assert_eq!(status, 401, "{reply}");
    assert_eq!(reply["outcome"], "stale");
    let (status, _) = app
        .linear(&linear_issue(now_ms() + 61_000), Some("future"))
        .await;
    assert_eq!(status, 401);
    let no_timestamp =
        std::fs::read(corpus().join("linear-webhooks/korosuke613-linear-webhook/createIssue.json"))
            .unwrap();
    let (status, _) = app.linear(&no_timestamp, Some("none")).await;
    assert_eq!(status, 401);
    // The signed body's stale timestamp wins over a fresh unsigned header.
    let (status, _) = send(
        app.post("/webhooks/linear")
            .header(
                "Linear-Signature",
                signature::sign_hex(LINEAR_SECRET, &linear_issue(now_ms() - 120_000)),
            )
            .header("Linear-Timestamp", now_ms().to_string())
            .body(linear_issue(now_ms() - 120_000)),
    )
    .await;
    assert_eq!(status, 401);
    assert_nothing_stored(&app).await;

    // With no body timestamp, a fresh header is used.
    let (status, _) = send(
        app.post("/webhooks/linear")
            .header(
                "Linear-Signature",
                signature::sign_hex(LINEAR_SECRET, &no_timestamp),
            )
            .header("Linear-Timestamp", now_ms().to_string())
            .body(no_timestamp.clone()),
    )
    .await;
    assert_eq!(status, 200);
    app.shutdown().await;
}

#[tokio::test]
async fn linear_signature_and_configuration_problems() {
    let app = TestApp::spawn().await;
    let body = linear_issue(now_ms());
    let (status, _) = send(
        app.post("/webhooks/linear")
            .header("Linear-Signature", signature::sign_hex("wrong", &body))
            .body(body.clone()),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send(app.post("/webhooks/linear").body(body.clone())).await;
    assert_eq!(status, 401);
    let (status, reply) = app.linear(b"{oops", Some("garbled")).await;
    assert_eq!(
        (status, reply["outcome"].as_str()),
        (400, Some("unreadable"))
    );
    assert_eq!(app.deliveries().await.len(), 1);
    app.shutdown().await;

    let unconfigured = TestApp::spawn_with_secrets(
        Secrets {
            github_webhook: vec![Secret::new(SECRET)],
            linear_webhook: None,
            ..Default::default()
        },
        |_| {},
    )
    .await;
    let (status, reply) = unconfigured.linear(&body, None).await;
    assert_eq!(status, 503);
    assert!(
        reply["message"]
            .as_str()
            .unwrap()
            .contains("ORION_LINEAR_WEBHOOK_SECRET")
    );
    unconfigured.shutdown().await;
}

#[tokio::test]
async fn a_linear_retry_with_the_same_delivery_header_creates_one_job() {
    let app = TestApp::spawn().await;
    let (a, _) = app.linear(&linear_issue(now_ms()), Some("lin-1")).await;
    // Linear re-signs a retry with a new timestamp; the delivery header is what dedupes it.
    let (b, reply) = app.linear(&linear_issue(now_ms() + 5), Some("lin-1")).await;
    assert_eq!((a, b), (200, 200), "{reply}");
    assert_eq!(reply["outcome"], "duplicate");
    // Without the header, the id is derived from webhookId + timestamp + entity id.
    let mut value: serde_json::Value = serde_json::from_slice(&linear_issue(now_ms())).unwrap();
    value["webhookId"] = "hook-1".into();
    let body = serde_json::to_vec(&value).unwrap();
    let (c, _) = app.linear(&body, None).await;
    let (d, reply) = app.linear(&body, None).await;
    assert_eq!((c, d), (200, 200));
    assert_eq!(reply["outcome"], "duplicate");
    assert_eq!(app.jobs().await.len(), 2);
    let derived = &app.deliveries().await[1].delivery_id;
    assert!(derived.starts_with("derived-"), "{derived}");
    app.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics_report_what_happened() {
    let app = TestApp::spawn().await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    app.github("issues", "m-1", &labeled()).await;
    app.github("label", "m-2", br#"{"action":"created"}"#).await;
    send(app.post("/webhooks/github").body("x")).await;
    app.drain().await;
    let text = reqwest::get(format!("{}/metrics", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        r#"orion_webhook_deliveries_total{source="github",event="issues.labeled",outcome="accepted"} 1"#,
        r#"orion_webhook_deliveries_total{source="github",event="label",outcome="ignored"} 1"#,
        r#"orion_webhook_deliveries_total{source="github",event="unknown",outcome="unauthorized"} 1"#,
        r#"orion_queue_jobs{state="done"} 1"#,
        r#"orion_job_duration_seconds_count{kind="event",outcome="done"} 1"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    app.shutdown().await;
}
