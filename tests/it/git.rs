//! Git workspaces against real repositories on disk: a bare "GitHub" remote, a human who pushes
//! to it with the `git` CLI, and Orion working through `orion_bot::git`. No network.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use git2::{Oid, Repository, RepositoryState, StatusOptions};
use orion_bot::config::Secret;
use orion_bot::event::IssueNumber;
use orion_bot::git::{
    Credentials, GitConfig, GitError, Protection, RebaseOutcome, TaskSpec, TaskWorkspace,
    Workspaces,
};
use tempfile::TempDir;

/// Shaped like a GitHub installation token, so a leak would be recognisable.
fn token() -> String {
    format!("ghs_{}", "x".repeat(36))
}

fn creds() -> Credentials {
    Credentials::Token(Secret::new(token()))
}

/// Runs the `git` CLI as a human would, isolated from the machine's git config.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "user.name=Hu Man",
            "-c",
            "user.email=human@example.com",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "protocol.file.allow=always",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A bare remote with `main` holding `src/lib.rs` and a README, a human's clone of it, and an
/// Orion workdir.
struct Remote {
    dir: TempDir,
    url: String,
    human: PathBuf,
}

impl Remote {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("acme/app.git");
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "--bare", "-q", "-b", "main"]);
        let url = format!("file://{}", bare.display());
        let human = dir.path().join("human");
        git(dir.path(), &["clone", "-q", &url, "human"]);
        std::fs::create_dir_all(human.join("src")).unwrap();
        std::fs::write(
            human.join("src/lib.rs"),
            "pub fn greet() -> &'static str {\n    \"hello\"\n}\n",
        )
        .unwrap();
        std::fs::write(human.join("README.md"), "# app\n").unwrap();
        git(&human, &["add", "-A"]);
        git(&human, &["commit", "-q", "-m", "initial"]);
        git(&human, &["push", "-q", "origin", "main"]);
        Self { dir, url, human }
    }

    fn bare(&self) -> Repository {
        Repository::open_bare(self.dir.path().join("acme/app.git")).unwrap()
    }

    /// Every ref on the remote and where it points: what a push could have changed.
    fn refs(&self) -> BTreeMap<String, Oid> {
        let repo = self.bare();
        let mut out = BTreeMap::new();
        for r in repo.references().unwrap() {
            let r = r.unwrap();
            if let Some(target) = r.target() {
                out.insert(r.name().unwrap().to_owned(), target);
            }
        }
        out
    }

    fn tip(&self, branch: &str) -> Option<Oid> {
        self.refs().get(&format!("refs/heads/{branch}")).copied()
    }

    /// The human commits `content` to `path` on `branch` (fetched fresh) and pushes it.
    fn human_pushes(&self, branch: &str, path: &str, content: &str) -> Oid {
        let h = &self.human;
        git(h, &["fetch", "-q", "origin"]);
        git(
            h,
            &["checkout", "-q", "-B", branch, &format!("origin/{branch}")],
        );
        std::fs::write(h.join(path), content).unwrap();
        git(h, &["commit", "-q", "-am", &format!("human edits {path}")]);
        git(h, &["push", "-q", "origin", branch]);
        Oid::from_str(&git(h, &["rev-parse", "HEAD"])).unwrap()
    }

    fn workdir(&self) -> PathBuf {
        self.dir.path().join("orion-work")
    }

    fn workspaces(&self) -> Workspaces {
        self.workspaces_with(|_| {})
    }

    fn workspaces_with(&self, change: impl FnOnce(&mut GitConfig)) -> Workspaces {
        let mut config = GitConfig {
            workdir: self.workdir(),
            author_name: "Orion Bot".into(),
            author_email: "orion@example.com".into(),
            ..GitConfig::default()
        };
        change(&mut config);
        Workspaces::new(config).unwrap()
    }

    fn task(&self, issue: u64, title: &str) -> TaskSpec {
        TaskSpec {
            clone_url: self.url.clone(),
            base_branch: "main".into(),
            ticket: orion_bot::git::github_ticket(IssueNumber(issue)),
            title: title.into(),
        }
    }
}

