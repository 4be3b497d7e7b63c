//! Who is calling: App JWTs, installation tokens and personal access tokens, checked the way
//! GitHub checks them.
//!
//! Authentication bugs (a JWT that lives too long, a token used after it expired, an installation
//! token aimed at a repository the App was not granted) only show up against a server that says
//! no, so every request is checked and rejected with GitHub's own messages.

use std::collections::BTreeSet;

use axum::http::HeaderValue;
use octocrab::jsonwebtoken::{self, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::model::{Model, TokenRecord, now};
use super::respond::ApiError;

/// How a recorded request authenticated, for assertions on traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthKind {
    /// No `Authorization` header.
    Anonymous,
    /// A header the fake rejected (bad signature, expired, unknown token).
    Invalid,
    /// A valid App JWT.
    AppJwt,
    /// A valid installation token of this installation.
    Installation(u64),
    /// A valid personal access token of this login.
    PersonalToken(String),
}

/// An authenticated caller, as handlers see it.
#[derive(Debug, Clone)]
pub(super) enum Caller {
    App,
    Installation { id: u64, repos: BTreeSet<String> },
    User(String),
}

impl Caller {
    pub(super) fn kind(&self) -> AuthKind {
        match self {
            Caller::App => AuthKind::AppJwt,
            Caller::Installation { id, .. } => AuthKind::Installation(*id),
            Caller::User(login) => AuthKind::PersonalToken(login.clone()),
        }
    }
}

/// The caller behind an `Authorization` header, or the 401 GitHub would send.
pub(super) fn authenticate(
    model: &Model,
    header: Option<&HeaderValue>,
) -> Result<Caller, (AuthKind, ApiError)> {
    let Some(header) = header else {
        return Err((
            AuthKind::Anonymous,
            ApiError::unauthorized("Requires authentication"),
        ));
    };
    let rejected = |message: &str| (AuthKind::Invalid, ApiError::unauthorized(message));
    let value = header.to_str().map_err(|_| rejected("Bad credentials"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| rejected("Bad credentials"))?;
    let token = token.trim();
    let bearer = scheme.eq_ignore_ascii_case("bearer");
    if !bearer && !scheme.eq_ignore_ascii_case("token") {
        return Err(rejected("Bad credentials"));
    }
    if bearer && token.split('.').count() == 3 {
        return verify_jwt(model, token)
            .map(|()| Caller::App)
            .map_err(|e| (AuthKind::Invalid, e));
    }
    match model.tokens.get(token) {
        Some(TokenRecord::Installation {
            installation,
            expires_at,
            repos,
        }) if *expires_at > now() => {
            let granted = &model.installations[installation].repos;
            let repos = match repos {
                Some(subset) => granted.intersection(subset).cloned().collect(),
                None => granted.clone(),
            };
            Ok(Caller::Installation {
                id: *installation,
                repos,
            })
        }
        Some(TokenRecord::Personal { login }) => Ok(Caller::User(login.clone())),
        _ => Err(rejected("Bad credentials")),
    }
}

/// Checks an App JWT as GitHub does: RS256 signed by the App's key, `iss` naming the App (as a
/// number or a string), not expired, and valid for at most ten minutes (plus a minute of clock
/// drift, which is why octocrab back-dates `iat` by 60 s).
fn verify_jwt(model: &Model, token: &str) -> Result<(), ApiError> {
    let undecodable = || ApiError::unauthorized("A JSON web token could not be decoded");
    let key = DecodingKey::from_rsa_pem(model.app.public_key_pem.as_bytes())
        .expect("the App's public key is a valid PEM");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map_err(|_| undecodable())?
        .claims;
    let issuer = match &claims["iss"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    if issuer != Some(model.app.id) {
        return Err(undecodable());
    }
    let now = now().timestamp();
    let bad_iat = || {
        ApiError::unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued.",
        )
    };
    let bad_exp = || {
        ApiError::unauthorized(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires.",
        )
    };
    let iat = claims["iat"].as_i64().ok_or_else(bad_iat)?;
    let exp = claims["exp"].as_i64().ok_or_else(bad_exp)?;
    if iat > now + 60 {
        return Err(bad_iat());
    }
    if exp <= now {
        return Err(bad_exp());
    }
    if exp - iat > 600 + 60 || exp > now + 600 + 60 {
        return Err(ApiError::unauthorized(
            "'Expiration time' claim ('exp') is too far in the future",
        ));
    }
    Ok(())
}
