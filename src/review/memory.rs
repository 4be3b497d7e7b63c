//! What Orion remembers of each pull request it reviews: the head it last reviewed, and every
//! finding it raised with what became of it. This is what keeps a review incremental and
//! quiet: a finding already on the PR is not posted again, and one a human resolved,
//! dismissed or disputed is never raised again, whatever the model says next time.

use sqlx::Row;

use crate::event::{IssueNumber, RepoName};
use crate::store::{Store, now_ms};

/// What became of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingState {
    /// Posted and not settled: `/orion fix` works on these.
    Open,
    /// A human resolved its thread.
    Resolved,
    /// A human dismissed the review that carried it.
    Dismissed,
    /// A human answered it with disagreement.
    Disputed,
    /// Orion's fix addressed it.
    Addressed,
}

impl FindingState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
            Self::Disputed => "disputed",
            Self::Addressed => "addressed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "resolved" => Self::Resolved,
            "dismissed" => Self::Dismissed,
            "disputed" => Self::Disputed,
            "addressed" => Self::Addressed,
            _ => Self::Open,
        }
    }
}

/// A finding as remembered.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    pub fingerprint: String,
    pub path: String,
    pub line: Option<u32>,
    pub severity: String,
    pub title: String,
    pub state: FindingState,
    pub comment_id: Option<u64>,
}

/// A finding just posted, to remember.
#[derive(Debug, Clone)]
pub struct Posted<'a> {
    pub fingerprint: &'a str,
    pub path: &'a str,
    pub line: Option<u32>,
    pub severity: &'a str,
    pub title: &'a str,
    pub comment_id: Option<u64>,
}

/// The review memory. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ReviewMemory {
    store: Store,
}

