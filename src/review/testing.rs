//! Real diffs for the review tests: a throwaway repository driven by the `git` CLI, so renames,
//! quoting, binary detection and hunk numbering are git's own, not what a test author imagined.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

pub(crate) struct GitRepo {
    dir: TempDir,
}

impl GitRepo {
    pub(crate) fn new() -> Self {
        let repo = GitRepo {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "user.name", "Test"]);
        repo.git(&["config", "core.autocrlf", "false"]);
        repo
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn write(&self, path: &str, content: impl AsRef<[u8]>) {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }

    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).unwrap()
    }

    pub(crate) fn remove(&self, path: &str) {
        self.git(&["rm", "-q", path]);
    }

    pub(crate) fn mv(&self, from: &str, to: &str) {
        if let Some(parent) = self.path().join(to).parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        self.git(&["mv", from, to]);
    }

    /// Commits everything and returns the commit id.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    /// The diff GitHub shows for a pull request from `base` to `head` (renames detected).
    pub(crate) fn diff(&self, base: &str, head: &str) -> String {
        self.git(&["diff", "--no-color", "--no-ext-diff", "-M", base, head])
    }

    /// The file as it is at `commit`.
    pub(crate) fn show(&self, commit: &str, path: &str) -> String {
        self.git(&["show", &format!("{commit}:{path}")])
    }

    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }
}

/// `n` numbered lines (`line 1` …), the usual file body of these tests.
pub(crate) fn numbered(n: u32) -> String {
    (1..=n).map(|i| format!("line {i}\n")).collect()
}
