//! The real git behind each fake repository: a bare repository on disk, read and written with git2.
//!
//! GitHub's answers about code (contents, head shas, diffs) are facts about a git repository, and
//! Orion clones and pushes through git, so the fake keeps a real one instead of canned strings:
//! what a test pushes is exactly what the API reports.

use std::path::Path;

use git2::build::TreeUpdateBuilder;
use git2::{BranchType, Commit, FileMode, ObjectType, Oid, Repository, RepositoryInitOptions};

/// One change in a commit a test makes directly in a fake repository (a simulated push).
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Creates or overwrites `path` with this text.
    Write(&'a str, &'a str),
    /// Removes `path`.
    Delete(&'a str),
    /// Moves a file, content unchanged, so git sees a 100 % rename.
    Rename(&'a str, &'a str),
}

/// Commits are made at a fixed time by a fixed author, so the same content gives the same sha
/// in every run and snapshots stay stable.
fn signature() -> git2::Signature<'static> {
    git2::Signature::new(
        "Fake GitHub",
        "fake-github@example.invalid",
        &git2::Time::new(1_700_000_000, 0),
    )
    .expect("a valid signature")
}

pub(super) fn open(bare: &Path) -> Repository {
    Repository::open_bare(bare).expect("the fake's bare repository opens")
}

pub(super) fn init(bare: &Path, default_branch: &str) {
    let mut options = RepositoryInitOptions::new();
    options.bare(true).initial_head(default_branch);
    Repository::init_opts(bare, &options).expect("a bare repository can be created");
}

/// Commits `changes` on `branch` (created from `start_from` when it does not exist yet, or as a
/// root commit when neither exists) and returns the new sha.
pub(super) fn commit(
    bare: &Path,
    branch: &str,
    start_from: &str,
    changes: &[Change<'_>],
    message: &str,
) -> String {
    let repo = open(bare);
    let tip = |name: &str| -> Option<Commit<'_>> {
        let branch = repo.find_branch(name, BranchType::Local).ok()?;
        branch.get().peel_to_commit().ok()
    };
    let parent = tip(branch).or_else(|| tip(start_from));
    let base_tree = match &parent {
        Some(commit) => commit.tree().expect("a commit has a tree"),
        None => {
            let empty = repo
                .treebuilder(None)
                .and_then(|b| b.write())
                .expect("empty tree");
            repo.find_tree(empty).expect("empty tree exists")
        }
    };
    let mut update = TreeUpdateBuilder::new();
    for change in changes {
        match *change {
            Change::Write(path, text) => {
                let blob = repo.blob(text.as_bytes()).expect("blob is written");
                update.upsert(path, blob, FileMode::Blob);
            }
            Change::Delete(path) => {
                update.remove(path);
            }
            Change::Rename(from, to) => {
                let entry = base_tree
                    .get_path(Path::new(from))
                    .unwrap_or_else(|_| panic!("cannot rename {from}: it is not on {branch}"));
                update.remove(from);
                update.upsert(to, entry.id(), FileMode::Blob);
            }
        }
    }
    let tree_id = update
        .create_updated(&repo, &base_tree)
        .expect("tree is updated");
    let tree = repo.find_tree(tree_id).expect("new tree exists");
    let parents: Vec<&Commit<'_>> = parent.iter().collect();
    let sig = signature();
    repo.commit(
        Some(&format!("refs/heads/{branch}")),
        &sig,
        &sig,
        message,
        &tree,
        &parents,
    )
    .expect("commit is written")
    .to_string()
}

/// The sha a branch points at now.
pub(super) fn branch_sha(bare: &Path, branch: &str) -> Option<String> {
    let repo = open(bare);
    let branch = repo.find_branch(branch, BranchType::Local).ok()?;
    Some(branch.get().peel_to_commit().ok()?.id().to_string())
}

/// The commit a ref names (branch, tag or sha), as GitHub's `ref` parameters accept.
pub(super) fn resolve_commit(bare: &Path, rev: &str) -> Option<String> {
    let repo = open(bare);
    let object = repo.revparse_single(rev).ok()?;
    Some(object.peel_to_commit().ok()?.id().to_string())
}

/// What the contents API finds at a path.
pub(super) enum Entry {
    File(FileEntry),
    Dir(Vec<DirEntry>),
}

pub(super) struct FileEntry {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) sha: String,
    pub(super) kind: &'static str,
    pub(super) content: Vec<u8>,
}

pub(super) struct DirEntry {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) sha: String,
    pub(super) kind: &'static str,
    pub(super) size: usize,
}

const SYMLINK_MODE: i32 = 0o120000;

/// Reads `path` at `commit`: a file, a directory listing, or nothing.
pub(super) fn read(bare: &Path, commit: &str, path: &str) -> Option<Entry> {
    let repo = open(bare);
    let commit = repo.find_commit(Oid::from_str(commit).ok()?).ok()?;
    let root = commit.tree().ok()?;
    let path = path.trim_matches('/');
    if path.is_empty() {
        return Some(Entry::Dir(list(&repo, &root, "")));
    }
    let entry = root.get_path(Path::new(path)).ok()?;
    match entry.kind()? {
        ObjectType::Tree => {
            let tree = repo.find_tree(entry.id()).ok()?;
            Some(Entry::Dir(list(&repo, &tree, path)))
        }
        ObjectType::Blob => {
            let blob = repo.find_blob(entry.id()).ok()?;
            Some(Entry::File(FileEntry {
                name: entry.name()?.to_owned(),
                path: path.to_owned(),
                sha: entry.id().to_string(),
                kind: if entry.filemode() == SYMLINK_MODE {
                    "symlink"
                } else {
                    "file"
                },
                content: blob.content().to_vec(),
            }))
        }
        _ => None,
    }
}

fn list(repo: &Repository, tree: &git2::Tree<'_>, dir: &str) -> Vec<DirEntry> {
    tree.iter()
        .filter_map(|entry| {
            let name = entry.name()?.to_owned();
            let path = if dir.is_empty() {
                name.clone()
            } else {
                format!("{dir}/{name}")
            };
            let (kind, size) = match entry.kind()? {
                ObjectType::Tree => ("dir", 0),
                ObjectType::Blob => {
                    let size = repo.find_blob(entry.id()).ok()?.size();
                    let kind = if entry.filemode() == SYMLINK_MODE {
                        "symlink"
                    } else {
                        "file"
                    };
                    (kind, size)
                }
                ObjectType::Commit => ("submodule", 0),
                _ => return None,
            };
            Some(DirEntry {
                name,
                path,
                sha: entry.id().to_string(),
                kind,
                size,
            })
        })
        .collect()
}