fn write(task: &TaskWorkspace, path: &str, content: &str) {
    let path = task.path().join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn read(task: &TaskWorkspace, path: &str) -> String {
    std::fs::read_to_string(task.path().join(path)).unwrap()
}

fn head_branch(task: &TaskWorkspace) -> String {
    let repo = Repository::open(task.path()).unwrap();
    repo.head().unwrap().shorthand().unwrap().to_owned()
}

#[tokio::test]
async fn each_task_gets_its_own_branch_and_worktree_and_asking_again_returns_the_same() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let main = remote.tip("main").unwrap();

    let (task_one, task_two, token) = (
        remote.task(1, "Add a greeting!"),
        remote.task(2, "Fix the parser"),
        creds(),
    );
    let (one, two) = tokio::join!(
        ws.task_worktree(&task_one, &token),
        ws.task_worktree(&task_two, &token),
    );
    let (one, two) = (one.unwrap(), two.unwrap());

    assert_eq!(one.branch(), "orion/1-add-a-greeting");
    assert_eq!(two.branch(), "orion/2-fix-the-parser");
    assert_ne!(one.path(), two.path());
    for task in [&one, &two] {
        assert!(task.path().starts_with(remote.workdir().join("worktrees")));
        assert_eq!(head_branch(task), task.branch());
        assert!(read(task, "src/lib.rs").contains("hello"));
        let repo = Repository::open(task.path()).unwrap();
        assert_eq!(repo.head().unwrap().target(), Some(main));
    }

    // A re-run job asks again (the title was edited meanwhile): same branch, same worktree,
    // and the work in progress is still there.
    write(&one, "notes.txt", "half done");
    let again = ws
        .task_worktree(&remote.task(1, "Add a friendlier greeting"), &creds())
        .await
        .unwrap();
    assert_eq!(again.branch(), "orion/1-add-a-greeting");
    assert_eq!(again.path(), one.path());
    assert_eq!(read(&again, "notes.txt"), "half done");
}

#[tokio::test]
async fn a_warm_mirror_is_fetched_not_recloned() {
    use std::os::unix::fs::MetadataExt;

    let remote = Remote::new();
    let ws = remote.workspaces();
    let first = ws.mirror(&remote.url, &creds()).await.unwrap();
    assert!(first.cloned);
    assert_eq!(first.default_branch.as_deref(), Some("main"));
    let inode = std::fs::metadata(&first.path).unwrap().ino();
    let objects_before = object_files(&first.path);
    assert!(!objects_before.is_empty());

    let advanced = remote.human_pushes("main", "README.md", "# app\n\nNow with docs.\n");
    let task = ws
        .task_worktree(&remote.task(7, "Use the docs"), &creds())
        .await
        .unwrap();

    // The task starts from the new tip, so the mirror was updated...
    let repo = Repository::open(task.path()).unwrap();
    assert_eq!(repo.head().unwrap().target(), Some(advanced));
    assert!(read(&task, "README.md").contains("Now with docs."));
    // ...by a fetch into the same repository: same directory, the old objects untouched.
    let second = ws.mirror(&remote.url, &creds()).await.unwrap();
    assert!(!second.cloned);
    assert_eq!(second.path, first.path);
    assert_eq!(std::fs::metadata(&second.path).unwrap().ino(), inode);
    let objects_after = object_files(&second.path);
    assert!(objects_after.is_superset(&objects_before));
    assert!(objects_after.len() > objects_before.len());
}

/// Object and pack files in a repository: a re-clone would replace them, a fetch only adds.
fn object_files(repo: &Path) -> std::collections::BTreeSet<PathBuf> {
    all_files(&repo.join("objects")).into_iter().collect()
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            out.extend(all_files(&entry.path()));
        } else if ty.is_file() {
            out.push(entry.path());
        }
    }
    out
}

