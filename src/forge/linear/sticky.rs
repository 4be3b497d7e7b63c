//! The status comment Orion keeps on a Linear issue: posted once, edited afterwards, across
//! retries, ambiguous timeouts and crashes — the Linear counterpart of GitHub's
//! `Effects::sticky_comment`, over the same effect journal.
//!
//! The journal's entry for the key is scoped to the issue (`linear:<issue id>`). Linear's comment
//! ids are UUIDs and the journal keeps a numeric id, so the entry records a fingerprint of the
//! UUID (its first 60 bits) and the comment's URL; the comment itself is then found among the
//! issue's comments by that fingerprint, or — after a crash left only an intent — by the hidden
//! marker Orion put in its body. Either way only comments written by Orion's own user count.

use super::client::{Comment, Linear};
use super::error::LinearError;
use crate::forge::journal::{EffectRef, Entry, Journal};

/// Times an ambiguous create is looked for and retried before the job gives up for now.
const MAX_AMBIGUOUS_ROUNDS: u32 = 4;
const KIND: &str = "linear_comment";

/// The hidden marker carrying the idempotency key, the same as on GitHub: an HTML comment, which
/// a markdown renderer does not show.
pub fn marker(key: &str) -> String {
    crate::forge::github::marker(key)
}

/// `body` with the marker for `key` as its last line.
pub fn with_marker(body: &str, key: &str) -> String {
    crate::forge::github::with_marker(body, key)
}

/// The journal's numeric stand-in for a comment UUID: its first 15 hex digits.
fn fingerprint(comment_id: &str) -> u64 {
    let hex: String = comment_id
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(15)
        .collect();
    u64::from_str_radix(&hex, 16).unwrap_or(0)
}

fn effect(comment: &Comment) -> EffectRef {
    EffectRef {
        id: fingerprint(&comment.id),
        url: Some(comment.url.clone()),
    }
}

fn check_key(key: &str) -> Result<(), LinearError> {
    let ok = !key.is_empty()
        && key.len() <= 200
        && !key.contains("--")
        && key.chars().all(|c| c.is_ascii_graphic() && c != '>');
    if ok {
        Ok(())
    } else {
        Err(LinearError::Setup(format!(
            "{key:?} is not a usable idempotency key (printable ASCII, no spaces, '--' or '>')"
        )))
    }
}

impl Linear {
    /// The status comment `key` on the issue (its UUID) says `body`: created the first time,
    /// edited in place afterwards, and created again if a human deleted it. Returns the comment.
    pub async fn sticky_comment(
        &self,
        journal: &Journal,
        key: &str,
        issue_id: &str,
        body: &str,
    ) -> Result<Comment, LinearError> {
        check_key(key)?;
        let scope = format!("linear:{issue_id}");
        let _claim = journal.claim(&scope, key).await;
        let journal_err = |e: anyhow::Error| LinearError::Journal(format!("{e:#}"));
        let text = with_marker(body, key);
        let entry = journal.get(&scope, key).await.map_err(journal_err)?;
        let existing = match &entry {
            Some(Entry::Done(done)) => self.find_own(issue_id, key, Some(done.id)).await?,
            Some(Entry::Intent { .. }) => self.find_own(issue_id, key, None).await?,
            None => None,
        };
        if let Some(comment) = existing {
            let comment = if comment.body == text {
                comment
            } else {
                self.update_comment(&comment.id, &text).await?
            };
            journal
                .done(&scope, key, KIND, &effect(&comment))
                .await
                .map_err(journal_err)?;
            return Ok(comment);
        }
        if matches!(entry, Some(Entry::Done(_))) {
            tracing::info!(
                key,
                issue_id,
                "status comment was deleted, posting it again"
            );
        }
        let backoff = self.transport().backoff();
        let mut round = 0;
        loop {
            round += 1;
            journal
                .intend(&scope, key, KIND)
                .await
                .map_err(journal_err)?;
            let error = match self.create_comment(issue_id, &text).await {
                Ok(comment) => {
                    crate::failpoint::pause("forge.created.linear_comment").await;
                    journal
                        .done(&scope, key, KIND, &effect(&comment))
                        .await
                        .map_err(journal_err)?;
                    return Ok(comment);
                }
                Err(e @ LinearError::Ambiguous { .. }) => e,
                Err(e) => return Err(e),
            };
            if let Some(comment) = self.find_own(issue_id, key, None).await? {
                journal
                    .done(&scope, key, KIND, &effect(&comment))
                    .await
                    .map_err(journal_err)?;
                return Ok(comment);
            }
            if round >= MAX_AMBIGUOUS_ROUNDS {
                return Err(error);
            }
            tracing::warn!(key, %error, "comment outcome unknown and not found on Linear, retrying");
            let pause = backoff.delay(round, &mut rand::rng());
            tokio::time::sleep(pause).await;
        }
    }

    /// Orion's newest comment on the issue that is the journal's (`fingerprint`) or, without
    /// one, that carries `key`'s marker.
    async fn find_own(
        &self,
        issue_id: &str,
        key: &str,
        fingerprint_id: Option<u64>,
    ) -> Result<Option<Comment>, LinearError> {
        let me = self.viewer().await?.id.clone();
        let mark = marker(key);
        let comments = self.comments(issue_id).await?;
        Ok(comments.into_iter().rev().find(|c| {
            c.user.as_ref().is_some_and(|u| u.id == me)
                && match fingerprint_id {
                    Some(id) => fingerprint(&c.id) == id || c.body.contains(&mark),
                    None => c.body.contains(&mark),
                }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_fit_the_journal_and_tell_uuids_apart() {
        let a = fingerprint("0f8e3a52-7c1b-4d2e-9a4f-1b2c3d4e5f60");
        let b = fingerprint("0f8e3a52-7c1b-4d2e-9a4f-ffffffffffff");
        let c = fingerprint("1f8e3a52-7c1b-4d2e-9a4f-1b2c3d4e5f60");
        assert!(a <= i64::MAX as u64);
        assert_eq!(a, b, "only the first 60 bits count");
        assert_ne!(a, c);
        assert!(check_key("task:42/status").is_ok());
        assert!(check_key("a b").is_err());
    }
}
