//! The review job: one pull request at one head becomes at most one GitHub review (inline
//! comments on the exact lines) and one sticky summary comment, edited in place on every push.
//!
//! The diff comes from the repository's mirror (no API quota, no size cap). On a push only the
//! new commits are reviewed, and nothing already raised on the pull request is raised again:
//! the memory ([`ReviewMemory`]) and the fingerprints in Orion's own comments both say what
//! was. Every chunk of a large diff is reviewed (bounded in parallel), and the summary states
//! the coverage and what was skipped and why.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;

use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

use super::memory::{Posted, ReviewMemory};
use super::{
    ChunkFindings, ChunkOptions, Diff, Fingerprint, Kept, LINE_FORMAT, Merged, Placement,
    ReviewPlan, Severity, SkipRules, merge, trivial_reason,
};
use crate::app::Services;
use crate::event::{InstallationId, IssueNumber, RepoName};
use crate::forge::github::{NewReview, Repo, ReviewEvent};
use crate::implement::prompts::{
    IssueContext, PathInstruction, PullReviewContext, RepoContext, Role,
};
use crate::implement::verify::{RepoSettings, SETTINGS_PATH};
use crate::implement::{GitAccess, forge_error as forge};
use crate::llm::{Blocked, Complexity, OutputSchema, Risk, TaskKind, TaskSpec};
use crate::queue::JobError;
use octocrab::models::pulls::PullRequest;

/// The job kind.
pub const JOB: &str = "review";

/// The job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewJob {
    pub repo: RepoName,
    pub installation: Option<InstallationId>,
    pub pull: IssueNumber,
    /// Asked for by `/orion review`: a full review, whatever the configuration skips.
    pub forced: bool,
}

/// Why a pull request was not reviewed (logged; a forced review says it in the summary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    Closed,
    Draft,
    Bot(String),
    Off,
    AlreadyReviewed,
}

/// Who opened `pull`, and whether that is a bot.
pub(crate) fn author_of(pull: &PullRequest) -> (String, bool) {
    match &pull.user {
        Some(u) => (
            u.login.clone(),
            u.r#type == "Bot" || u.login.ends_with("[bot]"),
        ),
        None => (String::new(), false),
    }
}

/// Why `pull` at its current head is not reviewed, if it is not: `me` is Orion's login, `last`
/// the head it last reviewed, `forced` a `/orion review`, `reviews_on` the repository's own
/// settings. The heartbeat asks the same before it queues a review.
pub(crate) fn skip(
    cfg: &super::config::ReviewConfig,
    pull: &PullRequest,
    me: &str,
    last: Option<&str>,
    forced: bool,
    reviews_on: bool,
) -> Option<Skip> {
    let (author, is_bot) = author_of(pull);
    if pull.state != Some(octocrab::models::IssueState::Open) {
        Some(Skip::Closed)
    } else if forced {
        None
    } else if !cfg.enabled || !reviews_on {
        Some(Skip::Off)
    } else if pull.draft == Some(true) && !cfg.drafts {
        Some(Skip::Draft)
    } else if is_bot && !cfg.bots && author != me {
        Some(Skip::Bot(author))
    } else if last == Some(pull.head.sha.as_str()) {
        Some(Skip::AlreadyReviewed)
    } else {
        None
    }
}