#[tokio::test]
async fn commits_carry_orions_identity_and_the_co_author_trailer() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(3, "Greet loudly"), &creds())
        .await
        .unwrap();
    write(
        &task,
        "src/lib.rs",
        "pub fn greet() -> &'static str {\n    \"HELLO\"\n}\n",
    );
    write(&task, "src/shout.rs", "pub const BANG: &str = \"!\";\n");
    std::fs::remove_file(task.path().join("README.md")).unwrap();

    let oid = task
        .commit(
            "feat: greet loudly",
            Some(("Ada Lovelace", "ada@example.com")),
        )
        .await
        .unwrap();

    let repo = Repository::open(task.path()).unwrap();
    let commit = repo.find_commit(oid).unwrap();
    assert_eq!(repo.head().unwrap().target(), Some(oid));
    assert_eq!(commit.author().name(), Some("Orion Bot"));
    assert_eq!(commit.author().email(), Some("orion@example.com"));
    assert_eq!(commit.committer().name(), Some("Orion Bot"));
    assert_eq!(
        commit.message(),
        Some("feat: greet loudly\n\nCo-authored-by: Ada Lovelace <ada@example.com>\n")
    );
    assert_eq!(
        commit.parent_ids().collect::<Vec<_>>(),
        [remote.tip("main").unwrap()]
    );
    let tree = commit.tree().unwrap();
    assert!(tree.get_path(Path::new("src/shout.rs")).is_ok());
    assert!(
        tree.get_path(Path::new("README.md")).is_err(),
        "the deletion is committed"
    );

    let nothing = task.commit("fix: nothing", None).await.unwrap_err();
    assert!(
        matches!(&nothing, GitError::NothingToCommit { branch } if branch == "orion/3-greet-loudly"),
        "{nothing}"
    );
    assert_eq!(repo.head().unwrap().target(), Some(oid), "no empty commit");
}

#[tokio::test]
async fn push_puts_the_task_branch_on_the_remote_and_nothing_else() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let before = remote.refs();
    let task = ws
        .task_worktree(&remote.task(4, "Add docs"), &creds())
        .await
        .unwrap();
    write(&task, "docs/guide.md", "# Guide\n");
    let first = task.commit("docs: add a guide", None).await.unwrap();

    assert_eq!(task.push(&creds()).await.unwrap(), first);
    assert_eq!(remote.tip("orion/4-add-docs"), Some(first));
    let mut expected = before.clone();
    expected.insert("refs/heads/orion/4-add-docs".into(), first);
    assert_eq!(remote.refs(), expected, "only the task branch is new");

    // The next commit goes up on top, and pushing again without changes is harmless.
    write(&task, "docs/guide.md", "# Guide\n\nMore.\n");
    let second = task.commit("docs: expand the guide", None).await.unwrap();
    assert_eq!(task.push(&creds()).await.unwrap(), second);
    assert_eq!(task.push(&creds()).await.unwrap(), second);
    assert_eq!(remote.tip("orion/4-add-docs"), Some(second));
}

#[tokio::test]
async fn orion_refuses_to_push_the_default_branch_or_branches_it_did_not_create() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(5, "Tidy up"), &creds())
        .await
        .unwrap();
    let before = remote.refs();
    let wt = task.path();

    // Something running in the worktree switches branches and commits there itself.
    let cases = [
        ("main", Protection::DefaultBranch),
        ("feature/tidy", Protection::OutsideOrionNamespace),
        ("orion/99-sneaky", Protection::NotCreatedByOrion),
    ];
    for (branch, why) in cases {
        git(wt, &["switch", "-q", "-c", branch, "origin/main"]);
        std::fs::write(wt.join("README.md"), format!("# app, by {branch}\n")).unwrap();
        git(wt, &["commit", "-q", "-am", "unreviewed"]);

        let err = task.push(&creds()).await.unwrap_err();
        match &err {
            GitError::ProtectedBranch { branch: b, why: w } => {
                assert_eq!((b.as_str(), *w), (branch, why), "{err}");
            }
            other => panic!("pushing {branch}: expected a refusal, got {other}"),
        }
        assert_eq!(remote.refs(), before, "pushing {branch} changed the remote");
    }
    let err = task.push(&creds()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "refusing to push orion/99-sneaky: Orion did not create this branch"
    );

    // Orion's own operations refuse to work on the wrong branch too.
    let err = task.commit("fix: whatever", None).await.unwrap_err();
    assert!(err.to_string().contains("not on the task branch"), "{err}");
}

