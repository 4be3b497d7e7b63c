//! Review-request benchmark: how long Orion takes to turn a pull request's diff into review
//! requests and to map the reviewers' findings back onto it (model time excluded), and how many
//! model tokens it sends per changed line, next to a naive baseline built in the same run.
//!
//! Run with `cargo bench --bench review`. `BENCH_CONTEXT_TOKENS` (default 128,000) is the naive
//! baseline's context window, `BENCH_CHUNK_TOKENS` (default [`ChunkOptions::default`]) Orion's
//! budget per request, `BENCH_RUNS` (default 5) the timed runs per size (median reported).
//!
//! # What is measured
//!
//! Synthetic pull requests of 1, 100 and 1,000 files, made like real ones: file lengths from 30 to
//! 3,000 lines (log-uniform), one to eight hunks per file with git's three lines of context, now
//! and then a very large hunk (a generated table, a big new function), and a mix of added,
//! deleted, binary and renamed files (some pure renames), plus lock files with large churn.
//! The diff text is what GitHub's `application/vnd.github.diff` returns; the head version of every
//! file is at hand, as it is when the job reads it from its git mirror (fetching is not timed).
//!
//! - **Orion**, timed in four phases: *parse* the diff; *plan* it (skip rules, chunking, rendering
//!   with five lines of head context around each hunk); build each chunk's *prompt* (the
//!   reviewer's instructions, the line-format legend and the chunk's numbered lines) as a
//!   `ChatRequest`; *map* the findings back (one synthetic finding per ~40 changed lines reviewed,
//!   a tenth of them duplicates and a tenth off the diff's lines: merge, place, render the
//!   comments).
//! - **Naive**: the instructions and the whole raw diff in one prompt, cut at the context window
//!   (a model cannot read past it). Its coverage is the changed lines before the cut, lock files
//!   included.
//!
//! Tokens are counted with the model client's own estimate
//! ([`ChatRequest::estimated_input_tokens`], 3 characters per token), for both.

#[path = "common/env.rs"]
mod env;

use env::env_u64;

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::time::{Duration, Instant};

