//! Test harness: a real Orion on loopback (port 0) with a fresh SQLite file, and typed helpers
//! that read like what a sender does ("GitHub delivers issues.labeled") and what a user sees.

use std::path::{Path, PathBuf};
use std::time::Duration;

use orion_bot::app::Orion;
use orion_bot::config::{Config, Secret, Secrets};
use orion_bot::event::Event;
use orion_bot::webhook::signature;
use sqlx::Row;
use tempfile::TempDir;

pub const SECRET: &str = "it-is-a-test-secret-0123456789";
pub const LINEAR_SECRET: &str = "linear-test-signing-secret";

pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

pub fn now_ms() -> i64 {
    orion_bot::store::now_ms()
}

pub struct TestApp {
    pub orion: Option<Orion>,
    pub base: String,
    pub client: reqwest::Client,
    _dir: TempDir,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i64,
    pub payload: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    pub source: String,
    pub delivery_id: String,
    pub event: String,
    pub outcome: String,
    pub error: Option<String>,
    pub body: Option<Vec<u8>>,
}

/// A fresh, migrated database in `dir` (one per test: tests never share state).
pub async fn fresh_store(dir: &Path) -> orion_bot::store::Store {
    orion_bot::store::Store::open(
        &orion_bot::config::StoreConfig {
            url: format!("sqlite://{}", dir.join("orion.db").display()),
            ..Default::default()
        },
        orion_bot::store::OpenMode::CreateIfMissing,
    )
    .await
    .unwrap()
}

pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".to_owned();
    config.store.url = format!("sqlite://{}", dir.join("orion.db").display());
    config.queue.poll_ms = 50;
    config.git.workdir = dir.join("work");
    config
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_secrets(
            Secrets {
                github_webhook: vec![Secret::new(SECRET)],
                linear_webhook: Some(Secret::new(LINEAR_SECRET)),
                ..Default::default()
            },
            tweak,
        )
        .await
    }

    pub async fn spawn_with_secrets(secrets: Secrets, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let orion = Orion::start(config, secrets, orion_bot::jobs::registry)
            .await
            .expect("orion starts");
        Self {
            base: format!("http://{}", orion.addr()),
            orion: Some(orion),
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn store(&self) -> &orion_bot::store::Store {
        self.orion.as_ref().unwrap().state.store()
    }

    /// GitHub delivers `body` as event `event` with delivery id `delivery`, signed with [`SECRET`].
    pub async fn github(
        &self,
        event: &str,
        delivery: &str,
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let request = self
            .client
            .post(format!("{}/webhooks/github", self.base))
            .header("X-GitHub-Event", event)
            .header("X-GitHub-Delivery", delivery)
            .header("Content-Type", "application/json")
            .header(
                "X-Hub-Signature-256",
                signature::github_header(SECRET, body),
            )
            .body(body.to_vec());
        send(request).await
    }

    /// Linear delivers `body` (signed with [`LINEAR_SECRET`]), optionally with a `Linear-Delivery` id.
    pub async fn linear(&self, body: &[u8], delivery: Option<&str>) -> (u16, serde_json::Value) {
        let mut request = self
            .client
            .post(format!("{}/webhooks/linear", self.base))
            .header("Content-Type", "application/json; charset=utf-8")
            .header("Linear-Signature", signature::sign_hex(LINEAR_SECRET, body))
            .body(body.to_vec());
        if let Some(d) = delivery {
            request = request.header("Linear-Delivery", d);
        }
        send(request).await
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.base))
    }

    pub async fn jobs(&self) -> Vec<JobRow> {
        sqlx::query("SELECT id, kind, state, attempts, payload, last_error FROM jobs ORDER BY id")
            .fetch_all(self.store().pool())
            .await
            .unwrap()
            .into_iter()
            .map(|r| JobRow {
                id: r.get(0),
                kind: r.get(1),
                state: r.get(2),
                attempts: r.get(3),
                payload: r.get(4),
                last_error: r.get(5),
            })
            .collect()
    }

    pub async fn events(&self) -> Vec<Event> {
        self.jobs()
            .await
            .iter()
            .map(|j| serde_json::from_str(&j.payload).expect("job payload is an Event"))
            .collect()
    }

    pub async fn deliveries(&self) -> Vec<DeliveryRow> {
        sqlx::query(
            "SELECT source, delivery_id, event, outcome, error, body FROM deliveries ORDER BY id",
        )
        .fetch_all(self.store().pool())
        .await
        .unwrap()
        .into_iter()
        .map(|r| DeliveryRow {
            source: r.get(0),
            delivery_id: r.get(1),
            event: r.get(2),
            outcome: r.get(3),
            error: r.get(4),
            body: r.get(5),
        })
        .collect()
    }

    /// Waits until every job has left `queued`/`running`, i.e. the workers caught up.
    pub async fn drain(&self) {
        wait_until(Duration::from_secs(10), || async {
            self.jobs()
                .await
                .iter()
                .all(|j| j.state == "done" || j.state == "dead")
        })
        .await;
    }

    pub async fn shutdown(mut self) {
        self.orion.take().unwrap().shutdown().await.unwrap();
    }
}

pub async fn send(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("request reaches orion");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// Polls `cond` until true; panics with a clear message after `limit` (a hang guard, not a timing assertion).
pub async fn wait_until<F, Fut>(limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !cond().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Linear corpus body with a fresh `webhookTimestamp` (the corpus bodies predate the field).
pub fn linear_body(path: &Path, timestamp_ms: i64) -> Vec<u8> {
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    value["webhookTimestamp"] = timestamp_ms.into();
    serde_json::to_vec(&value).unwrap()
}

/// Posts `body` to a running Orion at `base` as GitHub would: event, delivery id, signature.
pub async fn post_github(base: &str, event: &str, delivery: &str, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(format!("{base}/webhooks/github"))
        .header("X-GitHub-Event", event)
        .header("X-GitHub-Delivery", delivery)
        .header("Content-Type", "application/json")
        .header(
            "X-Hub-Signature-256",
            signature::github_header(SECRET, &body),
        )
        .body(body)
        .send()
        .await
        .expect("request reaches orion")
        .status()
        .as_u16()
}

/// One model call as a whole attempt of `run`: begin, call, finish with what happened.
pub async fn one_call(
    run: &mut orion_bot::llm::TaskRun,
    req: &orion_bot::llm::ChatRequest,
) -> Result<orion_bot::llm::ChatResponse, orion_bot::llm::CallError> {
    use orion_bot::llm::{AttemptOutcome, CallError};
    let mut attempt = run.begin(req).await?;
    let result = run.call(&mut attempt, req).await;
    let outcome = match &result {
        Ok(_) => AttemptOutcome::Succeeded,
        Err(CallError::Provider(e)) => AttemptOutcome::Error(e.clone()),
        Err(CallError::Blocked(b)) => AttemptOutcome::Failed(b.to_string()),
    };
    run.finish(attempt, outcome).await;
    result
}
