//! Workspace benchmark: how long starting a task takes from Orion's warm mirror
//! ([`Workspaces::task_worktree`]: fetch, branch, worktree) against a fresh clone of the same
//! remote, measured in the same run. Target: at least 20× faster than a fresh clone.
//!
//! Two ways a task starts, both timed: a *fresh checkout* (no finished worktree around: every
//! file written) and *reusing a finished worktree* (the steady state of a busy repository: the
//! previous task changed and committed 20 files and finished; the new task takes its checkout
//! over and only the differing files are rewritten, untracked ones removed).
//!
//! The repository is generated, deterministically: `BENCH_FILES` source files (default 5,000,
//! 1–4 KiB of code-like text each, ten to a directory, two directory levels) and `BENCH_COMMITS`
//! commits (default 2,000), each changing one to four files. Objects are written straight into
//! the object database (no checkout per commit), then the remote is repacked with a bitmap index
//! as a hosting server keeps it. Everything runs on local disk over `file://`: no network latency
//! or bandwidth, which a real clone pays and a warm task start mostly does not, so the ratio here
//! understates the one seen against GitHub.
//!
//! Baselines: libgit2's clone (`RepoBuilder`, what Orion would do without a mirror) and, when
//! installed, the `git` CLI's clone, usually the faster one; the verdict uses the faster.
//! `BENCH_REPS` (default 5) repetitions each, interleaved, medians reported. `BENCH_DIR` puts
//! the repositories on another filesystem (e.g. `/dev/shm`). Run with
//! `cargo bench --bench workspace`.
//!
//! **What it shows.** The transfer is what the mirror saves, and on local disk it is cheap; the
//! checkout of thousands of files is paid by both sides and dominates, so the 20× target is out
//! of reach of any full checkout here (the bench prints the ceiling it implies). Against a real
//! remote the clone adds network transfer of the whole history while the warm task start
//! fetches only what is new.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use git2::build::RepoBuilder;
use git2::{FileMode, Oid, Repository, Signature, Time};
use orion_bot::event::IssueNumber;
use orion_bot::git::{Credentials, GitConfig, TaskSpec, Workspaces};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const TARGET: f64 = 20.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    let files = env_usize("BENCH_FILES", 5_000).max(1);
    let commits = env_usize("BENCH_COMMITS", 2_000).max(1);
    let reps = env_usize("BENCH_REPS", 5).max(1);
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };

    let started = Instant::now();
    let remote = dir.path().join("remote.git");
    generate(&remote, files, commits)?;
    let packed = repack(&remote);
    let size = dir_size(&remote.join("objects"));
    println!(
        "workspace bench: {files} files, {commits} commits, {:.1} MiB of objects{}, generated in {:.1} s",
        size as f64 / (1 << 20) as f64,
        if packed {
            " (repacked with bitmaps)"
        } else {
            " (loose: git CLI unavailable)"
        },
        started.elapsed().as_secs_f64()
    );
    let url = format!("file://{}", remote.display());

    // (b) needs a warm mirror: clone it once, as Orion does the first time it sees a repository.
    let runtime = tokio::runtime::Runtime::new()?;
    let workspaces = Workspaces::new(GitConfig {
        workdir: dir.path().join("orion-work"),
        max_worktrees: 2 * reps + 2,
        ..GitConfig::default()
    })?;
    let creds = Credentials::Anonymous;
    let t = Instant::now();
    runtime.block_on(workspaces.mirror(&url, &creds))?;
    let cold_mirror = t.elapsed();

    // Interleaved, so drift (other load, the page cache) hits both sides alike; each timed step
    // starts with no dirty pages left by the previous one.
    let (mut git2_clone, mut cli_clone, mut cli_bare) = (Vec::new(), Vec::new(), Vec::new());
    let (mut warm_fetch, mut task_start, mut task_reuse) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for i in 0..reps {
        // (a) Fresh clones.
        let dest = dir.path().join(format!("clone-git2-{i}"));
        settle();
        let t = Instant::now();
        RepoBuilder::new().clone(&url, &dest)?;
        git2_clone.push(t.elapsed());
        std::fs::remove_dir_all(&dest)?;
        if packed {
            let dest = dir.path().join(format!("clone-cli-{i}"));
            settle();
            let t = Instant::now();
            let ok = Command::new("git")
                .args(["-c", "protocol.file.allow=always", "clone", "-q", &url])
                .arg(&dest)
                .status()?
                .success();
            cli_clone.push(t.elapsed());
            anyhow::ensure!(ok, "git clone failed");
            std::fs::remove_dir_all(&dest)?;
            // The same without the checkout: what the transfer and indexing alone cost.
            settle();
            let t = Instant::now();
            let ok = Command::new("git")
                .args([
                    "-c",
                    "protocol.file.allow=always",
                    "clone",
                    "-q",
                    "--no-checkout",
                    &url,
                ])
                .arg(&dest)
                .status()?
                .success();
            cli_bare.push(t.elapsed());
            anyhow::ensure!(ok, "git clone --no-checkout failed");
            std::fs::remove_dir_all(&dest)?;
        }

        // (b) A task workspace from the warm mirror, and the fetch alone for the breakdown.
        settle();
        let t = Instant::now();
        runtime.block_on(workspaces.mirror(&url, &creds))?;
        warm_fetch.push(t.elapsed());
        // No finished worktree to take over: a full checkout.
        let fresh = spec(&url, 1_000 + i as u64);
        settle();
        let t = Instant::now();
        let workspace = runtime.block_on(workspaces.task_worktree(&fresh, &creds))?;
        task_start.push(t.elapsed());
        check_worktree(workspace.path(), files)?;
        // That task does its work (20 files changed, committed) and finishes...
        for n in 0..20 {
            let file = workspace.path().join(format!("src/m000/s0/f{}.rs", n % 10));
            std::fs::write(&file, format!("// task {i} edit {n}\n"))?;
        }
        std::fs::write(workspace.path().join("NOTES.md"), "scratch\n")?;
        runtime.block_on(workspace.commit("refactor: bench edit", None))?;
        runtime.block_on(workspaces.finish(&workspace))?;
        // ...and the next task takes its worktree over: the steady state of a busy repository.
        let next = spec(&url, 2_000 + i as u64);
        settle();
        let t = Instant::now();
        let workspace = runtime.block_on(workspaces.task_worktree(&next, &creds))?;
        task_reuse.push(t.elapsed());
        check_worktree(workspace.path(), files)?;
        last = Some(next);
    }
    let task = last.expect("at least one repetition");
    let t = Instant::now();
    runtime.block_on(workspaces.task_worktree(&task, &creds))?;
    let rerun = t.elapsed();

    let row = |label: &str, runs: &[Duration]| {
        println!(
            "  {label:<44} median {:>8.1} ms   runs {}",
            ms(median(runs)),
            runs.iter()
                .map(|d| format!("{:.0}", ms(*d)))
                .collect::<Vec<_>>()
                .join(" ")
        );
    };
    row("fresh clone, libgit2 RepoBuilder", &git2_clone);
    if !cli_clone.is_empty() {
        row("fresh clone, git CLI", &cli_clone);
        row("  of which transfer + index (--no-checkout)", &cli_bare);
    }
    println!(
        "  {:<44} {:>15.1} ms",
        "first mirror clone (once per repo)",
        ms(cold_mirror)
    );
    row("warm mirror fetch, nothing new", &warm_fetch);
    row("task workspace, fresh checkout", &task_start);
    row("task workspace, reusing a finished worktree", &task_reuse);
    println!(
        "  {:<44} {:>15.1} ms",
        "same task again (re-run job)",
        ms(rerun)
    );

    let baseline = if cli_clone.is_empty() {
        median(&git2_clone)
    } else {
        median(&git2_clone).min(median(&cli_clone))
    };
    println!(
        "  ratio: {:.1}x vs libgit2 clone{}",
        ms(median(&git2_clone)) / ms(median(&task_reuse)),
        if cli_clone.is_empty() {
            String::new()
        } else {
            format!(
                ", {:.1}x vs git CLI clone",
                ms(median(&cli_clone)) / ms(median(&task_reuse))
            )
        }
    );
    let mut verdict_ratio = f64::INFINITY;
    for (label, runs) in [
        ("fresh checkout", &task_start),
        ("reusing a finished worktree", &task_reuse),
    ] {
        let ratio = ms(baseline) / ms(median(runs));
        verdict_ratio = verdict_ratio.min(ratio);
        let verdict = if ratio >= TARGET { "PASS" } else { "MISS" };
        println!(
            "  target >= {TARGET:.0}x faster than a fresh clone (faster baseline), {label}: {verdict} ({ratio:.1}x)"
        );
    }
    if verdict_ratio < TARGET && !cli_bare.is_empty() {
        let clone = ms(median(&cli_clone));
        let checkout = (clone - ms(median(&cli_bare))).max(1.0);
        println!(
            "  note: a fresh task workspace is a full checkout of {files} files, which a clone pays too \
             (~{checkout:.0} ms of the git CLI's {clone:.0} ms here). With a full checkout and a \
             local remote the ratio cannot exceed ~{:.1}x; the rest of a real clone is network \
             transfer, absent from this run",
            clone / checkout
        );
    }
    Ok(())
}