use orion_bot::forge::github::Side;
use orion_bot::llm::{ChatRequest, Message};
use orion_bot::review::{
    ChunkOptions, Diff, Finding, LINE_FORMAT, NoiseControl, ReviewPlan, Severity, SkipRules, merge,
    plan,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Stands in for the review job's instructions: about the length a real one has.
const INSTRUCTIONS: &str = "\
You review a pull request's changes. Report real problems in the changed lines: bugs, security
issues, data loss, races, broken error handling, missing tests for risky logic, misleading names.
Do not report style a formatter or linter would catch. For each finding give the file path, the
side and lines it is about, a severity (critical: breaks correctness, security or data in the
common case; major: a real bug in a plausible case; minor: worth fixing; nit: taste), your
confidence from 0 to 1, a one-line title without line numbers, an explanation, and when the fix is
a few lines, the replacement for exactly those lines. Report nothing rather than guess.";

/// A synthetic pull request.
struct Synthetic {
    diff: String,
    head: HashMap<String, String>,
    /// Byte offset in `diff` of every changed line, to count what a cut at some offset keeps.
    changed_at: Vec<usize>,
}

const WORDS: [&str; 16] = [
    "request", "user", "config", "value", "index", "buffer", "client", "state", "result", "items",
    "limit", "token", "path", "entry", "count", "retry",
];

fn code_line(rng: &mut StdRng) -> String {
    let w = |rng: &mut StdRng| WORDS[rng.random_range(0..WORDS.len())];
    let indent = "    ".repeat(rng.random_range(0..4));
    match rng.random_range(0..6) {
        0 => format!("{indent}let {} = {}.{}()?;", w(rng), w(rng), w(rng)),
        1 => format!(
            "{indent}if {}.{} > {} {{",
            w(rng),
            w(rng),
            rng.random_range(0..1000)
        ),
        2 => format!("{indent}}}"),
        3 => format!(
            "{indent}// The {} is checked against the {} before the {} is used.",
            w(rng),
            w(rng),
            w(rng)
        ),
        4 => String::new(),
        _ => format!(
            "{indent}{}.push({}::new({}, \"{}\"));",
            w(rng),
            w(rng),
            w(rng),
            w(rng)
        ),
    }
}

/// One edit: at old line `at` (0-based) remove `remove` lines and insert `insert`.
struct Edit {
    at: usize,
    remove: usize,
    insert: Vec<String>,
}

/// Edits spread over a file of `old_len` lines; `churn` for a lock file's large rewrites.
fn edits(rng: &mut StdRng, old_len: usize, churn: bool) -> Vec<Edit> {
    let max_hunks = (old_len / 40).clamp(1, 8);
    let hunks = rng.random_range(1..=max_hunks);
    let segment = old_len / hunks;
    (0..hunks)
        .filter_map(|h| {
            // Each edit stays inside its segment with room for context, so hunks stay apart.
            let room = segment.checked_sub(8)?;
            let remove = rng.random_range(0..=room.min(if churn { 150 } else { 12 }));
            let insert_n = if churn {
                rng.random_range(50..300)
            } else if rng.random_bool(0.02) {
                rng.random_range(400..1500)
            } else {
                rng.random_range(usize::from(remove == 0)..=20)
            };
            let at = h * segment + 4 + rng.random_range(0..=room - remove);
            Some(Edit {
                at,
                remove,
                insert: (0..insert_n).map(|_| code_line(rng)).collect(),
            })
        })
        .collect()
}

/// Appends the hunks of `edits` applied to `old`, and returns the new content.
fn write_hunks(out: &mut Synthetic, old: &[String], edits: &[Edit]) -> Vec<String> {
    let mut new = Vec::with_capacity(old.len());
    let mut copied = 0;
    let mut offset: isize = 0;
    for (k, e) in edits.iter().enumerate() {
        let from = e.at.saturating_sub(3);
        let to = (e.at + e.remove + 3).min(old.len());
        let old_count = to - from;
        let new_count = old_count - e.remove + e.insert.len();
        let new_start = (from as isize + 1 + offset) as usize;
        let _ = writeln!(
            out.diff,
            "@@ -{},{old_count} +{new_start},{new_count} @@ fn step_{k}()",
            from + 1
        );
        for l in &old[from..e.at] {
            let _ = writeln!(out.diff, " {l}");
        }
        for l in &old[e.at..e.at + e.remove] {
            out.changed_at.push(out.diff.len());
            let _ = writeln!(out.diff, "-{l}");
        }
        for l in &e.insert {
            out.changed_at.push(out.diff.len());
            let _ = writeln!(out.diff, "+{l}");
        }
        for l in &old[e.at + e.remove..to] {
            let _ = writeln!(out.diff, " {l}");
        }
        new.extend_from_slice(&old[copied..e.at]);
        new.extend(e.insert.iter().cloned());
        copied = e.at + e.remove;
        offset += e.insert.len() as isize - e.remove as isize;
    }
    new.extend_from_slice(&old[copied..]);
    new
}

fn all_lines(out: &mut Synthetic, mark: char, lines: &[String]) {
    for l in lines {
        out.changed_at.push(out.diff.len());
        let _ = writeln!(out.diff, "{mark}{l}");
    }
}

fn synthesise(files: usize, seed: u64) -> Synthetic {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Synthetic {
        diff: String::new(),
        head: HashMap::new(),
        changed_at: Vec::new(),
    };
    let mut paths: Vec<String> = (0..files)
        .map(|i| {
            let roll = rng.random_range(0..100);
            let dir = format!("crates/c{}/src", i % 17);
            match roll {
                0..=2 if files > 1 => {
                    let lock = ["Cargo.lock", "package-lock.json", "yarn.lock", "go.sum"][i % 4];
                    format!("pkg{i}/{lock}")
                }
                3 if files > 1 => format!("{dir}/assets/icon{i}.png"),
                _ => format!("{dir}/module_{i:04}.rs"),
            }
        })
        .collect();
    paths.sort();
    for path in paths {
        let lock = path.starts_with("pkg");
        let len = if lock {
            rng.random_range(600..2_000)
        } else {
            (30.0 * 100f64.powf(rng.random::<f64>())) as usize
        };
        let old: Vec<String> = (0..len).map(|_| code_line(&mut rng)).collect();
        let roll = match (files, lock) {
            (1, _) | (_, true) => 99,
            _ => rng.random_range(0..100),
        };
        if path.ends_with(".png") {
            let _ = write!(
                out.diff,
                "diff --git a/{path} b/{path}\nindex 1a2b3c4..5d6e7f8 100644\n\
                 Binary files a/{path} and b/{path} differ\n"
            );
        } else if roll < 6 {
            let _ = write!(
                out.diff,
                "diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..1a2b3c4\n\
                 --- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len} @@\n"
            );
            all_lines(&mut out, '+', &old);
            out.head.insert(path, old.join("\n") + "\n");
        } else if roll < 8 {
            let _ = write!(
                out.diff,
                "diff --git a/{path} b/{path}\ndeleted file mode 100644\nindex 1a2b3c4..0000000\n\
                 --- a/{path}\n+++ /dev/null\n@@ -1,{len} +0,0 @@\n"
            );
            all_lines(&mut out, '-', &old);
        } else if roll < 16 && rng.random_bool(0.6) {
            let new_path = path.replace("module_", "renamed/module_");
            let _ = write!(
                out.diff,
                "diff --git a/{path} b/{new_path}\nsimilarity index 100%\n\
                 rename from {path}\nrename to {new_path}\n"
            );
            out.head.insert(new_path, old.join("\n") + "\n");
        } else {
            let new_path = if roll < 16 {
                let new_path = path.replace("module_", "renamed/module_");
                let _ = write!(
                    out.diff,
                    "diff --git a/{path} b/{new_path}\nsimilarity index 93%\nrename from {path}\n\
                     rename to {new_path}\nindex 1a2b3c4..5d6e7f8 100644\n"
                );
                new_path
            } else {
                let _ = write!(
                    out.diff,
                    "diff --git a/{path} b/{path}\nindex 1a2b3c4..5d6e7f8 100644\n"
                );
                path.clone()
            };
            let _ = write!(out.diff, "--- a/{path}\n+++ b/{new_path}\n");
            let e = edits(&mut rng, old.len(), lock);
            let new = write_hunks(&mut out, &old, &e);
            out.head.insert(new_path, new.join("\n") + "\n");
        }
    }
    out
}

/// What a reviewer might answer for a plan: one finding per ~40 changed lines it was shown, a
/// tenth of them repeated by a second chunk, a tenth pointing 30 lines off the diff.
fn findings_for(plan: &ReviewPlan, rng: &mut StdRng) -> Vec<Finding> {
    let mut findings = Vec::new();
    for chunk in &plan.chunks {
        for section in &chunk.sections {
            let changed: Vec<(Side, u32)> = section
                .text
                .lines()
                .filter_map(|l| {
                    let side = match l.as_bytes().first()? {
                        b'+' => Side::Right,
                        b'-' => Side::Left,
                        _ => return None,
                    };
                    Some((side, l[1..].split('|').next()?.parse().ok()?))
                })
                .collect();
            for _ in 0..changed.len().div_ceil(40) {
                let (side, line) = changed[rng.random_range(0..changed.len())];
                let severity = [
                    Severity::Nit,
                    Severity::Minor,
                    Severity::Major,
                    Severity::Critical,
                ][rng.random_range(0..4)];
                let off = if rng.random_bool(0.1) { 30 } else { 0 };
                let finding = Finding {
                    path: section.path.clone(),
                    side,
                    start_line: line + off,
                    end_line: line + off + rng.random_range(0..3),
                    severity,
                    confidence: rng.random_range(0.3..1.0),
                    title: format!(
                        "The {} may be used before it is checked",
                        WORDS[line as usize % 16]
                    ),
                    body: "Explanation of the problem and of the fix.".into(),
                    suggestion: rng
                        .random_bool(0.3)
                        .then(|| "    let checked = value.check()?;".into()),
                };
                if rng.random_bool(0.1) {
                    let mut again = finding.clone();
                    again.title = format!("{} (line {line})", finding.title);
                    findings.push(again);
                }
                findings.push(finding);
            }
        }
    }
    findings
}

#[derive(Default, Clone, Copy)]
struct Phases {
    parse: Duration,
    plan: Duration,
    prompts: Duration,
    map: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.parse + self.plan + self.prompts + self.map
    }
}

