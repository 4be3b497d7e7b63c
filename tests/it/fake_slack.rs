//! A Slack incoming webhook on loopback: `POST /services/T…/B…/SECRET` with a JSON body,
//! answered as Slack answers (`200 ok`; `400 invalid_payload` or `no_text` for a bad body;
//! `403 invalid_token` for another URL), or with whatever a test scripts for the next requests
//! (`500`, `404 no_service`, `429` with `Retry-After`). Every request is recorded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

const TOKEN: &str = "T0ORION/B0REPORTS/xoxs-webhook-secret-4242";

/// One request the webhook received.
#[derive(Debug, Clone)]
pub struct Post {
    pub content_type: String,
    /// The body as JSON (`Null` when it was not JSON).
    pub body: Value,
    pub status: u16,
}

/// An answer scripted for one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: &'static str,
    pub retry_after_secs: Option<u64>,
}

impl Answer {
    pub fn status(status: u16, body: &'static str) -> Self {
        Self {
            status,
            body,
            retry_after_secs: None,
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            status: 429,
            body: "rate_limited",
            retry_after_secs: Some(retry_after_secs),
        }
    }
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Answer>,
    posts: Vec<Post>,
}

/// A running fake webhook. Dropping it stops the server.
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    base: String,
    shutdown: watch::Sender<bool>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback port for the fake Slack");
        let base = format!("http://{}", listener.local_addr().expect("bound address"));
        let inner = Arc::new(Mutex::new(Inner::default()));
        let router = Router::new()
            .route("/services/{team}/{bot}/{secret}", post(receive))
            .with_state(inner.clone());
        let (shutdown, mut stopped) = watch::channel(false);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
                .expect("the fake Slack serves");
        });
        Self {
            inner,
            base,
            shutdown,
        }
    }

    /// The webhook URL, as Slack shows it when the webhook is created.
    pub fn url(&self) -> String {
        format!("{}/services/{TOKEN}", self.base)
    }

    /// The secret part of the URL, which must never show up in logs or errors.
    pub fn token(&self) -> &'static str {
        TOKEN
    }

    /// The next requests get these answers, in order; after them, `200 ok` again.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.lock().script.extend(answers);
    }

    pub fn posts(&self) -> Vec<Post> {
        self.lock().posts.clone()
    }

    /// The `text` of every message the channel shows (posts answered `200 ok`).
    pub fn messages(&self) -> Vec<String> {
        self.posts()
            .into_iter()
            .filter(|p| p.status == 200)
            .map(|p| p.body["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path((team, bot, secret)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut inner = inner.lock().unwrap_or_else(|e| e.into_inner());
    let answer = if format!("{team}/{bot}/{secret}") != TOKEN {
        Answer::status(403, "invalid_token")
    } else if let Some(scripted) = inner.script.pop_front() {
        scripted
    } else if json.is_null() {
        Answer::status(400, "invalid_payload")
    } else if json["text"].as_str().is_none_or(str::is_empty) {
        Answer::status(400, "no_text")
    } else {
        Answer::status(200, "ok")
    };
    inner.posts.push(Post {
        content_type: headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: json,
        status: answer.status,
    });
    let status = StatusCode::from_u16(answer.status).expect("a scripted status");
    let mut response = (status, answer.body).into_response();
    if let Some(secs) = answer.retry_after_secs {
        response
            .headers_mut()
            .insert("retry-after", secs.to_string().parse().expect("a number"));
    }
    response
}