#[tokio::test]
async fn a_task_branch_someone_else_pushed_to_is_not_overwritten() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(6, "Speed up"), &creds())
        .await
        .unwrap();
    write(&task, "src/fast.rs", "// fast\n");
    let pushed = task.commit("perf: speed up", None).await.unwrap();
    task.push(&creds()).await.unwrap();

    // A maintainer adds a commit to Orion's branch on GitHub.
    let theirs = remote.human_pushes("orion/6-speed-up", "src/fast.rs", "// faster\n");

    write(&task, "src/fast.rs", "// fast, take two\n");
    task.commit("perf: take two", None).await.unwrap();
    let err = task.push(&creds()).await.unwrap_err();
    match err {
        GitError::RemoteMoved {
            branch,
            expected,
            found,
        } => {
            assert_eq!(branch, "orion/6-speed-up");
            assert_eq!(expected, Some(pushed));
            assert_eq!(found, theirs);
        }
        other => panic!("expected RemoteMoved, got {other}"),
    }
    assert_eq!(
        remote.tip("orion/6-speed-up"),
        Some(theirs),
        "their commit survives"
    );
}

#[tokio::test]
async fn a_branch_name_already_taken_on_the_remote_is_not_adopted() {
    let remote = Remote::new();
    let h = &remote.human;
    git(h, &["switch", "-q", "-c", "orion/8-rename-things"]);
    git(h, &["push", "-q", "origin", "orion/8-rename-things"]);

    let err = remote
        .workspaces()
        .task_worktree(&remote.task(8, "Rename things"), &creds())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "the remote already has a branch orion/8-rename-things that Orion did not create"
        ),
        "{err:#}"
    );
}

#[tokio::test]
async fn rebase_replays_the_task_on_the_advanced_base_and_force_pushes_over_orions_own_push() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(9, "Add a farewell"), &creds())
        .await
        .unwrap();
    write(&task, "src/bye.rs", "pub fn bye() {}\n");
    let original = task
        .commit("feat: farewell", Some(("Ada", "ada@example.com")))
        .await
        .unwrap();
    task.push(&creds()).await.unwrap();
    let advanced = remote.human_pushes("main", "README.md", "# app\n\nChangelog.\n");

    let outcome = task.rebase_onto_base(&creds()).await.unwrap();
    let RebaseOutcome::Rebased { new_head } = outcome else {
        panic!("expected a rebase, got {outcome:?}");
    };
    let repo = Repository::open(task.path()).unwrap();
    let head = repo.find_commit(new_head).unwrap();
    assert_eq!(repo.head().unwrap().target(), Some(new_head));
    assert_eq!(
        head.parent_ids().collect::<Vec<_>>(),
        [advanced],
        "linear on the new base"
    );
    let old = repo.find_commit(original).unwrap();
    assert_eq!(head.message(), old.message());
    assert_eq!(head.committer().name(), Some("Orion Bot"));
    assert!(read(&task, "README.md").contains("Changelog."));
    assert!(read(&task, "src/bye.rs").contains("bye"));
    assert_eq!(repo.state(), RepositoryState::Clean);

    assert_eq!(
        task.rebase_onto_base(&creds()).await.unwrap(),
        RebaseOutcome::UpToDate
    );
    // The remote still has the pre-rebase commit Orion pushed: the lease allows the force push.
    assert_eq!(task.push(&creds()).await.unwrap(), new_head);
    assert_eq!(remote.tip("orion/9-add-a-farewell"), Some(new_head));
}

