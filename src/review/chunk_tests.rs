use std::collections::{BTreeSet, HashMap};

use super::*;
use crate::forge::github::Side;
use crate::review::diff::LineKind;
use crate::review::finding::{Finding, Severity};
use crate::review::testing::{GitRepo, numbered};

/// Every changed line the plan sends, as `(path, mark, number)`; each must be sent once.
fn sent_lines(plan: &ReviewPlan) -> Vec<(String, char, u32)> {
    let mut sent = Vec::new();
    for chunk in &plan.chunks {
        for s in &chunk.sections {
            for line in s.text.lines() {
                let mark = line.chars().next().unwrap();
                if mark != '+' && mark != '-' {
                    continue;
                }
                let number = line[1..].split('|').next().unwrap().parse().unwrap();
                sent.push((s.path.clone(), mark, number));
            }
        }
    }
    sent
}

/// Every changed line of the files the plan did not skip.
fn diff_lines(diff: &Diff, plan: &ReviewPlan) -> BTreeSet<(String, char, u32)> {
    let skipped: Vec<&str> = plan.skipped.iter().map(|s| s.path.as_str()).collect();
    let mut lines = BTreeSet::new();
    for file in diff.files.iter().filter(|f| !skipped.contains(&f.path())) {
        for (n, l) in file.side_lines(Side::Right) {
            if l.kind == LineKind::Added {
                lines.insert((file.path().to_string(), '+', n));
            }
        }
        for (n, l) in file.side_lines(Side::Left) {
            if l.kind == LineKind::Removed {
                lines.insert((file.path().to_string(), '-', n));
            }
        }
    }
    lines
}

/// Each changed line sent exactly once, no chunk over budget, coverage complete.
fn assert_complete(diff: &Diff, plan: &ReviewPlan, options: &ChunkOptions) {
    let sent = sent_lines(plan);
    let unique: BTreeSet<_> = sent.iter().cloned().collect();
    assert_eq!(unique.len(), sent.len(), "a changed line was sent twice");
    assert_eq!(unique, diff_lines(diff, plan), "changed lines sent");
    for chunk in &plan.chunks {
        assert!(
            chunk.tokens() <= options.max_tokens,
            "{} tokens",
            chunk.tokens()
        );
        assert_eq!(chunk.tokens(), estimate_tokens(&chunk.text()));
    }
    let skipped: u64 = plan.skipped.iter().map(|s| s.changed_lines as u64).sum();
    assert_eq!(
        plan.coverage.lines_reviewed + skipped,
        plan.coverage.lines_total
    );
    assert_eq!(plan.coverage.lines_reviewed, sent.len() as u64);
}

#[test]
fn small_files_are_packed_whole_into_one_request() {
    let repo = GitRepo::new();
    repo.write("a.rs", numbered(10));
    repo.write("b.rs", numbered(10));
    let base = repo.commit("base");
    repo.write("a.rs", numbered(10).replace("line 5\n", "five\n"));
    repo.write("b.rs", numbered(10).replace("line 6\n", "six\n"));
    repo.mv("b.rs", "c.rs");
    let head = repo.commit("head");
    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();

    let options = ChunkOptions::default();
    let plan = plan(&diff, &SkipRules::default(), &options, &NoContext);
    assert_eq!(plan.chunks.len(), 1);
    let chunk = &plan.chunks[0];
    assert_eq!(chunk.paths(), ["a.rs", "c.rs"]);
    assert!(chunk.sections.iter().all(|s| s.part == Part::Whole));
    assert!(chunk.text().contains("### c.rs (renamed, from b.rs)\n"));
    assert!(chunk.text().contains("+6|six\n"));
    assert_eq!(
        plan.coverage_line(),
        "Reviewed 2 of 2 files, 4 of 4 changed lines."
    );
    assert_complete(&diff, &plan, &options);
}