/// Flushes dirty pages so one step's deferred writes are not charged to the next.
fn settle() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

fn spec(url: &str, issue: u64) -> TaskSpec {
    TaskSpec {
        clone_url: url.to_owned(),
        base_branch: "main".into(),
        ticket: orion_bot::git::github_ticket(IssueNumber(issue)),
        title: "Benchmark task".into(),
    }
}

/// A usable workspace: every file of the repository is there.
fn check_worktree(path: &Path, files: usize) -> anyhow::Result<()> {
    let checked_out = count_files(path);
    anyhow::ensure!(
        checked_out > files,
        "{} has {checked_out} files, expected {files} and a README",
        path.display()
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn median(runs: &[Duration]) -> Duration {
    let mut sorted = runs.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

/// Writes the repository's history into a bare repository at `path`, `main` at the last commit.
fn generate(path: &Path, files: usize, commits: usize) -> anyhow::Result<()> {
    let repo = Repository::init_bare(path)?;
    let mut tree = Tree::new(&repo, files)?;
    let mut rng = StdRng::seed_from_u64(42);
    let mut parent: Option<Oid> = None;
    for n in 0..commits {
        let changed: Vec<usize> = if n == 0 {
            Vec::new()
        } else {
            (0..rng.random_range(1..=4))
                .map(|_| rng.random_range(0..files))
                .collect()
        };
        for &file in &changed {
            tree.set(&repo, file, n as u64)?;
        }
        let root = repo.find_tree(tree.write(&repo)?)?;
        let when = Time::new(1_700_000_000 + n as i64 * 600, 0);
        let sig = Signature::new("Dev", "dev@example.com", &when)?;
        let message = if n == 0 {
            "initial import".to_owned()
        } else {
            format!("change {} file(s), step {n}", changed.len())
        };
        let parents = parent.map(|p| repo.find_commit(p)).transpose()?;
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        parent = Some(repo.commit(None, &sig, &sig, &message, &root, &parents)?);
    }
    repo.reference(
        "refs/heads/main",
        parent.expect("at least one commit"),
        true,
        "bench",
    )?;
    repo.set_head("refs/heads/main")?;
    Ok(())
}

/// The working tree as blob ids, with the trees above them cached and rebuilt only where a file
/// changed: `README.md` and `src/m<NNN>/s<N>/f<i>.rs`, ten files to a leaf directory.
struct Tree {
    blobs: Vec<Oid>,
    leaves: Vec<Option<Oid>>,
    mids: Vec<Option<Oid>>,
    readme: Oid,
}

impl Tree {
    fn new(repo: &Repository, files: usize) -> anyhow::Result<Self> {
        let blobs = (0..files)
            .map(|i| repo.blob(source(i, 0).as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            blobs,
            leaves: vec![None; files.div_ceil(10)],
            mids: vec![None; files.div_ceil(100)],
            readme: repo.blob(b"# generated\n\nA repository for Orion's workspace benchmark.\n")?,
        })
    }

    fn set(&mut self, repo: &Repository, file: usize, version: u64) -> anyhow::Result<()> {
        self.blobs[file] = repo.blob(source(file, version + 1).as_bytes())?;
        self.leaves[file / 10] = None;
        self.mids[file / 100] = None;
        Ok(())
    }

    fn write(&mut self, repo: &Repository) -> anyhow::Result<Oid> {
        for leaf in 0..self.leaves.len() {
            if self.leaves[leaf].is_none() {
                let mut b = repo.treebuilder(None)?;
                for file in leaf * 10..(leaf * 10 + 10).min(self.blobs.len()) {
                    b.insert(
                        format!("f{file}.rs"),
                        self.blobs[file],
                        FileMode::Blob.into(),
                    )?;
                }
                self.leaves[leaf] = Some(b.write()?);
            }
        }
        for mid in 0..self.mids.len() {
            if self.mids[mid].is_none() {
                let mut b = repo.treebuilder(None)?;
                for leaf in mid * 10..(mid * 10 + 10).min(self.leaves.len()) {
                    let id = self.leaves[leaf].expect("leaves written first");
                    b.insert(format!("s{}", leaf % 10), id, FileMode::Tree.into())?;
                }
                self.mids[mid] = Some(b.write()?);
            }
        }
        let mut src = repo.treebuilder(None)?;
        for (mid, id) in self.mids.iter().enumerate() {
            src.insert(
                format!("m{mid:03}"),
                id.expect("mids written"),
                FileMode::Tree.into(),
            )?;
        }
        let src = src.write()?;
        let mut root = repo.treebuilder(None)?;
        root.insert("README.md", self.readme, FileMode::Blob.into())?;
        root.insert("src", src, FileMode::Tree.into())?;
        Ok(root.write()?)
    }
}

/// 1–4 KiB of code-like text, different per file and per version.
fn source(file: usize, version: u64) -> String {
    const WORDS: &[&str] = &[
        "let", "fn", "match", "self", "value", "config", "result", "Ok", "Err", "return", "if",
        "else", "for", "in", "map", "iter", "collect", "String", "Vec", "usize", "token", "event",
        "queue", "worker", "branch", "commit", "parse", "render", "state", "next",
    ];
    let mut rng = StdRng::seed_from_u64((file as u64) << 20 | version);
    let lines = rng.random_range(30..110);
    let mut out = format!("//! Module {file}, revision {version}.\n\n");
    for _ in 0..lines {
        let indent = rng.random_range(0..3) * 4;
        out.push_str(&" ".repeat(indent));
        for w in 0..rng.random_range(3..9) {
            if w > 0 {
                out.push(' ');
            }
            out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
        }
        out.push_str(";\n");
    }
    out
}

/// Repacks the remote into one pack with a bitmap index, as a hosting server serves it. False
/// when the `git` CLI is missing (the remote then stays loose, and there is no CLI baseline).
fn repack(path: &Path) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(path)
        .args(["repack", "-a", "-d", "-b", "-q"])
        .status()
        .is_ok_and(|s| s.success())
}

fn dir_size(dir: &Path) -> u64 {
    walk(dir)
        .iter()
        .filter_map(|p| p.metadata().ok())
        .map(|m| m.len())
        .sum()
}

fn count_files(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == ".git") {
            continue;
        }
        match entry.file_type() {
            Ok(t) if t.is_dir() => out.extend(walk(&path)),
            Ok(t) if t.is_file() => out.push(path),
            _ => {}
        }
    }
    out
}
