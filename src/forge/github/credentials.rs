//! Who Orion is on GitHub: a GitHub App (the normal case) or a personal access token.

use std::fmt;
use std::path::Path;

use crate::config::{Problem, Secret};

pub const APP_ID_ENV: &str = "ORION_GITHUB_APP_ID";
pub const APP_PRIVATE_KEY_ENV: &str = "ORION_GITHUB_APP_PRIVATE_KEY";
pub const TOKEN_ENV: &str = "ORION_GITHUB_TOKEN";

/// The raw GitHub secrets as the environment gave them; [`GitHubCredentials::resolve`] checks
/// them. Kept raw so that loading never fails: `orion check` reports every problem at once.
#[derive(Debug, Clone, Default)]
pub struct GitHubSecrets {
    pub app_id: Option<String>,
    /// PEM text, or the path of a PEM file (what GitHub lets you download).
    pub app_private_key: Option<Secret>,
    pub token: Option<Secret>,
}

impl GitHubSecrets {
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        Self {
            app_id: non_empty(APP_ID_ENV).map(|v| v.trim().to_owned()),
            app_private_key: non_empty(APP_PRIVATE_KEY_ENV).map(Secret::new),
            token: non_empty(TOKEN_ENV).map(|v| Secret::new(v.trim())),
        }
    }
}

/// How Orion authenticates. A GitHub App acts per installation with short-lived tokens it mints
/// itself (and comments as `app[bot]`); a personal access token acts everywhere as one user and is
/// the quick way to try Orion on a personal repository.
#[derive(Clone)]
pub enum GitHubCredentials {
    App {
        app_id: u64,
        /// The app's RSA private key, PEM.
        private_key: Secret,
    },
    Token(Secret),
}

impl fmt::Debug for GitHubCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::App { app_id, .. } => write!(f, "GitHubApp({app_id})"),
            Self::Token(_) => f.write_str("PersonalAccessToken(<redacted>)"),
        }
    }
}

impl GitHubCredentials {
    /// Turns the raw secrets into credentials: `None` when none are set (Orion then only receives
    /// webhooks), a [`Problem`] naming the variable when they are unusable. An App wins over a token
    /// when both are set, because the App's tokens are scoped and short-lived.
    pub fn resolve(secrets: &GitHubSecrets) -> Result<Option<Self>, Problem> {
        let problem = |key: &str, message: String, fix: &str| Problem {
            key: key.to_owned(),
            message,
            fix: fix.to_owned(),
        };
        match (&secrets.app_id, &secrets.app_private_key) {
            (Some(id), Some(key)) => {
                let app_id = id.parse::<u64>().map_err(|_| {
                    problem(
                        APP_ID_ENV,
                        format!("{id:?} is not a number"),
                        "use the numeric App ID from the app's settings page",
                    )
                })?;
                let pem = read_pem(key)?;
                octocrab::jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose().as_bytes())
                    .map_err(|e| {
                        problem(
                            APP_PRIVATE_KEY_ENV,
                            format!("is not an RSA private key in PEM form: {e}"),
                            "use the .pem file GitHub generated for the app (its text or its path)",
                        )
                    })?;
                Ok(Some(Self::App {
                    app_id,
                    private_key: pem,
                }))
            }
            (Some(_), None) => Err(problem(
                APP_PRIVATE_KEY_ENV,
                "is not set but ORION_GITHUB_APP_ID is".into(),
                "set it to the app's private key (PEM text or a file path)",
            )),
            (None, Some(_)) => Err(problem(
                APP_ID_ENV,
                "is not set but ORION_GITHUB_APP_PRIVATE_KEY is".into(),
                "set it to the numeric App ID",
            )),
            (None, None) => Ok(secrets.token.clone().map(Self::Token)),
        }
    }
}

/// The key is PEM text when it looks like PEM, otherwise the path of a PEM file.
fn read_pem(value: &Secret) -> Result<Secret, Problem> {
    let raw = value.expose().trim();
    if raw.starts_with("-----BEGIN") {
        // Some environments cannot hold newlines and carry them as the two characters `\n`.
        return Ok(Secret::new(raw.replace("\\n", "\n")));
    }
    std::fs::read_to_string(Path::new(raw))
        .map(Secret::new)
        .map_err(|e| Problem {
            key: APP_PRIVATE_KEY_ENV.to_owned(),
            // The value is a path here, not key material, so naming it helps and leaks nothing.
            message: format!("is neither PEM text nor a readable file ({raw}: {e})"),
            fix: "set the PEM text itself, or the path of the .pem file".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(pairs: &[(&str, &str)]) -> GitHubSecrets {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GitHubSecrets::from_vars(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn nothing_set_means_no_credentials_and_a_token_is_a_token() {
        assert!(GitHubCredentials::resolve(&secrets(&[])).unwrap().is_none());
        let token = GitHubCredentials::resolve(&secrets(&[(TOKEN_ENV, " ghp_abc ")]))
            .unwrap()
            .unwrap();
        match &token {
            GitHubCredentials::Token(t) => assert_eq!(t.expose(), "ghp_abc"),
            other => panic!("{other:?}"),
        }
        assert_eq!(format!("{token:?}"), "PersonalAccessToken(<redacted>)");
    }

    #[test]
    fn half_an_app_or_a_bad_key_names_the_variable() {
        let err = GitHubCredentials::resolve(&secrets(&[(APP_ID_ENV, "12")])).unwrap_err();
        assert_eq!(err.key, APP_PRIVATE_KEY_ENV);
        let err =
            GitHubCredentials::resolve(&secrets(&[(APP_ID_ENV, "x"), (APP_PRIVATE_KEY_ENV, "k")]))
                .unwrap_err();
        assert_eq!(err.key, APP_ID_ENV);
        let err = GitHubCredentials::resolve(&secrets(&[
            (APP_ID_ENV, "12"),
            (APP_PRIVATE_KEY_ENV, "/nonexistent/key.pem"),
        ]))
        .unwrap_err();
        assert_eq!(err.key, APP_PRIVATE_KEY_ENV);
        assert!(err.message.contains("/nonexistent/key.pem"), "{err}");
        let err = GitHubCredentials::resolve(&secrets(&[
            (APP_ID_ENV, "12"),
            (
                APP_PRIVATE_KEY_ENV,
                "-----BEGIN RSA PRIVATE KEY-----\\nnot a key\\n-----END RSA PRIVATE KEY-----",
            ),
        ]))
        .unwrap_err();
        assert!(err.message.contains("not an RSA private key"), "{err}");
        assert!(
            !err.message.contains("not a key"),
            "the key text is never echoed: {err}"
        );
    }
}