#[tokio::test]
async fn rebase_conflicts_are_reported_and_leave_the_worktree_clean() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(10, "Say hi"), &creds())
        .await
        .unwrap();
    let ours = "pub fn greet() -> &'static str {\n    \"hi\"\n}\n";
    write(&task, "src/lib.rs", ours);
    write(&task, "src/other.rs", "// unrelated\n");
    let mine = task.commit("feat: say hi", None).await.unwrap();
    remote.human_pushes(
        "main",
        "src/lib.rs",
        "pub fn greet() -> &'static str {\n    \"good day\"\n}\n",
    );

    let outcome = task.rebase_onto_base(&creds()).await.unwrap();
    assert_eq!(
        outcome,
        RebaseOutcome::Conflicts {
            files: vec!["src/lib.rs".into()]
        }
    );
    let repo = Repository::open(task.path()).unwrap();
    assert_eq!(repo.state(), RepositoryState::Clean, "not left mid-rebase");
    assert_eq!(repo.head().unwrap().target(), Some(mine));
    assert_eq!(head_branch(&task), "orion/10-say-hi");
    let mut options = StatusOptions::new();
    options.include_untracked(true);
    assert_eq!(repo.statuses(Some(&mut options)).unwrap().len(), 0);
    assert_eq!(read(&task, "src/lib.rs"), ours, "no conflict markers left");
}

#[tokio::test]
async fn tokens_are_never_written_to_the_workdir_or_the_logs() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogSink(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // tracing caches per log statement whether anyone listens. With a single registered
    // subscriber it asks only the *current thread's*, so a statement first reached by a
    // concurrent test (no subscriber there) would be cached as unheard, for good. A second
    // registered subscriber makes it ask every registered one; then forget the stale verdicts.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    tracing::callsite::rebuild_interest_cache();

    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(11, "Everything"), &creds())
        .await
        .unwrap();
    write(&task, "a.txt", "a\n");
    task.commit("feat: a", Some(("Ada", "ada@example.com")))
        .await
        .unwrap();
    task.push(&creds()).await.unwrap();
    remote.human_pushes("main", "README.md", "# moved\n");
    task.rebase_onto_base(&creds()).await.unwrap();
    task.push(&creds()).await.unwrap();
    let _ = task.push(&Credentials::Anonymous).await;
    ws.finish(&task).await.unwrap();

    let secret = token();
    assert!(!format!("{:?}", creds()).contains(&secret));
    let files = all_files(&remote.workdir());
    assert!(
        files.iter().any(|f| f.ends_with("config")),
        "the repository configs are searched"
    );
    assert!(
        files.iter().any(|f| f.ends_with(".git")),
        "the worktree .git files are searched"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in [secret.as_bytes(), b"x-access-token"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds a credential",
                file.display()
            );
        }
    }
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("pushed"), "the logs were captured:\n{logs}");
    assert!(!logs.contains(&secret), "{logs}");
}

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Over HTTPS the token is what the server gets in the basic-auth challenge, once: a server that
/// keeps refusing it gets a clear error instead of an endless retry.
#[tokio::test]
async fn an_http_remote_gets_the_token_only_through_the_auth_challenge() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::<Option<String>>::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            let request = String::from_utf8_lossy(&request).into_owned();
            let auth = request
                .lines()
                .find_map(|l| l.strip_prefix("Authorization: "))
                .map(str::to_owned);
            record.lock().unwrap().push(auth);
            let _ = stream.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"GitHub\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspaces::new(GitConfig {
        workdir: dir.path().to_owned(),
        ..GitConfig::default()
    })
    .unwrap();

    let url = format!("http://127.0.0.1:{port}/acme/app.git");
    let err = ws.mirror(&url, &creds()).await.unwrap_err();
    let message = format!("{err:#}");
    assert!(message.contains("rejected Orion's token"), "{message}");
    assert!(!message.contains(&token()), "{message}");

    let basic = format!("Basic {}", base64(&format!("x-access-token:{}", token())));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, [None, Some(basic)], "asked once, answered once");
    for file in all_files(dir.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        assert!(!text.contains(&token()), "{}", file.display());
    }
}

