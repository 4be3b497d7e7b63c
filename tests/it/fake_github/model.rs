//! The fake's memory: plain records of what GitHub would remember.
//!
//! Records hold facts (who wrote what, when, on which repository); every JSON answer is derived
//! from them in `render.rs`, so one fact cannot disagree with itself across endpoints. Git data
//! (branches, files, diffs) is not copied here: it is read from the bare repository on each
//! request, so a test that pushes a commit sees GitHub notice it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::auth::Caller;
use super::respond::{ApiError, doc};

pub(super) type Time = DateTime<Utc>;

pub(super) struct Model {
    /// Base URL the fake listens on; every API URL in a body points back here.
    pub(super) api: String,
    next_id: u64,
    pub(super) app: AppRecord,
    /// Keyed by lower-cased login: GitHub logins are case-insensitive.
    pub(super) users: BTreeMap<String, UserRecord>,
    pub(super) installations: BTreeMap<u64, InstallationRecord>,
    pub(super) tokens: HashMap<String, TokenRecord>,
    pub(super) token_lifetime: Duration,
    /// Keyed by lower-cased `owner/name`.
    pub(super) repos: BTreeMap<String, RepoRecord>,
    /// Where bare repositories live (inside the fake's temporary directory).
    pub(super) dir: PathBuf,
}

pub(super) struct AppRecord {
    pub(super) id: u64,
    pub(super) slug: String,
    pub(super) owner: String,
    pub(super) public_key_pem: String,
    pub(super) created_at: Time,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum UserKind {
    User,
    Organization,
    Bot,
}

pub(super) struct UserRecord {
    pub(super) id: u64,
    pub(super) login: String,
    pub(super) kind: UserKind,
}

pub(super) struct InstallationRecord {
    pub(super) id: u64,
    pub(super) account: String,
    /// Lower-cased full names of the repositories the App was granted.
    pub(super) repos: BTreeSet<String>,
    pub(super) tokens_issued: usize,
    pub(super) created_at: Time,
}

pub(super) enum TokenRecord {
    Installation {
        installation: u64,
        expires_at: Time,
        /// A subset requested when the token was minted, if any.
        repos: Option<BTreeSet<String>>,
    },
    Personal {
        login: String,
    },
}

pub(super) struct RepoRecord {
    pub(super) id: u64,
    pub(super) owner: String,
    pub(super) name: String,
    pub(super) default_branch: String,
    pub(super) private: bool,
    pub(super) bare: PathBuf,
    pub(super) created_at: Time,
    /// Issues and pull requests share one number sequence, as on GitHub.
    pub(super) next_number: u64,
    pub(super) issues: BTreeMap<u64, IssueRecord>,
    pub(super) comments: BTreeMap<u64, CommentRecord>,
    /// Keyed by lower-cased name: label names are case-insensitive.
    pub(super) labels: BTreeMap<String, LabelRecord>,
    pub(super) check_runs: BTreeMap<u64, CheckRunRecord>,
    /// Commit statuses (the older Statuses API CI services still use), oldest first.
    pub(super) statuses: Vec<StatusRecord>,
    pub(super) reviews: BTreeMap<u64, ReviewRecord>,
    pub(super) review_comments: BTreeMap<u64, ReviewCommentRecord>,
    /// Lower-cased login → role (admin, maintain, write, triage, read).
    pub(super) collaborators: BTreeMap<String, String>,
    /// Numbers of issues an admin deleted: GitHub answers 410 Gone for them.
    pub(super) deleted_issues: BTreeSet<u64>,
}

impl RepoRecord {
    pub(super) fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub(super) fn pull(&self, number: u64) -> Option<(&IssueRecord, &PullRecord)> {
        let issue = self.issues.get(&number)?;
        Some((issue, issue.pull.as_ref()?))
    }
}

pub(super) struct IssueRecord {
    pub(super) id: u64,
    pub(super) number: u64,
    pub(super) title: String,
    pub(super) body: Option<String>,
    pub(super) author: String,
    pub(super) state: String,
    pub(super) labels: Vec<String>,
    pub(super) created_at: Time,
    pub(super) updated_at: Time,
    pub(super) closed_at: Option<Time>,
    pub(super) reactions: Vec<ReactionRecord>,
    pub(super) via_app: bool,
    pub(super) pull: Option<PullRecord>,
    /// Pinned to the repository's Issues page (GraphQL `pinIssue`).
    pub(super) pinned: bool,
    /// Logins the issue is assigned to.
    pub(super) assignees: Vec<String>,
    /// The issue's timeline of label changes (`GET /issues/{n}/events`).
    pub(super) events: Vec<IssueEventRecord>,
}

/// One commit status: a `context` (e.g. `ci/jenkins`) said `state` about commit `sha`.
pub(super) struct StatusRecord {
    pub(super) id: u64,
    pub(super) sha: String,
    pub(super) context: String,
    /// error, failure, pending or success.
    pub(super) state: String,
    pub(super) description: String,
    pub(super) target_url: Option<String>,
    pub(super) creator: String,
    pub(super) at: Time,
}

/// One `labeled` / `unlabeled` event.
pub(super) struct IssueEventRecord {
    pub(super) id: u64,
    pub(super) actor: String,
    pub(super) event: &'static str,
    pub(super) label: String,
    pub(super) created_at: Time,
}

pub(super) struct PullRecord {
    pub(super) id: u64,
    pub(super) head_ref: String,
    pub(super) base_ref: String,
    pub(super) draft: bool,
    /// Last head sha seen in the bare repository (kept if the branch is later deleted).
    pub(super) head_sha: String,
}

pub(super) struct CommentRecord {
    pub(super) id: u64,
    pub(super) issue: u64,
    pub(super) author: String,
    pub(super) body: String,
    pub(super) created_at: Time,
    pub(super) updated_at: Time,
    pub(super) reactions: Vec<ReactionRecord>,
    pub(super) via_app: bool,
}

#[derive(Clone)]
pub(super) struct ReactionRecord {
    pub(super) id: u64,
    pub(super) user: String,
    pub(super) content: String,
    pub(super) created_at: Time,
}

pub(super) struct LabelRecord {
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) color: String,
    pub(super) description: Option<String>,
}