/// Reviews the pull request at its current head.
pub async fn run(
    s: &Services,
    job: &ReviewJob,
    cancel: &CancellationToken,
) -> Result<(), JobError> {
    let github = s.github_required()?;
    let cfg = &s.config.review;
    let repo = github.repo(job.installation, &job.repo).map_err(forge)?;
    let effects = s.effects(github.clone(), repo.clone());
    let me = github.identity().await.map_err(forge)?.login.clone();
    let pull = repo.pull(job.pull).await.map_err(forge)?;
    let (settings, settings_problem) = repo_settings(&repo).await?;
    let memory = ReviewMemory::new(s.store.clone());
    let last = memory
        .last_reviewed(&job.repo, job.pull)
        .await
        .map_err(JobError::Retry)?;

    let head = pull.head.sha.clone();
    let (author, _) = author_of(&pull);
    let skip = skip(
        cfg,
        &pull,
        &me,
        last.as_deref(),
        job.forced,
        settings.reviews_on(),
    );
    if let Some(skip) = skip {
        tracing::info!(repo = %job.repo, pull = %job.pull, ?skip, "pull request not reviewed");
        return Ok(());
    }

    let access = GitAccess::of(&github, &repo, job.installation).await?;
    let checkout = s
        .workspaces
        .pull_request(
            &access.clone_url,
            &access.creds,
            job.pull,
            &pull.base.ref_field,
            &head,
        )
        .await
        .map_err(JobError::Retry)?;
    let full_text = checkout
        .diff_from(&checkout.merge_base)
        .await
        .map_err(JobError::Retry)?;
    let full = Diff::parse(&full_text).map_err(|e| JobError::Fatal(e.into()))?;
    // On a push, only what changed since the last review; a force push rewrote that history
    // away, so the whole pull request is reviewed again (and what was said stays unsaid).
    let mut since = None;
    if let Some(last) = last.filter(|_| !job.forced)
        && checkout.contains(&last).await.map_err(JobError::Retry)?
    {
        since = Some(last);
    }
    let reviewed = match &since {
        Some(from) => {
            let text = checkout.diff_from(from).await.map_err(JobError::Retry)?;
            Diff::parse(&text).map_err(|e| JobError::Fatal(e.into()))?
        }
        None => full.clone(),
    };

    let (rules, rules_problem) = match SkipRules::new(
        &settings.review_paths.include,
        &settings.review_paths.exclude,
    ) {
        Ok(rules) => (rules, None),
        Err(e) => (
            SkipRules::default(),
            Some(format!(
                "`{SETTINGS_PATH}` has a bad `review_paths` glob ({e}); all paths were reviewed"
            )),
        ),
    };
    let paths: Vec<String> = reviewed
        .files
        .iter()
        .filter_map(|f| f.new_path.clone())
        .collect();
    let head_files = checkout
        .files_at_head(paths)
        .await
        .map_err(JobError::Retry)?;
    let plan = super::plan(
        &reviewed,
        &rules,
        &ChunkOptions {
            max_tokens: cfg.chunk_tokens,
            context_lines: cfg.context_lines,
        },
        &head_files,
    );
    let trivial = trivial_reason(&reviewed);

    // The repository's instructions and per-path notes; prompts overridable per repository.
    let instructions = repo.instructions().await.map_err(forge)?;
    let prompts = crate::implement::repo_prompts(&repo, &[Role::PullReview]).await?;
    let repo_ctx = RepoContext {
        instructions,
        file_tree: String::new(),
        test_command: None,
    };
    let pull_ctx = IssueContext {
        repo: job.repo.to_string(),
        number: job.pull.0,
        reference: format!("{}#{}", job.repo, job.pull.0),
        title: pull.title.clone().unwrap_or_default(),
        body: pull.body.clone().unwrap_or_default(),
        author: author.clone(),
        comments: Vec::new(),
    };
    // The issue the pull request says it resolves: what the change is for.
    let linked = match linked_issue(pull_ctx.body.as_str()) {
        Some(number) => match repo.issue(number).await {
            Ok(issue) => Some(IssueContext {
                repo: job.repo.to_string(),
                number: number.0,
                reference: format!("{}#{}", job.repo, number.0),
                title: issue.title.clone(),
                body: issue.body.clone().unwrap_or_default(),
                author: issue.user.login.clone(),
                comments: Vec::new(),
            }),
            Err(e) => {
                tracing::info!(error = %e, "the linked issue could not be read");
                None
            }
        },
        None => None,
    };
    let globs: Vec<(globset::GlobMatcher, PathInstruction)> = settings
        .review_instructions
        .iter()
        .filter_map(|i| {
            let glob = globset::Glob::new(&i.path).ok()?.compile_matcher();
            Some((
                glob,
                PathInstruction {
                    path: i.path.clone(),
                    instructions: i.instructions.clone(),
                },
            ))
        })
        .collect();

    let spec = TaskSpec {
        id: format!("{}#{}/review", job.repo, job.pull.0),
        // Trivial diffs (docs, lock files, formatting) go to the cheap tier, by rule.
        kind: if trivial.is_some() {
            TaskKind::TrivialReview
        } else {
            TaskKind::Review
        },
        complexity: Complexity::Medium,
        risk: Risk::Medium,
        installation: crate::implement::spend_account(job.installation, &job.repo),
        repo: Some(job.repo.to_string()),
        paths: Vec::new(),
    };
    let parts = plan.chunks.len();
    let mut requests = Vec::with_capacity(parts);
    for (i, chunk) in plan.chunks.iter().enumerate() {
        let chunk_paths: Vec<String> = chunk.paths().iter().map(|p| p.to_string()).collect();
        let path_instructions: Vec<PathInstruction> = globs
            .iter()
            .filter(|(g, _)| chunk_paths.iter().any(|p| g.is_match(p)))
            .map(|(_, i)| i.clone())
            .collect();
        let rendered = prompts
            .render(
                Role::PullReview,
                &PullReviewContext {
                    pull: &pull_ctx,
                    linked: linked.as_ref(),
                    repo: &repo_ctx,
                    line_format: LINE_FORMAT,
                    chunk: &chunk.text(),
                    part: i + 1,
                    parts,
                    incremental: since.is_some(),
                    path_instructions: &path_instructions,
                },
            )
            .map_err(|e| JobError::Fatal(e.into()))?;
        let mut req = rendered.into_request();
        req.output = Some(OutputSchema {
            name: "review".into(),
            schema: ChunkFindings::schema(),
        });
        req.max_output_tokens = 4096;
        let spec = TaskSpec {
            paths: chunk_paths,
            ..spec.clone()
        };
        requests.push((chunk.clone(), req, spec));
    }

    // Every chunk, a bounded number at once; a chunk whose models all fail is reported, not
    // dropped silently.
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(cfg.max_parallel.max(1)));
    let mut running = tokio::task::JoinSet::new();
    for (i, (chunk, req, spec)) in requests.into_iter().enumerate() {
        // Taken before the spawn, so chunks start in order as slots free up.
        let permit = limit.clone().acquire_owned().await.expect("never closed");
        let llm = s.llm.clone();
        running.spawn(async move {
            let _permit = permit;
            let mut run = llm.task(spec);
            let answer = run
                .run_json::<ChunkFindings>(&req, |a| chunk.check(a))
                .await;
            (i, answer)
        });
    }
    let mut findings = Vec::new();
    let mut failed: BTreeMap<usize, Blocked> = BTreeMap::new();
    while let Some(done) = running.join_next().await {
        if cancel.is_cancelled() {
            running.abort_all();
            return Err(JobError::Retry(anyhow::anyhow!("shutting down mid-review")));
        }
        let (i, answer) = done.map_err(|e| JobError::Retry(e.into()))?;
        match answer {
            Ok(a) => findings.extend(a.findings),
            Err(b) => {
                failed.insert(i, b);
            }
        }
    }

    // What is already on the pull request: remembered, and marked in Orion's own comments (in
    // case the memory is younger than the pull request).
    let remembered = memory
        .findings(&job.repo, job.pull)
        .await
        .map_err(JobError::Retry)?;
    let mut known: HashSet<Fingerprint> = HashSet::new();
    let existing = repo.review_comments(job.pull).await.map_err(forge)?;
    for c in &existing {
        if c.user.as_ref().is_some_and(|u| u.login == me)
            && let Some(fp) = Fingerprint::find_in(&c.body)
        {
            known.insert(fp);
        }
    }
    let remembered_fps: HashSet<&str> = remembered.iter().map(|r| r.fingerprint.as_str()).collect();
    let merged = merge(findings, &full, &cfg.noise(), &known);
    let merged = Merged {
        kept: merged
            .kept
            .into_iter()
            .filter(|k| !remembered_fps.contains(k.fingerprint.as_str()))
            .collect(),
        dropped: merged.dropped,
    };

    // Inline where GitHub takes it, else in the summary.
    let mut comments = Vec::new();
    let mut summary_only: Vec<(&Kept, Placement)> = Vec::new();
    for kept in &merged.kept {
        let placement = kept.finding.place(&full);
        match kept.finding.comment(&placement, &kept.fingerprint) {
            Some(c) => comments.push(c),
            None => summary_only.push((kept, placement)),
        }
    }
    let critical = merged
        .kept
        .iter()
        .any(|k| k.finding.severity == Severity::Critical);
    // GitHub refuses "request changes" on one's own pull request.
    let event = if critical && author != me {
        ReviewEvent::RequestChanges
    } else {
        ReviewEvent::Comment
    };
    let short = &head[..head.len().min(7)];
    let mut review_id = None;
    if !comments.is_empty() || critical {
        let body = review_body(&merged, short);
        // One review per head and set of findings: a redelivered push posts nothing twice,
        // while `/orion review` on the same head with something new to say does post.
        let mut what: Vec<&str> = merged.kept.iter().map(|k| k.fingerprint.as_str()).collect();
        what.sort_unstable();
        let digest = hex::encode(&sha2::Sha256::digest(what.join(",").as_bytes())[..6]);
        let outcome = effects
            .review(
                &format!("review:{}:{head}:{digest}", job.pull.0),
                job.pull,
                &NewReview {
                    commit_id: head.clone(),
                    body,
                    event,
                    comments,
                },
            )
            .await
            .map_err(forge)?;
        review_id = Some(outcome.effect.id);
    }

    // The comments just posted, by fingerprint, so threads can be traced back to findings.
    let posted_comments: BTreeMap<String, u64> = if review_id.is_some() {
        repo.review_comments(job.pull)
            .await
            .map_err(forge)?
            .into_iter()
            .filter(|c| c.user.as_ref().is_some_and(|u| u.login == me))
            .filter_map(|c| Some((Fingerprint::find_in(&c.body)?.to_string(), c.id.0)))
            .collect()
    } else {
        BTreeMap::new()
    };
    let posted: Vec<Posted<'_>> = merged
        .kept
        .iter()
        .map(|k| Posted {
            fingerprint: k.fingerprint.as_str(),
            path: &k.finding.path,
            line: Some(k.finding.end_line),
            severity: k.finding.severity.as_str(),
            title: &k.finding.title,
            comment_id: posted_comments.get(k.fingerprint.as_str()).copied(),
        })
        .collect();

    let summary = Summary {
        critical,
        head: short,
        since: since.as_deref(),
        plan: &plan,
        merged: &merged,
        summary_only: &summary_only,
        failed: &failed,
        parts,
        trivial: trivial.as_deref(),
        problems: [settings_problem, rules_problem]
            .into_iter()
            .flatten()
            .collect(),
        open_before: remembered
            .iter()
            .filter(|r| r.state == super::memory::FindingState::Open)
            .count(),
    }
    .render();
    effects
        .sticky_comment(
            &format!("review-summary:{}", job.pull.0),
            job.pull,
            &summary,
        )
        .await
        .map_err(forge)?;
    // A review whose chunks all failed is not a review: the next push or a retry tries again.
    if failed.len() < parts || parts == 0 {
        memory
            .record_review(&job.repo, job.pull, &head, review_id, &posted)
            .await
            .map_err(JobError::Retry)?;
    }
    // Orion's own pull request with something critical: back to a dev agent, a bounded
    // number of rounds; then it waits for a human like any other.
    if critical
        && author == me
        && memory
            .take_auto_fix(&job.repo, job.pull, s.config.review.auto_fix_rounds)
            .await
            .map_err(JobError::Retry)?
    {
        super::trigger::enqueue_fix(
            s,
            super::fix::FixJob {
                repo: job.repo.clone(),
                installation: job.installation,
                pull: job.pull,
                asked: None,
            },
            &format!("auto:{head}"),
        )
        .await?;
    }
    tracing::info!(repo = %job.repo, pull = %job.pull, head = short, findings = merged.kept.len(),
        chunks = parts, failed = failed.len(), "pull request reviewed");
    Ok(())
}