fn base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn finished_worktrees_beyond_the_limit_are_removed_oldest_first() {
    let remote = Remote::new();
    let ws = remote.workspaces_with(|c| c.max_worktrees = 2);
    let mut tasks = Vec::new();
    for (issue, title) in [(1, "One"), (2, "Two"), (3, "Three")] {
        tasks.push(
            ws.task_worktree(&remote.task(issue, title), &creds())
                .await
                .unwrap(),
        );
    }
    let [one, two, three] = &tasks[..] else {
        unreachable!()
    };
    write(one, "one.txt", "1\n");
    one.commit("feat: one", None).await.unwrap();

    // Three active worktrees exceed the limit, but only finished ones are ever removed.
    let cleanup = ws.finish(one).await.unwrap();
    assert_eq!(cleanup.removed, [one.path().to_owned()]);
    assert!(!one.path().exists());
    // Two fit the limit: a finished worktree is kept for a follow-up.
    assert_eq!(ws.finish(two).await.unwrap().removed, Vec::<PathBuf>::new());
    assert!(two.path().exists() && three.path().exists());
    let mirror = Repository::open_bare(one.mirror_path()).unwrap();
    let mut names: Vec<String> = mirror
        .worktrees()
        .unwrap()
        .iter()
        .flatten()
        .map(str::to_owned)
        .collect();
    names.sort();
    assert_eq!(names, ["2-two", "3-three"], "pruned from the mirror");

    // The branch stays, so a follow-up on issue 1 picks up its commits.
    let again = ws
        .task_worktree(&remote.task(1, "One"), &creds())
        .await
        .unwrap();
    assert_eq!(again.path(), one.path());
    assert_eq!(read(&again, "one.txt"), "1\n");
    // Nothing finished is left (issue 1 took over issue 2's checkout): a limit of zero removes
    // nothing that is active.
    let strict = remote.workspaces_with(|c| c.max_worktrees = 0);
    assert_eq!(
        strict.cleanup().await.unwrap().removed,
        Vec::<PathBuf>::new()
    );
    assert!(again.path().exists() && three.path().exists());
}

#[tokio::test]
async fn a_new_task_takes_over_a_finished_worktree_as_if_freshly_checked_out() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let old = ws
        .task_worktree(&remote.task(1, "Old work"), &creds())
        .await
        .unwrap();
    write(&old, "src/lib.rs", "pub fn greet() {}\n");
    old.commit("refactor: old work", None).await.unwrap();
    write(&old, "scratch.txt", "notes\n");
    write(&old, "target/debug/junk", "build output\n");
    ws.finish(&old).await.unwrap();
    let main = remote.human_pushes("main", "README.md", "# app\n\nNew on main.\n");

    let new = ws
        .task_worktree(&remote.task(2, "New work"), &creds())
        .await
        .unwrap();
    assert!(
        !old.path().exists(),
        "the finished checkout was moved, not copied"
    );
    let repo = Repository::open(new.path()).unwrap();
    assert_eq!(head_branch(&new), "orion/2-new-work");
    assert_eq!(repo.head().unwrap().target(), Some(main));
    assert!(
        read(&new, "src/lib.rs").contains("hello"),
        "the old task's change is gone"
    );
    assert!(read(&new, "README.md").contains("New on main."));
    assert!(!new.path().join("scratch.txt").exists());
    assert!(!new.path().join("target").exists());
    let mut options = StatusOptions::new();
    options.include_untracked(true).include_ignored(true);
    assert_eq!(repo.statuses(Some(&mut options)).unwrap().len(), 0);
    assert_eq!(
        git(new.path(), &["status", "--porcelain"]),
        "",
        "git agrees"
    );

    // The old task's branch is untouched and comes back in a checkout of its own.
    let back = ws
        .task_worktree(&remote.task(1, "Old work"), &creds())
        .await
        .unwrap();
    assert_eq!(read(&back, "src/lib.rs"), "pub fn greet() {}\n");
    assert_eq!(head_branch(&back), "orion/1-old-work");
    assert!(new.path().exists());
}