/// A 400-line file changed every 20 lines: 20 hunks of about 10 lines.
fn many_hunks() -> (GitRepo, Diff) {
    let repo = GitRepo::new();
    repo.write("big.rs", numbered(400));
    let base = repo.commit("base");
    let changed: String = (1..=400)
        .map(|i| {
            if i % 20 == 10 {
                format!("changed line {i} with some longer text to review\n")
            } else {
                format!("line {i}\n")
            }
        })
        .collect();
    repo.write("big.rs", changed);
    let head = repo.commit("head");
    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    (repo, diff)
}

#[test]
fn a_file_too_big_for_one_request_is_split_between_hunks() {
    let (repo, diff) = many_hunks();
    assert_eq!(diff.files[0].hunks.len(), 20);
    let options = ChunkOptions {
        max_tokens: 300,
        context_lines: 6,
    };
    let head = HashMap::from([("big.rs".to_string(), repo.read("big.rs"))]);
    let plan = plan(&diff, &SkipRules::default(), &options, &head);
    assert!(plan.chunks.len() > 2, "{} chunks", plan.chunks.len());
    let parts: Vec<Part> = plan
        .chunks
        .iter()
        .flat_map(|c| c.sections.iter().map(|s| s.part))
        .collect();
    let Part::Hunks { first, of, .. } = parts[0] else {
        panic!("{parts:?}")
    };
    assert_eq!((first, of), (0, 20));
    let text = plan.chunks[1].text();
    assert!(text.starts_with("### big.rs (modified) — hunks "), "{text}");
    assert!(text.contains(":"), "context from the head is included");
    assert_complete(&diff, &plan, &options);
}

#[test]
fn a_hunk_too_big_for_one_request_is_split_between_lines() {
    let repo = GitRepo::new();
    repo.write("x.rs", "first\n");
    let base = repo.commit("base");
    let body: String = (1..=300)
        .map(|i| format!("let value_{i} = compute({i});\n"))
        .collect();
    repo.write("x.rs", format!("first\n{body}"));
    let head = repo.commit("head");
    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    assert_eq!(diff.files[0].hunks.len(), 1);

    let options = ChunkOptions {
        max_tokens: 500,
        context_lines: 5,
    };
    let files = |path: &str| (path == "x.rs").then(|| repo.read("x.rs"));
    let plan = plan(&diff, &SkipRules::default(), &options, &files);
    let parts: Vec<Part> = plan
        .chunks
        .iter()
        .flat_map(|c| c.sections.iter().map(|s| s.part))
        .collect();
    let pieces = parts.len();
    assert!(pieces > 5, "{pieces} pieces");
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(
            *part,
            Part::Lines {
                hunk: 0,
                piece: i,
                pieces
            }
        );
    }
    let second = plan.chunks[1].text();
    assert!(
        second.starts_with(&format!(
            "### x.rs (modified) — hunk 1 of 1, part 2 of {pieces}\n@@ (continued)\n+"
        )),
        "{second}"
    );
    assert_complete(&diff, &plan, &options);
}

#[test]
fn a_large_pull_request_is_reviewed_completely_with_its_coverage() {
    // 300 files, 20,000 changed lines: one 5,000-line file, 297 of about 50 lines, two lock files.
    let repo = GitRepo::new();
    repo.write("README.md", "x\n");
    let base = repo.commit("base");
    let lines = |prefix: &str, n: usize| -> String {
        (1..=n)
            .map(|i| format!("    let {prefix}_{i} = step({i}, \"{prefix}\");\n"))
            .collect()
    };
    repo.write("src/big.rs", lines("big", 5_000));
    for i in 1..=297 {
        let n = if i <= 20 { 51 } else { 50 };
        repo.write(&format!("src/m{i:03}.rs"), lines(&format!("m{i}"), n));
    }
    repo.write("Cargo.lock", lines("lock", 100));
    repo.write("web/package-lock.json", lines("npm", 30));
    let head = repo.commit("head");
    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    assert_eq!((diff.files.len(), diff.changed_lines()), (300, 20_000));

    let options = ChunkOptions::default();
    let contents: HashMap<String, String> = diff
        .files
        .iter()
        .map(|f| (f.path().to_string(), repo.read(f.path())))
        .collect();
    let plan = plan(&diff, &SkipRules::default(), &options, &contents);
    assert_eq!(
        plan.coverage_line(),
        "Reviewed 298 of 300 files, 19,870 of 20,000 changed lines; skipped: \
         Cargo.lock (lock file), web/package-lock.json (lock file)."
    );
    assert!(plan.chunks.len() >= 10, "{} chunks", plan.chunks.len());
    assert_complete(&diff, &plan, &options);
}