#[derive(Clone)]
pub(super) struct CheckRunRecord {
    pub(super) id: u64,
    pub(super) suite_id: u64,
    pub(super) name: String,
    pub(super) head_sha: String,
    pub(super) status: String,
    pub(super) conclusion: Option<String>,
    pub(super) external_id: Option<String>,
    pub(super) details_url: Option<String>,
    pub(super) title: Option<String>,
    pub(super) summary: Option<String>,
    pub(super) text: Option<String>,
    pub(super) started_at: Option<Time>,
    pub(super) completed_at: Option<Time>,
    /// The App that wrote the run: `None` for Orion's, else another App a test recorded (CI).
    pub(super) app: Option<OtherApp>,
}

/// An App other than Orion that reports checks, such as CI.
#[derive(Clone)]
pub(super) struct OtherApp {
    pub(super) id: u64,
    pub(super) slug: String,
}

pub(super) struct ReviewRecord {
    pub(super) id: u64,
    pub(super) pull: u64,
    pub(super) author: String,
    pub(super) state: String,
    pub(super) body: String,
    pub(super) commit_id: String,
    pub(super) submitted_at: Option<Time>,
}

#[derive(Clone)]
pub(super) struct ReviewCommentRecord {
    pub(super) id: u64,
    pub(super) review: u64,
    pub(super) pull: u64,
    pub(super) author: String,
    pub(super) body: String,
    pub(super) path: String,
    pub(super) line: u64,
    pub(super) side: String,
    pub(super) start_line: Option<u64>,
    pub(super) start_side: Option<String>,
    pub(super) position: u64,
    pub(super) commit_id: String,
    pub(super) diff_hunk: String,
    pub(super) in_reply_to: Option<u64>,
    pub(super) created_at: Time,
}

impl Model {
    pub(super) fn new(api: String, dir: PathBuf, app: AppRecord) -> Self {
        let mut model = Self {
            api,
            next_id: 1000,
            users: BTreeMap::new(),
            installations: BTreeMap::new(),
            tokens: HashMap::new(),
            token_lifetime: Duration::from_secs(3600),
            repos: BTreeMap::new(),
            dir,
            app,
        };
        let owner = model.app.owner.clone();
        model.ensure_user(&owner, UserKind::Organization);
        let bot = model.bot_login();
        model.ensure_user(&bot, UserKind::Bot);
        model
    }

