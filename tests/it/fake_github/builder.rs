//! Setting up repositories the way a test script reads: "octo/widgets, default branch main,
//! with a README", backed by a real bare git repository the fake owns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::FakeGitHub;
use super::gitrepo::{self, Change};
use super::model::{RepoRecord, UserKind, now};

/// A repository being described; nothing exists until [`RepoBuilder::create`].
pub struct RepoBuilder<'a> {
    fake: &'a FakeGitHub,
    full_name: String,
    default_branch: String,
    private: bool,
    files: Vec<(String, String)>,
}

/// A created repository: where to clone it from, and a way to push to it behind Orion's back.
#[derive(Debug, Clone)]
pub struct RepoHandle {
    /// `owner/name`.
    pub full_name: String,
    /// `file://…/name.git`, the same URL the API reports as `clone_url`.
    pub clone_url: String,
    /// The bare repository on disk.
    pub bare: PathBuf,
    /// The branch the initial commit is on.
    pub default_branch: String,
}

impl<'a> RepoBuilder<'a> {
    pub(super) fn new(fake: &'a FakeGitHub, full_name: &str) -> Self {
        assert!(
            full_name.split('/').count() == 2,
            "a repository is named owner/name, not {full_name:?}"
        );
        Self {
            fake,
            full_name: full_name.to_owned(),
            default_branch: "main".to_owned(),
            private: false,
            files: Vec::new(),
        }
    }

    /// The default branch (GitHub's default is `main`).
    pub fn default_branch(mut self, branch: &str) -> Self {
        branch.clone_into(&mut self.default_branch);
        self
    }

    /// Makes the repository private: invisible to users without access, `none` permission for
    /// strangers.
    pub fn private(mut self) -> Self {
        self.private = true;
        self
    }

    /// A file in the initial commit.
    pub fn file(mut self, path: &str, content: &str) -> Self {
        self.files.push((path.to_owned(), content.to_owned()));
        self
    }

    /// Creates the bare repository with one initial commit on the default branch.
    pub fn create(self) -> RepoHandle {
        let (owner, name) = self.full_name.split_once('/').expect("owner/name");
        let mut model = self.fake.shared.model();
        let key = self.full_name.to_ascii_lowercase();
        assert!(
            !model.repos.contains_key(&key),
            "{} already exists",
            self.full_name
        );
        let bare = model.dir.join(owner).join(format!("{name}.git"));
        gitrepo::init(&bare, &self.default_branch);
        let changes: Vec<Change<'_>> = self
            .files
            .iter()
            .map(|(path, content)| Change::Write(path, content))
            .collect();
        gitrepo::commit(
            &bare,
            &self.default_branch,
            &self.default_branch,
            &changes,
            "Initial commit",
        );
        model.ensure_user(owner, UserKind::User);
        let id = model.next_id();
        model.repos.insert(
            key,
            RepoRecord {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                default_branch: self.default_branch.clone(),
                private: self.private,
                bare: bare.clone(),
                created_at: now(),
                next_number: 1,
                issues: BTreeMap::new(),
                comments: BTreeMap::new(),
                labels: BTreeMap::new(),
                check_runs: BTreeMap::new(),
                statuses: Vec::new(),
                reviews: BTreeMap::new(),
                review_comments: BTreeMap::new(),
                collaborators: BTreeMap::new(),
                deleted_issues: BTreeSet::new(),
            },
        );
        RepoHandle {
            full_name: self.full_name,
            clone_url: format!("file://{}", bare.display()),
            bare,
            default_branch: self.default_branch,
        }
    }
}

impl RepoHandle {
    /// Commits files (created or overwritten) on `branch`, as if someone pushed; a new branch
    /// starts from the default branch. Returns the new head sha.
    pub fn commit_on(&self, branch: &str, files: &[(&str, &str)], message: &str) -> String {
        let changes: Vec<Change<'_>> = files
            .iter()
            .map(|(path, content)| Change::Write(path, content))
            .collect();
        self.commit_changes(branch, &changes, message)
    }

    /// Like [`RepoHandle::commit_on`], with deletions and renames too.
    pub fn commit_changes(&self, branch: &str, changes: &[Change<'_>], message: &str) -> String {
        gitrepo::commit(&self.bare, branch, &self.default_branch, changes, message)
    }

    /// The sha `branch` points at, or `None` if it does not exist.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        gitrepo::branch_sha(&self.bare, branch)
    }
}