#[tokio::test]
async fn finished_worktrees_go_when_the_workdir_exceeds_its_disk_budget() {
    let remote = Remote::new();
    let ws = remote.workspaces_with(|c| c.max_disk_mb = Some(1));
    let big = ws
        .task_worktree(&remote.task(1, "Big"), &creds())
        .await
        .unwrap();
    write(&big, "data.bin", &"x".repeat(3 << 20));
    let active = ws
        .task_worktree(&remote.task(2, "Active"), &creds())
        .await
        .unwrap();
    write(&active, "data.bin", &"y".repeat(3 << 20));

    let cleanup = ws.finish(&big).await.unwrap();
    assert_eq!(cleanup.removed, [big.path().to_owned()]);
    assert!(
        active.path().join("data.bin").exists(),
        "active work is kept over budget"
    );
}

#[tokio::test]
async fn parallel_steps_commit_only_their_own_files_and_a_failed_attempt_is_discarded_alone() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(3, "Two steps at once"), &creds())
        .await
        .unwrap();
    let before = read(&task, "src/lib.rs");
    // Step a edits src/lib.rs and adds a file; step b, still running, edits README.md.
    write(&task, "src/lib.rs", "pub fn a() {}\n");
    write(&task, "src/new.rs", "// new\n");
    write(&task, "README.md", "half-done by step b\n");

    task.commit_paths(
        "feat(a): step a",
        &["src/lib.rs".into(), "src/new.rs".into()],
        None,
    )
    .await
    .unwrap();
    let repo = Repository::open(task.path()).unwrap();
    let tree = repo.head().unwrap().peel_to_tree().unwrap();
    assert!(tree.get_path(std::path::Path::new("src/new.rs")).is_ok());
    let readme = tree.get_path(std::path::Path::new("README.md")).unwrap();
    let readme = repo.find_blob(readme.id()).unwrap();
    assert_ne!(
        readme.content(),
        b"half-done by step b\n",
        "step b's edit stays out"
    );
    assert_eq!(
        read(&task, "README.md"),
        "half-done by step b\n",
        "and stays on disk"
    );

    // Step b's attempt fails: its files go back to the last commit, step a's commit stays.
    write(&task, "scratch.txt", "b's scratch\n");
    let discarded = task
        .discard_changes(&["README.md".into(), "scratch.txt".into()])
        .await
        .unwrap();
    assert_eq!(discarded, ["README.md", "scratch.txt"]);
    assert_ne!(read(&task, "README.md"), "half-done by step b\n");
    assert!(!task.path().join("scratch.txt").exists());
    assert_eq!(read(&task, "src/lib.rs"), "pub fn a() {}\n");
    assert_ne!(before, "pub fn a() {}\n");
    // Nothing left to commit: the worktree matches HEAD.
    assert!(task.commit("empty", None).await.is_err());
}

#[tokio::test]
async fn a_symlink_is_committed_as_a_link_never_as_what_it_points_at() {
    let remote = Remote::new();
    let ws = remote.workspaces();
    let task = ws
        .task_worktree(&remote.task(4, "Links"), &creds())
        .await
        .unwrap();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "ghs_supersecrettoken").unwrap();
    std::os::unix::fs::symlink(secret.path(), task.path().join("leak.txt")).unwrap();
    task.commit_paths("chore: link", &["leak.txt".into()], None)
        .await
        .unwrap();
    let repo = Repository::open(task.path()).unwrap();
    let tree = repo.head().unwrap().peel_to_tree().unwrap();
    let entry = tree.get_path(std::path::Path::new("leak.txt")).unwrap();
    assert_eq!(entry.filemode(), 0o120000, "stored as a symlink");
    let blob = repo.find_blob(entry.id()).unwrap();
    assert_eq!(blob.content(), secret.path().to_str().unwrap().as_bytes());
    assert!(!String::from_utf8_lossy(blob.content()).contains("supersecret"));
}