impl ReviewMemory {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The head Orion last reviewed on this pull request.
    pub async fn last_reviewed(
        &self,
        repo: &RepoName,
        pr: IssueNumber,
    ) -> anyhow::Result<Option<String>> {
        let row = sqlx::query("SELECT head_sha FROM pr_reviews WHERE repo = $1 AND pr = $2")
            .bind(repo.as_str())
            .bind(pr.0 as i64)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|r| r.get("head_sha")))
    }

    /// Every finding raised on the pull request, in any state.
    pub async fn findings(
        &self,
        repo: &RepoName,
        pr: IssueNumber,
    ) -> anyhow::Result<Vec<Remembered>> {
        let rows = sqlx::query(
            "SELECT fingerprint, path, line, severity, title, state, comment_id
             FROM review_findings WHERE repo = $1 AND pr = $2 ORDER BY created_at, fingerprint",
        )
        .bind(repo.as_str())
        .bind(pr.0 as i64)
        .fetch_all(self.store.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| Remembered {
                fingerprint: r.get("fingerprint"),
                path: r.get("path"),
                line: r.get::<Option<i64>, _>("line").map(|l| l as u32),
                severity: r.get("severity"),
                title: r.get("title"),
                state: FindingState::parse(r.get::<String, _>("state").as_str()),
                comment_id: r.get::<Option<i64>, _>("comment_id").map(|c| c as u64),
            })
            .collect())
    }

    /// Records a review of `head` and the findings it posted, in one write. A finding already
    /// remembered keeps its state (a re-post can only happen for an open one, found again).
    pub async fn record_review(
        &self,
        repo: &RepoName,
        pr: IssueNumber,
        head: &str,
        review_id: Option<u64>,
        posted: &[Posted<'_>],
    ) -> anyhow::Result<()> {
        let now = now_ms();
        let mut tx = self.store.begin_write().await?;
        sqlx::query(
            "INSERT INTO pr_reviews (repo, pr, head_sha, reviewed_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (repo, pr) DO UPDATE SET head_sha = $3, reviewed_at = $4",
        )
        .bind(repo.as_str())
        .bind(pr.0 as i64)
        .bind(head)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for f in posted {
            sqlx::query(
                "INSERT INTO review_findings
                     (repo, pr, fingerprint, path, line, severity, title, state, comment_id,
                      review_id, head_sha, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $10, $11, $11)
                 ON CONFLICT (repo, pr, fingerprint) DO UPDATE SET
                     comment_id = COALESCE($8, comment_id),
                     review_id = COALESCE($9, review_id),
                     updated_at = $11",
            )
            .bind(repo.as_str())
            .bind(pr.0 as i64)
            .bind(f.fingerprint)
            .bind(f.path)
            .bind(f.line.map(i64::from))
            .bind(f.severity)
            .bind(f.title)
            .bind(f.comment_id.map(|c| c as i64))
            .bind(review_id.map(|r| r as i64))
            .bind(head)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Settles the finding with this fingerprint (from a comment's marker). Resolving is undone
    /// by unresolving (`Open`); a dispute or dismissal stays. Returns whether one was found.
    pub async fn settle(
        &self,
        repo: &RepoName,
        pr: IssueNumber,
        fingerprint: &str,
        state: FindingState,
    ) -> anyhow::Result<bool> {
        let changed = self
            .store
            .write_one(
                sqlx::query(
                    "UPDATE review_findings SET state = $4, updated_at = $5
                     WHERE repo = $1 AND pr = $2 AND fingerprint = $3
                       AND ($4 <> 'open' OR state = 'resolved')",
                )
                .bind(repo.as_str())
                .bind(pr.0 as i64)
                .bind(fingerprint)
                .bind(state.as_str())
                .bind(now_ms()),
            )
            .await?;
        Ok(changed > 0)
    }

    /// Counts one automatic fix round on the pull request, if fewer than `max` were made;
    /// whether this one may go ahead. One statement, so two reviews racing cannot both pass.
    pub async fn take_auto_fix(
        &self,
        repo: &RepoName,
        pr: IssueNumber,
        max: u32,
    ) -> anyhow::Result<bool> {
        let changed = self
            .store
            .write_one(
                sqlx::query(
                    "UPDATE pr_reviews SET auto_fixes = auto_fixes + 1
                     WHERE repo = $1 AND pr = $2 AND auto_fixes < $3",
                )
                .bind(repo.as_str())
                .bind(pr.0 as i64)
                .bind(i64::from(max)),
            )
            .await?;
        Ok(changed > 0)
    }

    /// Settles every finding a review carried (a dismissed review).
    pub async fn settle_review(
        &self,
        repo: &RepoName,
        review_id: u64,
        state: FindingState,
    ) -> anyhow::Result<u64> {
        self.store
            .write_one(
                sqlx::query(
                    "UPDATE review_findings SET state = $3, updated_at = $4
                     WHERE repo = $1 AND review_id = $2 AND state = 'open'",
                )
                .bind(repo.as_str())
                .bind(review_id as i64)
                .bind(state.as_str())
                .bind(now_ms()),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn memory() -> (ReviewMemory, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::config::StoreConfig {
            url: format!("sqlite://{}", dir.path().join("orion.db").display()),
            ..Default::default()
        };
        let store = Store::open(&config, crate::store::OpenMode::CreateIfMissing)
            .await
            .unwrap();
        (ReviewMemory::new(store), dir)
    }

    fn posted<'a>(fp: &'a str, comment: Option<u64>) -> Posted<'a> {
        Posted {
            fingerprint: fp,
            path: "src/lib.rs",
            line: Some(3),
            severity: "major",
            title: "Unchecked index",
            comment_id: comment,
        }
    }

    #[tokio::test]
    async fn a_review_remembers_its_head_and_findings_and_settled_ones_stay_settled() {
        let (m, _dir) = memory().await;
        let (repo, pr) = (RepoName("o/r".into()), IssueNumber(7));
        assert_eq!(m.last_reviewed(&repo, pr).await.unwrap(), None);
        m.record_review(
            &repo,
            pr,
            "aaa",
            Some(1),
            &[posted("f1", Some(10)), posted("f2", None)],
        )
        .await
        .unwrap();
        assert_eq!(
            m.last_reviewed(&repo, pr).await.unwrap().as_deref(),
            Some("aaa")
        );

        assert!(
            m.settle(&repo, pr, "f1", FindingState::Resolved)
                .await
                .unwrap()
        );
        assert!(
            !m.settle(&repo, pr, "nope", FindingState::Resolved)
                .await
                .unwrap()
        );
        // Found again in the next review: remembered once, still resolved.
        m.record_review(&repo, pr, "bbb", Some(2), &[posted("f1", Some(11))])
            .await
            .unwrap();
        let all = m.findings(&repo, pr).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].state, FindingState::Resolved);
        assert_eq!(all[0].comment_id, Some(11));
        assert_eq!(
            m.last_reviewed(&repo, pr).await.unwrap().as_deref(),
            Some("bbb")
        );

        // Unresolving reopens a resolved finding, but never a disputed one.
        assert!(m.settle(&repo, pr, "f1", FindingState::Open).await.unwrap());
        m.settle(&repo, pr, "f2", FindingState::Disputed)
            .await
            .unwrap();
        assert!(!m.settle(&repo, pr, "f2", FindingState::Open).await.unwrap());

        // Automatic fix rounds are bounded.
        assert!(m.take_auto_fix(&repo, pr, 2).await.unwrap());
        assert!(m.take_auto_fix(&repo, pr, 2).await.unwrap());
        assert!(!m.take_auto_fix(&repo, pr, 2).await.unwrap());

        // Dismissing a review settles the open findings it carried.
        assert_eq!(
            m.settle_review(&repo, 2, FindingState::Dismissed)
                .await
                .unwrap(),
            1
        );
        let states: Vec<_> = m
            .findings(&repo, pr)
            .await
            .unwrap()
            .iter()
            .map(|f| f.state)
            .collect();
        assert_eq!(states, [FindingState::Dismissed, FindingState::Disputed]);
    }
}