/// The issue a pull request body says it resolves (`Fixes #12`, `closes #3`, `Resolves: #7`,
/// GitHub's closing keywords), the first one.
fn linked_issue(body: &str) -> Option<IssueNumber> {
    const KEYWORDS: [&str; 9] = [
        "close", "closes", "closed", "fix", "fixes", "fixed", "resolve", "resolves", "resolved",
    ];
    let words: Vec<&str> = body.split_whitespace().collect();
    words.windows(2).find_map(|pair| {
        let keyword = pair[0].trim_end_matches(':').to_ascii_lowercase();
        let number = pair[1].strip_prefix('#')?;
        let digits: String = number.chars().take_while(char::is_ascii_digit).collect();
        (KEYWORDS.contains(&keyword.as_str()) && !digits.is_empty())
            .then(|| digits.parse().ok().map(IssueNumber))
            .flatten()
    })
}

/// The repository's `.github/orion.yml` on its default branch, and what was wrong with it (a
/// broken file reviews with the defaults and says so in the summary).
async fn repo_settings(repo: &Repo) -> Result<(RepoSettings, Option<String>), JobError> {
    let Some(text) = repo.file(SETTINGS_PATH, None).await.map_err(forge)? else {
        return Ok((RepoSettings::default(), None));
    };
    match RepoSettings::parse(&text) {
        Ok((settings, warnings)) => {
            for w in warnings {
                tracing::warn!(repo = %repo.name(), "{w}");
            }
            Ok((settings, None))
        }
        Err(e) => Ok((
            RepoSettings::default(),
            Some(format!("{e}; reviewed with the defaults")),
        )),
    }
}

