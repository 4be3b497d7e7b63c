//! What a test asserts on: plain structs of what a user would see on GitHub, read straight from
//! the model rather than through the API, so an assertion never depends on the code under test.

use super::FakeGitHub;
use super::model::RepoRecord;
use super::reactions::pairs;
use super::server::RequestRecord;

/// An issue or PR comment as it shows in the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentView {
    pub id: u64,
    pub author: String,
    pub body: String,
}

/// An issue (not a pull request) as listed on the Issues tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueView {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    pub author: String,
    pub state: String,
    pub pinned: bool,
}

/// A pull request as listed on the Pull requests tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullView {
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: Option<String>,
    pub draft: bool,
    pub state: String,
    pub author: String,
}

/// A check run as shown on a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunView {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub external_id: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
}

/// A submitted (or pending) review with its inline comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewView {
    pub id: u64,
    pub state: String,
    pub body: String,
    pub commit_id: String,
    pub author: String,
    pub comments: Vec<ReviewCommentView>,
}

/// An inline review comment, anchored where a reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewCommentView {
    pub path: String,
    pub line: u64,
    pub side: String,
    pub start_line: Option<u64>,
    pub body: String,
}

impl FakeGitHub {
    fn with_repo<T>(&self, repo: &str, read: impl FnOnce(&RepoRecord) -> T) -> T {
        let model = self.shared.model();
        let record = model
            .repos
            .get(&repo.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("the fake has no repository {repo}"));
        read(record)
    }

    /// The conversation of issue or PR `number`, oldest first.
    pub fn comments(&self, repo: &str, number: u64) -> Vec<CommentView> {
        self.with_repo(repo, |r| {
            r.comments
                .values()
                .filter(|c| c.issue == number)
                .map(|c| CommentView {
                    id: c.id,
                    author: c.author.clone(),
                    body: c.body.clone(),
                })
                .collect()
        })
    }

    /// Label names on issue or PR `number`, in the order they were added.
    pub fn labels(&self, repo: &str, number: u64) -> Vec<String> {
        self.with_repo(repo, |r| {
            r.issues.get(&number).map_or_else(Vec::new, |i| {
                i.labels
                    .iter()
                    .filter_map(|key| r.labels.get(key))
                    .map(|l| l.name.clone())
                    .collect()
            })
        })
    }

    /// `(user, content)` reactions on issue or PR `number`.
    pub fn reactions(&self, repo: &str, number: u64) -> Vec<(String, String)> {
        self.with_repo(repo, |r| {
            r.issues
                .get(&number)
                .map_or_else(Vec::new, |i| pairs(&i.reactions))
        })
    }

    /// `(user, content)` reactions on issue comment `id`.
    pub fn comment_reactions(&self, repo: &str, id: u64) -> Vec<(String, String)> {
        self.with_repo(repo, |r| {
            r.comments
                .get(&id)
                .map_or_else(Vec::new, |c| pairs(&c.reactions))
        })
    }

    /// Every issue that is not a pull request, lowest number first.
    pub fn issues(&self, repo: &str) -> Vec<IssueView> {
        self.with_repo(repo, |r| {
            r.issues
                .values()
                .filter(|i| i.pull.is_none())
                .map(|i| IssueView {
                    number: i.number,
                    title: i.title.clone(),
                    body: i.body.clone(),
                    author: i.author.clone(),
                    state: i.state.clone(),
                    pinned: i.pinned,
                })
                .collect()
        })
    }

    /// Every pull request, lowest number first.
    pub fn pulls(&self, repo: &str) -> Vec<PullView> {
        self.with_repo(repo, |r| {
            r.issues
                .values()
                .filter_map(|i| {
                    let pull = i.pull.as_ref()?;
                    Some(PullView {
                        number: i.number,
                        head: pull.head_ref.clone(),
                        base: pull.base_ref.clone(),
                        title: i.title.clone(),
                        body: i.body.clone(),
                        draft: pull.draft,
                        state: i.state.clone(),
                        author: i.author.clone(),
                    })
                })
                .collect()
        })
    }

    /// Every check run, oldest first.
    pub fn check_runs(&self, repo: &str) -> Vec<CheckRunView> {
        self.with_repo(repo, |r| {
            r.check_runs
                .values()
                .map(|c| CheckRunView {
                    id: c.id,
                    name: c.name.clone(),
                    head_sha: c.head_sha.clone(),
                    status: c.status.clone(),
                    conclusion: c.conclusion.clone(),
                    external_id: c.external_id.clone(),
                    title: c.title.clone(),
                    summary: c.summary.clone(),
                    text: c.text.clone(),
                })
                .collect()
        })
    }

    /// Reviews of PR `number`, oldest first, each with its inline comments.
    pub fn reviews(&self, repo: &str, number: u64) -> Vec<ReviewView> {
        self.with_repo(repo, |r| {
            r.reviews
                .values()
                .filter(|review| review.pull == number)
                .map(|review| ReviewView {
                    id: review.id,
                    state: review.state.clone(),
                    body: review.body.clone(),
                    commit_id: review.commit_id.clone(),
                    author: review.author.clone(),
                    comments: r
                        .review_comments
                        .values()
                        .filter(|c| c.review == review.id)
                        .map(|c| ReviewCommentView {
                            path: c.path.clone(),
                            line: c.line,
                            side: c.side.clone(),
                            start_line: c.start_line,
                            body: c.body.clone(),
                        })
                        .collect(),
                })
                .collect()
        })
    }

    /// The replies in the review thread that comment `root` started, oldest first.
    pub fn thread_replies(&self, repo: &str, root: u64) -> Vec<CommentView> {
        self.with_repo(repo, |r| {
            r.review_comments
                .values()
                .filter(|c| c.in_reply_to == Some(root))
                .map(|c| CommentView {
                    id: c.id,
                    author: c.author.clone(),
                    body: c.body.clone(),
                })
                .collect()
        })
    }

    /// The ids of PR `number`'s inline comments that start threads, oldest first.
    pub fn thread_roots(&self, repo: &str, number: u64) -> Vec<u64> {
        self.with_repo(repo, |r| {
            r.review_comments
                .values()
                .filter(|c| c.pull == number && c.in_reply_to.is_none())
                .map(|c| c.id)
                .collect()
        })
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.traffic().records.clone()
    }

    /// Requests installation `id` has spent of its hourly rate limit.
    pub fn rate_used(&self, installation: u64) -> u64 {
        let traffic = self.shared.traffic();
        traffic
            .buckets
            .get(&format!("installation:{installation}"))
            .map_or(0, |b| b.0)
    }

    /// Requests that could change something (anything but GET).
    pub fn writes(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Requests that matched no endpoint the fake knows: a test ends by asserting this is empty.
    pub fn unexpected(&self) -> Vec<RequestRecord> {
        self.shared.traffic().unexpected.clone()
    }
}
