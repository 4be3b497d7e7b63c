//! How Orion proves itself to a remote: a token handed to libgit2 only when the server asks.

use git2::{Cred, CredentialType, RemoteCallbacks};

use crate::config::Secret;

/// What to authenticate a fetch or push with, given per call because installation tokens
/// expire within the hour and differ per installation.
///
/// The token reaches git only through libgit2's credential callback: it is never put in a remote
/// URL, never written to a repository's config, and its `Debug` is redacted, so neither the
/// workdir nor the logs can leak it.
#[derive(Debug, Clone, Default)]
pub enum Credentials {
    /// No credentials: public repositories and `file://` remotes.
    #[default]
    Anonymous,
    /// A GitHub installation token or personal access token, sent as HTTPS basic auth with the
    /// user name `x-access-token`, which is what GitHub expects for both.
    Token(Secret),
}

impl Credentials {
    /// Callbacks answering the server's credential request once. libgit2 calls the callback again
    /// after a rejection; answering with the same token forever would loop, so the second call fails.
    pub(crate) fn callbacks(&self) -> RemoteCallbacks<'_> {
        let mut callbacks = RemoteCallbacks::new();
        if let Credentials::Token(token) = self {
            let mut offered = false;
            callbacks.credentials(move |_url, _user, allowed| {
                if offered {
                    return Err(git2::Error::from_str(
                        "the remote rejected Orion's token (expired, revoked, or without access to this repository)",
                    ));
                }
                if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                    return Err(git2::Error::from_str(
                        "the remote asked for a credential other than a token (use an HTTPS clone URL)",
                    ));
                }
                offered = true;
                Cred::userpass_plaintext("x-access-token", token.expose())
            });
        }
        callbacks
    }
}
