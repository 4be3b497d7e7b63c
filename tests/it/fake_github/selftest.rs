//! Self-tests of the fake GitHub: every answer deserializes into octocrab 0.54's models when
//! fetched through the real octocrab client, and the behaviours other tests lean on (auth,
//! pagination, git-backed code, review validation, faults) hold.
//!
//! Run with `cargo test --test it fake_github`.

mod auth;
mod faults;
mod pulls;
mod shapes;

use http::{HeaderMap, Method};
use octocrab::Octocrab;
use octocrab::jsonwebtoken::EncodingKey;
use octocrab::models::{AppId, InstallationId};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{FakeGitHub, RepoHandle};

pub const LIB: &str = "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n\npub fn sub(a: i32, b: i32) -> i32 {\n    a - b\n}\n";

/// One repository with the App installed on it, and a client per identity.
pub struct Scene {
    pub fake: FakeGitHub,
    pub repo: RepoHandle,
    pub installation: u64,
    /// Authenticates as the App (JWT).
    pub app: Octocrab,
    /// Authenticates as the installation (octocrab mints and caches tokens).
    pub bot: Octocrab,
}

pub async fn scene() -> Scene {
    let fake = FakeGitHub::start().await;
    let repo = fake
        .repo("octo/widgets")
        .default_branch("main")
        .file("README.md", "# Widgets\n")
        .file("src/lib.rs", LIB)
        .create();
    let installation = fake.install("octo", &["octo/widgets"]);
    let app = app_client(&fake, &fake.app_credentials().private_key_pem);
    let bot = app
        .installation(InstallationId(installation))
        .expect("installation client");
    Scene {
        fake,
        repo,
        installation,
        app,
        bot,
    }
}

pub fn app_client(fake: &FakeGitHub, private_key_pem: &str) -> Octocrab {
    let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).expect("PEM key");
    Octocrab::builder()
        .base_uri(fake.api_url())
        .expect("base uri")
        .app(AppId(fake.app_credentials().app_id), key)
        .build()
        .expect("octocrab client")
}

/// A client sending `Authorization: Bearer <token>` (a PAT, an installation token or a JWT).
pub fn token_client(fake: &FakeGitHub, token: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(fake.api_url())
        .expect("base uri")
        .personal_token(token.to_owned())
        .build()
        .expect("octocrab client")
}

/// An answer as the wire carried it.
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body as an octocrab model (or any other type); panics with the body when it does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} into {}: {e}\n{}",
                self.status,
                std::any::type_name::<T>(),
                self.body
            )
        })
    }

    pub fn value(&self) -> Value {
        self.json()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .expect("ASCII header")
    }
}

/// Sends a raw request through octocrab (its auth, its middleware), with an optional `Accept`.
pub async fn send_accept(
    crab: &Octocrab,
    method: Method,
    path: &str,
    body: Option<Value>,
    accept: Option<&str>,
) -> Answer {
    let mut builder = http::Request::builder().method(method).uri(path);
    if let Some(accept) = accept {
        builder = builder.header(http::header::ACCEPT, accept);
    }
    let request = crab
        .build_request(builder, body.as_ref())
        .expect("request builds");
    let response = crab.execute(request).await.expect("the fake answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = crab.body_to_string(response).await.expect("UTF-8 body");
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn send(crab: &Octocrab, method: Method, path: &str, body: Option<Value>) -> Answer {
    send_accept(crab, method, path, body, None).await
}

/// GETs `path` and deserializes a 200 into `T`.
pub async fn get<T: DeserializeOwned>(crab: &Octocrab, path: &str) -> T {
    let answer = send(crab, Method::GET, path, None).await;
    assert_eq!(answer.status, 200, "GET {path}: {}", answer.body);
    answer.json()
}

/// The `message` of an error answer.
pub fn message(answer: &Answer) -> String {
    answer.value()["message"]
        .as_str()
        .expect("errors have a message")
        .to_owned()
}