struct Run {
    phases: Phases,
    plan: ReviewPlan,
    tokens: u64,
    comments: usize,
}

fn system() -> String {
    format!("{INSTRUCTIONS}\n\n{LINE_FORMAT}")
}

fn orion(s: &Synthetic, options: &ChunkOptions, findings: &[Finding]) -> Run {
    let mut phases = Phases::default();
    let t = Instant::now();
    let diff = Diff::parse(&s.diff).expect("the synthetic diff parses");
    phases.parse = t.elapsed();

    let t = Instant::now();
    let plan = plan(&diff, &SkipRules::default(), options, &s.head);
    phases.plan = t.elapsed();

    let t = Instant::now();
    let system = system();
    let requests: Vec<ChatRequest> = plan
        .chunks
        .iter()
        .map(|c| ChatRequest::new(system.clone(), vec![Message::user(c.text())]))
        .collect();
    let tokens = requests.iter().map(|r| r.estimated_input_tokens()).sum();
    phases.prompts = t.elapsed();

    let t = Instant::now();
    let merged = merge(
        findings.iter().cloned(),
        &diff,
        &NoiseControl::default(),
        &HashSet::new(),
    );
    let comments = merged
        .kept
        .iter()
        .filter_map(|k| k.finding.comment(&k.finding.place(&diff), &k.fingerprint))
        .count();
    phases.map = t.elapsed();
    std::hint::black_box(&requests);
    Run {
        phases,
        plan,
        tokens,
        comments,
    }
}