fn review_body(merged: &Merged, head: &str) -> String {
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for k in &merged.kept {
        *counts.entry(k.finding.severity).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    format!(
        "Orion reviewed `{head}`: {}. The summary comment has the whole picture.",
        if parts.is_empty() {
            "no new findings".to_owned()
        } else {
            parts.join(", ")
        }
    )
}

/// The sticky summary comment.
struct Summary<'a> {
    head: &'a str,
    since: Option<&'a str>,
    plan: &'a ReviewPlan,
    merged: &'a Merged,
    summary_only: &'a [(&'a Kept, Placement)],
    failed: &'a BTreeMap<usize, Blocked>,
    parts: usize,
    trivial: Option<&'a str>,
    problems: Vec<String>,
    open_before: usize,
    /// Whether a kept finding is critical (the review requested changes).
    critical: bool,
}

impl Summary<'_> {
    fn render(&self) -> String {
        let mut out = String::new();
        let verdict = if self.critical {
            "🛑 Changes requested: critical findings"
        } else if self.merged.kept.is_empty() {
            "✅ No new findings"
        } else {
            "💬 Comments"
        };
        let _ = writeln!(out, "### Orion review: {verdict}\n");
        let scope = match self.since {
            Some(from) => format!("the commits since `{}`", &from[..from.len().min(7)]),
            None => "the whole pull request".to_owned(),
        };
        let _ = writeln!(out, "Reviewed {scope} at `{}`.", self.head);
        let _ = writeln!(out, "{}\n", self.plan.coverage_line());
        if let Some(why) = self.trivial {
            let _ = writeln!(
                out,
                "A trivial change ({why}): reviewed by the tactical tier.\n"
            );
        }
        for (i, blocked) in self.failed {
            let _ = writeln!(
                out,
                "⚠️ Part {} of {} could not be reviewed: {blocked}\n",
                i + 1,
                self.parts
            );
        }
        for p in &self.problems {
            let _ = writeln!(out, "⚠️ {p}\n");
        }
        // Per file: findings by severity.
        let mut files: BTreeMap<&str, BTreeMap<Severity, usize>> = BTreeMap::new();
        for k in &self.merged.kept {
            *files
                .entry(k.finding.path.as_str())
                .or_default()
                .entry(k.finding.severity)
                .or_default() += 1;
        }
        if !files.is_empty() {
            out.push_str("| file | critical | major | minor | nit |\n|---|---:|---:|---:|---:|\n");
            for (path, counts) in &files {
                let n = |s| counts.get(&s).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "| `{path}` | {} | {} | {} | {} |",
                    n(Severity::Critical),
                    n(Severity::Major),
                    n(Severity::Minor),
                    n(Severity::Nit)
                );
            }
            out.push('\n');
        }
        if !self.summary_only.is_empty() {
            out.push_str("Findings outside the diff's lines:\n\n");
            for (k, _) in self.summary_only {
                let f = &k.finding;
                let _ = writeln!(
                    out,
                    "- **{}** `{}` line {}: {}",
                    f.severity, f.path, f.start_line, f.title
                );
            }
            out.push('\n');
        }
        let quiet = |d: fn(&super::Dropped) -> bool| self.merged.dropped_count(d);
        let already = quiet(|d| matches!(d, super::Dropped::AlreadyRaised));
        let low = quiet(|d| {
            matches!(
                d,
                super::Dropped::BelowSeverity | super::Dropped::BelowConfidence
            )
        });
        let over = quiet(|d| matches!(d, super::Dropped::OverCap));
        let mut notes = Vec::new();
        if already > 0 {
            notes.push(format!("{already} already raised or settled"));
        }
        if low > 0 {
            notes.push(format!("{low} below the severity or confidence threshold"));
        }
        if over > 0 {
            notes.push(format!("{over} over the comment cap"));
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "Not posted: {}.\n", notes.join(", "));
        }
        if self.open_before > 0 {
            let _ = writeln!(
                out,
                "{} earlier finding(s) still open; `/orion fix` addresses them.\n",
                self.open_before
            );
        }
        out.push_str("<sub>Orion never approves or merges. `/orion review` reviews the whole pull request again; `/orion help` lists the commands.</sub>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_linked_issue_is_read_from_githubs_closing_keywords() {
        assert_eq!(linked_issue("Fixes #12"), Some(IssueNumber(12)));
        assert_eq!(linked_issue("This closes #3."), Some(IssueNumber(3)));
        assert_eq!(
            linked_issue("Resolves: #7 and fixes #8"),
            Some(IssueNumber(7))
        );
        assert_eq!(linked_issue("See #12 for context"), None);
        assert_eq!(linked_issue("fixes #abc"), None);
    }
}