#[tokio::test]
async fn a_pull_request_is_diffed_in_the_mirror_with_renames_forks_and_force_pushes() {
    let remote = Remote::new();
    let h = &remote.human;
    // A feature branch: a rename with an edit, and a new file.
    git(h, &["checkout", "-q", "-b", "feature"]);
    git(h, &["mv", "README.md", "GUIDE.md"]);
    std::fs::write(h.join("GUIDE.md"), "# app\n\nHow to use it.\n").unwrap();
    std::fs::write(h.join("src/new.rs"), "pub fn new() {}\n").unwrap();
    git(h, &["add", "-A"]);
    git(h, &["commit", "-q", "-m", "guide"]);
    git(h, &["push", "-q", "origin", "feature"]);
    let first = git(h, &["rev-parse", "HEAD"]);
    // Meanwhile main moves on: the PR's diff must not show main's change.
    let main_tip = remote.human_pushes("main", "src/lib.rs", "pub fn greet() {}\n");
    let ws = remote.workspaces();
    let pull = ws
        .pull_request(&remote.url, &creds(), IssueNumber(5), "main", &first)
        .await
        .unwrap();
    let full = pull.diff_from(&pull.merge_base).await.unwrap();
    assert!(
        full.contains("rename from README.md\nrename to GUIDE.md"),
        "{full}"
    );
    assert!(full.contains("+How to use it."), "{full}");
    assert!(full.contains("+++ b/src/new.rs"), "{full}");
    assert!(
        !full.contains("src/lib.rs"),
        "main's own change is not the PR's: {full}"
    );
    let files = pull
        .files_at_head(vec!["GUIDE.md".into(), "README.md".into()])
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files["GUIDE.md"], "# app\n\nHow to use it.\n");

    // A second push: the incremental diff is that commit alone.
    git(h, &["checkout", "-q", "feature"]);
    std::fs::write(h.join("src/new.rs"), "pub fn new() -> u8 { 1 }\n").unwrap();
    git(h, &["commit", "-q", "-am", "new returns one"]);
    git(h, &["push", "-q", "origin", "feature"]);
    let second = git(h, &["rev-parse", "HEAD"]);
    let pull = ws
        .pull_request(&remote.url, &creds(), IssueNumber(5), "main", &second)
        .await
        .unwrap();
    assert!(pull.contains(&first).await.unwrap());
    let step = pull.diff_from(&first).await.unwrap();
    assert!(
        step.contains("+pub fn new() -> u8 { 1 }") && !step.contains("GUIDE.md"),
        "{step}"
    );

    // A force push rewrites `first` away: it is no start for an incremental review.
    git(h, &["reset", "-q", "--hard", "origin/main"]);
    std::fs::write(h.join("src/other.rs"), "\n").unwrap();
    git(h, &["add", "-A"]);
    git(h, &["commit", "-q", "-m", "start over"]);
    git(h, &["push", "-q", "-f", "origin", "HEAD:feature"]);
    let rewritten = git(h, &["rev-parse", "HEAD"]);
    let pull = ws
        .pull_request(&remote.url, &creds(), IssueNumber(5), "main", &rewritten)
        .await
        .unwrap();
    assert!(!pull.contains(&second).await.unwrap());
    assert_eq!(pull.merge_base, main_tip.to_string());

    // A fork's head is on no branch of the base repository: it comes from refs/pull/N/head.
    git(h, &["checkout", "-q", "-b", "fork-work", "origin/main"]);
    std::fs::write(h.join("src/fork.rs"), "pub fn fork() {}\n").unwrap();
    git(h, &["add", "-A"]);
    git(h, &["commit", "-q", "-m", "from a fork"]);
    git(h, &["push", "-q", "origin", "HEAD:refs/pull/9/head"]);
    let fork_head = git(h, &["rev-parse", "HEAD"]);
    let pull = ws
        .pull_request(&remote.url, &creds(), IssueNumber(9), "main", &fork_head)
        .await
        .unwrap();
    let diff = pull.diff_from(&pull.merge_base).await.unwrap();
    assert!(diff.contains("+pub fn fork() {}"), "{diff}");
    // A head that is nowhere is an error that says so.
    let err = ws
        .pull_request(
            &remote.url,
            &creds(),
            IssueNumber(10),
            "main",
            &"1".repeat(40),
        )
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("pull request #10"), "{err:#}");
}