struct Naive {
    time: Duration,
    /// Tokens sent: the prompt cut at the context window.
    tokens: u64,
    /// Tokens the whole diff would take in one prompt, had it fit.
    uncut_tokens: u64,
    covered: u64,
}

/// The whole diff in one prompt, cut at the context window. Its instructions are Orion's
/// without the line-format legend (a raw diff needs none).
fn naive(s: &Synthetic, context_tokens: u64) -> Naive {
    let t = Instant::now();
    let system = INSTRUCTIONS.to_string();
    let uncut_tokens = (system.len() + 8 + s.diff.len()).div_ceil(3) as u64;
    let room = (context_tokens * 3).saturating_sub(system.len() as u64 + 8) as usize;
    let cut = if s.diff.len() <= room {
        s.diff.len()
    } else {
        s.diff[..room].rfind('\n').map_or(0, |n| n + 1)
    };
    let request = ChatRequest::new(system, vec![Message::user(&s.diff[..cut])]);
    let tokens = request.estimated_input_tokens();
    let time = t.elapsed();
    let covered = s.changed_at.partition_point(|&at| at < cut) as u64;
    Naive {
        time,
        tokens,
        uncut_tokens,
        covered,
    }
}

/// Tokens of the raw diff text of the files a plan did not skip: what the same lines cost
/// without Orion's formatting.
fn raw_tokens_of_reviewed(diff: &str, plan: &ReviewPlan) -> u64 {
    let skipped: HashSet<&str> = plan.skipped.iter().map(|s| s.path.as_str()).collect();
    let mut chars = 0;
    for block in diff.split("diff --git ").filter(|b| !b.is_empty()) {
        let header = block.lines().next().unwrap_or_default();
        let path = header.rsplit_once(" b/").map_or(header, |(_, p)| p);
        if !skipped.contains(path) {
            chars += block.len() + "diff --git ".len();
        }
    }
    (chars as u64).div_ceil(3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}%", part as f64 / whole as f64 * 100.0)
}