#[test]
fn skipped_files_are_listed_with_their_reasons_and_counted_out() {
    let repo = GitRepo::new();
    repo.write("old.rs", "a\nb\n");
    let base = repo.commit("base");
    repo.remove("old.rs");
    repo.write("src/lib.rs", "fn x() {}\n");
    repo.write("vendor/dep/dep.go", "package dep\n");
    repo.write("logo.png", [0u8, 1, 2]);
    let head = repo.commit("head");
    let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
    let plan = plan(
        &diff,
        &SkipRules::default(),
        &ChunkOptions::default(),
        &NoContext,
    );
    assert_eq!(
        plan.coverage_line(),
        "Reviewed 1 of 4 files, 1 of 4 changed lines; skipped: logo.png (binary), \
         old.rs (deleted), vendor/dep/dep.go (vendored)."
    );
    assert_eq!(plan.chunks[0].paths(), ["src/lib.rs"]);
}

#[test]
fn a_long_skipped_list_is_cut_and_counted() {
    let plan = ReviewPlan {
        skipped: (0..13)
            .map(|i| Skipped {
                path: format!("vendor/{i}.c"),
                reason: SkipReason::Vendored,
                changed_lines: 1,
            })
            .collect(),
        coverage: Coverage {
            files_total: 1_013,
            files_reviewed: 1_000,
            lines_total: 1_234_567,
            lines_reviewed: 1_234_554,
        },
        ..ReviewPlan::default()
    };
    let line = plan.coverage_line();
    assert!(
        line.starts_with("Reviewed 1,000 of 1,013 files, 1,234,554 of 1,234,567 changed lines"),
        "{line}"
    );
    assert!(
        line.ends_with("vendor/9.c (vendored) and 3 more."),
        "{line}"
    );
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1_000), "1,000");
}

#[test]
fn an_empty_diff_plans_nothing() {
    let plan = plan(
        &Diff::default(),
        &SkipRules::default(),
        &ChunkOptions::default(),
        &NoContext,
    );
    assert!(plan.chunks.is_empty());
    assert_eq!(
        plan.coverage_line(),
        "Reviewed 0 of 0 files, 0 of 0 changed lines."
    );
}

#[test]
fn an_answer_about_a_file_outside_the_chunk_is_refused() {
    let chunk = Chunk {
        sections: vec![Section {
            path: "a.rs".into(),
            part: Part::Whole,
            changed_lines: 1,
            text: "### a.rs (added)\n@@\n+1|x\n".into(),
        }],
    };
    let on = |path: &str| ChunkFindings {
        findings: vec![Finding {
            path: path.into(),
            side: Side::Right,
            start_line: 1,
            end_line: 1,
            severity: Severity::Minor,
            confidence: 0.9,
            title: "t".into(),
            body: String::new(),
            suggestion: None,
        }],
    };
    assert_eq!(chunk.check(&on("a.rs")), Ok(()));
    assert_eq!(
        chunk.check(&on("b.rs")),
        Err("finding 1 is on `b.rs`, which is not in this diff (its files: a.rs)".into())
    );
}

#[test]
fn the_estimate_agrees_with_the_model_client_budget_check() {
    use crate::llm::{ChatRequest, Message};
    for text in ["", "x", "fn main() {}\n", &"let a = 1;\n".repeat(1000)] {
        let request = ChatRequest::new("", vec![Message::user(text)]);
        let framing = 8u64.div_ceil(CHARS_PER_TOKEN) + 1;
        let ours = estimate_tokens(text);
        let theirs = request.estimated_input_tokens();
        assert!(
            ours <= theirs && theirs <= ours + framing,
            "{ours} vs {theirs}"
        );
    }
}