    /// One id sequence for every kind of object, so an id passed where another kind was meant
    /// finds nothing instead of the wrong thing.
    pub(super) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(super) fn bot_login(&self) -> String {
        format!("{}[bot]", self.app.slug)
    }

    pub(super) fn ensure_user(&mut self, login: &str, kind: UserKind) -> &UserRecord {
        let key = login.to_ascii_lowercase();
        if !self.users.contains_key(&key) {
            let id = self.next_id();
            self.users.insert(
                key.clone(),
                UserRecord {
                    id,
                    login: login.to_owned(),
                    kind,
                },
            );
        }
        &self.users[&key]
    }

    pub(super) fn user(&self, login: &str) -> Option<&UserRecord> {
        self.users.get(&login.to_ascii_lowercase())
    }

    pub(super) fn repo(&self, key: &str) -> &RepoRecord {
        &self.repos[key]
    }

    pub(super) fn repo_mut(&mut self, key: &str) -> &mut RepoRecord {
        self.repos.get_mut(key).expect("repository exists")
    }

    /// The login that a caller's writes are attributed to.
    pub(super) fn actor(&self, caller: &Caller) -> String {
        match caller {
            Caller::User(login) => self
                .user(login)
                .map_or_else(|| login.clone(), |u| u.login.clone()),
            Caller::App | Caller::Installation { .. } => self.bot_login(),
        }
    }

    /// Who a write by `caller` is attributed to, and whether an App made it (GitHub then shows
    /// `performed_via_github_app`).
    pub(super) fn author(&self, caller: &Caller) -> (String, bool) {
        (self.actor(caller), !matches!(caller, Caller::User(_)))
    }

    /// The repository a caller names, or GitHub's answer when it may not see it: 404 (not 403)
    /// for private repositories and for repositories outside an installation, so that
    /// existence does not leak.
    pub(super) fn visible_repo(
        &self,
        caller: &Caller,
        owner: &str,
        name: &str,
    ) -> Result<String, ApiError> {
        let key = format!("{owner}/{name}").to_ascii_lowercase();
        let repo = self
            .repos
            .get(&key)
            .ok_or_else(|| ApiError::not_found(doc::REPOS))?;
        let visible = match caller {
            Caller::Installation { repos, .. } => repos.contains(&key),
            Caller::User(login) => !repo.private || self.permission(repo, login).0 != "none",
            Caller::App => {
                return Err(ApiError::forbidden(
                    "Resource not accessible by integration",
                    doc::REPOS,
                ));
            }
        };
        if visible {
            Ok(key)
        } else {
            Err(ApiError::not_found(doc::REPOS))
        }
    }

    /// `(permission, role_name)` as the collaborator-permission endpoint reports them: the owner
    /// is admin, maintain maps to write and triage to read, and everybody may read a public
    /// repository.
    pub(super) fn permission(&self, repo: &RepoRecord, login: &str) -> (&'static str, String) {
        if repo.owner.eq_ignore_ascii_case(login) {
            return ("admin", "admin".to_owned());
        }
        match repo.collaborators.get(&login.to_ascii_lowercase()) {
            Some(role) => {
                let base = match role.as_str() {
                    "admin" => "admin",
                    "maintain" | "write" => "write",
                    _ => "read",
                };
                (base, role.clone())
            }
            None if repo.private => ("none", "none".to_owned()),
            None => ("read", "read".to_owned()),
        }
    }

    /// `author_association` of `login` on `repo`.
    pub(super) fn association(&self, repo: &RepoRecord, login: &str) -> &'static str {
        if repo.owner.eq_ignore_ascii_case(login) {
            "OWNER"
        } else if repo.collaborators.contains_key(&login.to_ascii_lowercase()) {
            "COLLABORATOR"
        } else {
            "NONE"
        }
    }
}

pub(super) fn now() -> Time {
    // GitHub timestamps have whole seconds.
    DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("now is representable")
}