fn main() {
    let context_tokens = env_u64("BENCH_CONTEXT_TOKENS", 128_000);
    let defaults = ChunkOptions::default();
    let options = ChunkOptions {
        max_tokens: env_u64("BENCH_CHUNK_TOKENS", defaults.max_tokens),
        context_lines: env_u64("BENCH_CONTEXT_LINES", defaults.context_lines.into()) as u32,
    };
    let runs = env_u64("BENCH_RUNS", 5).max(1) as usize;
    println!(
        "review requests: Orion (chunks of <= {} tokens, {} lines of context) against the whole \
         diff in one prompt cut at {} tokens; median of {runs} runs, model time excluded",
        options.max_tokens, options.context_lines, context_tokens
    );
    println!(
        "{:>5} {:>8} {:>6} | {:>8} {:>8} {:>8} {:>8} {:>9} | {:>9} {:>8} {:>8} | {:>9} {:>8} {:>8} | {:>6}",
        "files",
        "changed",
        "chunks",
        "parse ms",
        "plan ms",
        "prompt",
        "map ms",
        "total ms",
        "tokens",
        "tok/line",
        "coverage",
        "naive tok",
        "tok/line",
        "coverage",
        "ratio"
    );
    for (files, seed) in [(1, 1), (100, 100), (1_000, 1_000)] {
        let s = synthesise(files, seed);
        let total_changed = s.changed_at.len() as u64;
        // The findings are the models' answers: made once, outside the timing.
        let first = orion(&s, &options, &[]);
        let findings = findings_for(&first.plan, &mut StdRng::seed_from_u64(seed));
        let mut timed: Vec<Run> = (0..runs).map(|_| orion(&s, &options, &findings)).collect();
        let phase =
            |f: fn(&Phases) -> Duration| median(timed.iter().map(|r| f(&r.phases)).collect());
        let phases = Phases {
            parse: phase(|p| p.parse),
            plan: phase(|p| p.plan),
            prompts: phase(|p| p.prompts),
            map: phase(|p| p.map),
        };
        let total = phase(|p| p.total());
        let run = timed.pop().expect("at least one run");
        let naive_runs: Vec<Naive> = (0..runs).map(|_| naive(&s, context_tokens)).collect();
        let naive_time = median(naive_runs.iter().map(|n| n.time).collect());
        let n = &naive_runs[0];
        let c = run.plan.coverage;
        assert_eq!(
            c.lines_total, total_changed,
            "the parser counts what was written"
        );
        let orion_per_line = run.tokens as f64 / c.lines_reviewed.max(1) as f64;
        let naive_per_line = n.tokens as f64 / n.covered.max(1) as f64;
        println!(
            "{:>5} {:>8} {:>6} | {:>8} {:>8} {:>8} {:>8} {:>9} | {:>9} {:>8.2} {:>8} | {:>9} {:>8.2} {:>8} | {:>6.2}",
            files,
            total_changed,
            run.plan.chunks.len(),
            ms(phases.parse),
            ms(phases.plan),
            ms(phases.prompts),
            ms(phases.map),
            ms(total),
            run.tokens,
            orion_per_line,
            pct(c.lines_reviewed, c.lines_total),
            n.tokens,
            naive_per_line,
            pct(n.covered, total_changed),
            orion_per_line / naive_per_line,
        );
        let uncut_per_line = n.uncut_tokens as f64 / total_changed.max(1) as f64;
        println!(
            "      whole diff uncut: {} tokens, {:.2} per changed line; Orion {:.2} per changed \
             line of the whole diff (ratio {:.2}); naive prompt built in {} ms; {} findings \
             mapped to {} comments",
            n.uncut_tokens,
            uncut_per_line,
            run.tokens as f64 / total_changed.max(1) as f64,
            run.tokens as f64 / n.uncut_tokens as f64,
            ms(naive_time),
            findings.len(),
            run.comments,
        );
        let mut skipped: Vec<String> = Vec::new();
        for reason in ["lock file", "deleted", "binary"] {
            let of_reason = || {
                run.plan
                    .skipped
                    .iter()
                    .filter(move |s| s.reason.to_string() == reason)
            };
            let lines: u64 = of_reason().map(|s| s.changed_lines as u64).sum();
            let files = of_reason().count();
            if files > 0 {
                skipped.push(format!("{files} {reason} ({lines} changed lines)"));
            }
        }
        if skipped.is_empty() {
            skipped.push("nothing".into());
        }
        println!("      skipped: {}", skipped.join(", "));
        let raw = raw_tokens_of_reviewed(&s.diff, &run.plan);
        println!(
            "      the raw diff of the files Orion reviewed: {raw} tokens, {:.2} per line; \
             Orion's numbering, context and per-chunk instructions add {:.0}%",
            raw as f64 / c.lines_reviewed.max(1) as f64,
            (run.tokens as f64 / raw as f64 - 1.0) * 100.0
        );
    }
    println!(
        "tok/line: model tokens sent per changed line reviewed (Orion: the files not skipped; naive: \
         the lines before the cut, skippable files included). ratio: Orion's tok/line over the naive one's."
    );
}
