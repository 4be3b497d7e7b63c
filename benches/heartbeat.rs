//! Heartbeat benchmark: what the sweep's reads of idle repositories cost, with conditional
//! requests against without.
//!
//! The fake GitHub of the test crate (included below by path) holds `BENCH_REPOS` repositories,
//! each with `BENCH_ISSUES` open issues labelled for Orion and `BENCH_PULLS` open pull requests.
//! One scan's reads of a repository are what the heartbeat's sweep reads each tick: the labelled
//! issues and the open pull requests, every page of each ([`Repo::labelled_issues`],
//! [`Repo::open_pulls`]).
//!
//! - **conditional** (Orion): the reads go through the [`ReadCache`] kept in the database; the
//!   first scan fills it, and the `BENCH_RUNS` idle scans after it are measured;
//! - **baseline**, in the same run: the same reads with nothing remembered (a fresh, empty cache
//!   per scan, so every page is asked for unconditionally), as a scanner without ETags does.
//!
//! Printed per idle scan: requests, of them 304s, the rate limit spent (the fake counts it as
//! GitHub does: a 304 to an authorised conditional request is free) and the median wall time,
//! each with its ratio to the baseline.
//!
//! Run with `cargo bench --bench heartbeat`. Environment: `BENCH_REPOS` (default 5),
//! `BENCH_ISSUES` (default 250), `BENCH_PULLS` (default 20), `BENCH_RUNS` (default 5).

use std::time::{Duration, Instant};

use orion_bot::config::Secret;
use orion_bot::event::{InstallationId, RepoName};
use orion_bot::forge::GitHub;
use orion_bot::forge::github::{GitHubConfig, GitHubCredentials, ReadCache, ReadCost, Repo};

#[path = "common/env.rs"]
mod env;
#[allow(dead_code, unused_imports)]
#[path = "../tests/it/fake_github/mod.rs"]
mod fake_github;
#[allow(dead_code)]
#[path = "../tests/it/support.rs"]
mod support;

use env::env_u64;
use fake_github::FakeGitHub;

/// One scan's reads of every repository; what they cost.
async fn scan(repos: &[Repo], cache: &ReadCache) -> ReadCost {
    let mut cost = ReadCost::default();
    for repo in repos {
        let (issues, read) = repo
            .labelled_issues("orion", None, cache)
            .await
            .expect("labelled issues");
        assert!(!issues.is_empty());
        cost += read;
        let (_, read) = repo.open_pulls(cache).await.expect("open pull requests");
        cost += read;
    }
    cost
}

struct Figures {
    requests: u32,
    not_modified: u32,
    quota: u64,
    wall: Duration,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let repos_n = env_u64("BENCH_REPOS", 5) as usize;
    let issues_n = env_u64("BENCH_ISSUES", 250) as usize;
    let pulls_n = env_u64("BENCH_PULLS", 20) as usize;
    let runs = env_u64("BENCH_RUNS", 5).max(1) as usize;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let fake = FakeGitHub::start().await;
        let names: Vec<String> = (0..repos_n).map(|i| format!("octo/repo-{i}")).collect();
        eprintln!(
            "setting up {repos_n} repositories × {issues_n} labelled issues and {pulls_n} open pull requests…"
        );
        for name in &names {
            let handle = fake
                .repo(name)
                .default_branch("main")
                .file("README.md", "# Widgets\n")
                .create();
            for i in 0..issues_n {
                let n = fake.issue(name, "alice", &format!("Widget {i}"), "Paint it red.");
                fake.label(name, n, "orion", "alice");
            }
            for i in 0..pulls_n {
                let branch = format!("change-{i}");
                handle.commit_on(&branch, &[("src/x.txt", &format!("{i}\n"))], "Change");
                fake.open_pull(name, "bob", &branch, "main", &format!("Change {i}"), "A change.");
            }
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let installation = fake.install("octo", &refs);
        let app = fake.app_credentials();
        let config = GitHubConfig {
            api_url: fake.api_url().to_owned(),
            ..Default::default()
        };
        let github = GitHub::new(
            &config,
            &GitHubCredentials::App {
                app_id: app.app_id,
                private_key: Secret::new(app.private_key_pem),
            },
        )
        .expect("client");
        let repos: Vec<Repo> = names
            .iter()
            .map(|n| {
                github
                    .repo(Some(InstallationId(installation)), &RepoName(n.clone()))
                    .expect("repo")
            })
            .collect();
        let dir = tempfile::tempdir().expect("temp dir");

        let measure = |fresh_cache: bool| {
            let repos = repos.clone();
            let fake = &fake;
            let dir = dir.path().to_owned();
            async move {
                let store = support::fresh_store(&dir.join(if fresh_cache { "b" } else { "c" })).await;
                let kept = ReadCache::new(store.clone());
                if !fresh_cache {
                    scan(&repos, &kept).await; // fills the copies
                }
                let mut walls = Vec::new();
                let (mut cost, mut quota) = (ReadCost::default(), 0);
                for run in 0..runs {
                    let cache = if fresh_cache {
                        let s = support::fresh_store(&dir.join(format!("b{run}"))).await;
                        ReadCache::new(s)
                    } else {
                        kept.clone()
                    };
                    let used = fake.rate_used(installation);
                    let start = Instant::now();
                    let c = scan(&repos, &cache).await;
                    walls.push(start.elapsed());
                    quota = fake.rate_used(installation) - used;
                    cost = c;
                }
                Figures {
                    requests: cost.requests,
                    not_modified: cost.not_modified,
                    quota,
                    wall: median(walls),
                }
            }
        };
        std::fs::create_dir_all(dir.path().join("c")).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        for run in 0..runs {
            std::fs::create_dir_all(dir.path().join(format!("b{run}"))).unwrap();
        }
        let baseline = measure(true).await;
        let orion = measure(false).await;

        println!(
            "\nidle scan of {repos_n} repositories ({issues_n} labelled issues, {pulls_n} open pull requests each), median of {runs}:"
        );
        println!(
            "{:<28} {:>9} {:>6} {:>12} {:>10}",
            "", "requests", "304s", "quota spent", "wall ms"
        );
        for (label, f) in [
            ("conditional (Orion)", &orion),
            ("unconditional (baseline)", &baseline),
        ] {
            println!(
                "{label:<28} {:>9} {:>6} {:>12} {:>10.1}",
                f.requests,
                f.not_modified,
                f.quota,
                f.wall.as_secs_f64() * 1e3
            );
        }
        let ratio = |a: f64, b: f64| if b == 0.0 { 0.0 } else { a / b };
        println!(
            "ratios to the baseline: quota {:.2}, wall time {:.2}",
            ratio(orion.quota as f64, baseline.quota as f64),
            ratio(orion.wall.as_secs_f64(), baseline.wall.as_secs_f64()),
        );
    });
}
