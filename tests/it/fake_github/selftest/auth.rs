//! Authentication is checked on every request, with GitHub's rules and messages.

use http::Method;
use octocrab::Octocrab;
use octocrab::jsonwebtoken::{self, Algorithm, EncodingKey, Header};
use octocrab::models::InstallationId;
use serde_json::json;

use super::{app_client, get, message, scene, send, token_client};
use crate::fake_github::{AuthKind, FakeGitHub, keys};

fn jwt(fake: &FakeGitHub, iss: serde_json::Value, iat_offset: i64, exp_offset: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({ "iss": iss, "iat": now + iat_offset, "exp": now + exp_offset });
    let key = EncodingKey::from_rsa_pem(fake.app_credentials().private_key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

#[tokio::test]
async fn app_jwts_are_verified_like_github() {
    let fake = FakeGitHub::start().await;
    let id = fake.app_credentials().app_id;

    let stranger = app_client(&fake, &keys::generate().private_pem);
    let forged = send(&stranger, Method::GET, "/app", None).await;
    assert_eq!(
        (forged.status, message(&forged)),
        (401, "A JSON web token could not be decoded".to_owned())
    );

    let expired = token_client(&fake, &jwt(&fake, json!(id), -700, -100));
    let answer = send(&expired, Method::GET, "/app", None).await;
    assert_eq!(answer.status, 401);
    assert!(
        message(&answer).starts_with("'Expiration time' claim ('exp') must be"),
        "{}",
        answer.body
    );

    let greedy = token_client(&fake, &jwt(&fake, json!(id), -60, 3600));
    let answer = send(&greedy, Method::GET, "/app", None).await;
    assert_eq!(
        message(&answer),
        "'Expiration time' claim ('exp') is too far in the future"
    );

    let wrong_app = token_client(&fake, &jwt(&fake, json!(id + 1), -60, 540));
    assert_eq!(
        send(&wrong_app, Method::GET, "/app", None).await.status,
        401
    );

    // octocrab sends `iss` as a number; GitHub also accepts a string.
    let as_string = token_client(&fake, &jwt(&fake, json!(id.to_string()), -60, 540));
    assert_eq!(
        send(&as_string, Method::GET, "/app", None).await.status,
        200
    );

    let auth: Vec<AuthKind> = fake.requests().into_iter().map(|r| r.auth).collect();
    assert_eq!(
        auth,
        [
            AuthKind::Invalid,
            AuthKind::Invalid,
            AuthKind::Invalid,
            AuthKind::Invalid,
            AuthKind::AppJwt
        ]
    );
}

#[tokio::test]
async fn installation_tokens_reach_only_their_repositories() {
    let s = scene().await;
    s.fake.repo("octo/gadgets").create();
    let other = s.fake.install("octo", &["octo/gadgets"]);
    let _: serde_json::Value = get(&s.bot, "/repos/octo/widgets").await;
    let outside = send(&s.bot, Method::GET, "/repos/octo/gadgets", None).await;
    assert_eq!(
        (outside.status, message(&outside)),
        (404, "Not Found".to_owned())
    );
    let gadgets_bot = s.app.installation(InstallationId(other)).unwrap();
    let _: serde_json::Value = get(&gadgets_bot, "/repos/octo/gadgets").await;

    let as_app = send(&s.app, Method::GET, "/repos/octo/widgets", None).await;
    assert_eq!(as_app.status, 403, "an App JWT cannot act on repositories");
    let not_app = send(&s.bot, Method::GET, "/app", None).await;
    assert_eq!(not_app.status, 401, "an installation token is not a JWT");
    let anonymous = Octocrab::builder()
        .base_uri(s.fake.api_url())
        .unwrap()
        .build()
        .unwrap();
    let answer = send(&anonymous, Method::GET, "/repos/octo/widgets", None).await;
    assert_eq!(
        (answer.status, message(&answer)),
        (401, "Requires authentication".to_owned())
    );
    let unknown = token_client(&s.fake, "ghp_not_a_token");
    assert_eq!(
        message(&send(&unknown, Method::GET, "/user", None).await),
        "Bad credentials"
    );

    // A token narrowed to no repository of its installation reaches none.
    let mint = format!("/app/installations/{}/access_tokens", s.installation);
    let outsider = send(
        &s.app,
        Method::POST,
        &mint,
        Some(json!({ "repositories": ["gadgets"] })),
    )
    .await;
    assert_eq!(outsider.status, 422);
    s.fake.repo("octo/sprockets").create();
    let both = s.fake.install("octo", &["octo/widgets", "octo/sprockets"]);
    let both_mint = format!("/app/installations/{both}/access_tokens");
    let narrowed = send(
        &s.app,
        Method::POST,
        &both_mint,
        Some(json!({ "repositories": ["sprockets"] })),
    )
    .await;
    assert_eq!(
        narrowed.value()["repositories"][0]["full_name"],
        "octo/sprockets"
    );
    let narrow = token_client(&s.fake, narrowed.value()["token"].as_str().unwrap());
    assert_eq!(
        send(&narrow, Method::GET, "/repos/octo/sprockets", None)
            .await
            .status,
        200
    );
    assert_eq!(
        send(&narrow, Method::GET, "/repos/octo/widgets", None)
            .await
            .status,
        404
    );

    // `token ghs_…` is accepted as well as `Bearer ghs_…`.
    let minted = send(
        &s.app,
        Method::POST,
        &format!("/app/installations/{}/access_tokens", s.installation),
        None,
    )
    .await;
    let token = minted.value()["token"].as_str().unwrap().to_owned();
    let request = http::Request::builder()
        .uri("/repos/octo/widgets")
        .header(http::header::AUTHORIZATION, format!("token {token}"));
    let plain = Octocrab::builder()
        .base_uri(s.fake.api_url())
        .unwrap()
        .build()
        .unwrap();
    let request = plain.build_request(request, None::<&()>).unwrap();
    assert_eq!(plain.execute(request).await.unwrap().status(), 200);
    assert!(
        s.fake
            .requests()
            .iter()
            .any(|r| r.auth == AuthKind::Installation(s.installation))
    );
}

#[tokio::test]
async fn installation_tokens_expire_and_octocrab_mints_new_ones() {
    let s = scene().await;
    for _ in 0..3 {
        let _: serde_json::Value = get(&s.bot, "/repos/octo/widgets").await;
    }
    assert_eq!(
        s.fake.tokens_issued(s.installation),
        1,
        "an hour-long token is reused"
    );

    // octocrab refreshes tokens that expire within 30 s, so a 5 s lifetime means one per call.
    s.fake.set_token_lifetime(std::time::Duration::from_secs(5));
    let fresh = s.app.installation(InstallationId(s.installation)).unwrap();
    for _ in 0..3 {
        let _: serde_json::Value = get(&fresh, "/repos/octo/widgets").await;
    }
    assert_eq!(s.fake.tokens_issued(s.installation), 4);

    // The fake itself refuses a token past its expiry.
    s.fake.set_token_lifetime(std::time::Duration::ZERO);
    let minted = send(
        &s.app,
        Method::POST,
        &format!("/app/installations/{}/access_tokens", s.installation),
        None,
    )
    .await;
    let expired = token_client(&s.fake, minted.value()["token"].as_str().unwrap());
    let answer = send(&expired, Method::GET, "/repos/octo/widgets", None).await;
    assert_eq!(
        (answer.status, message(&answer)),
        (401, "Bad credentials".to_owned())
    );
}
