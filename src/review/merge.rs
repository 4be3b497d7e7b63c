//! Findings from all of a review's chunks made into the few worth posting.
//!
//! Chunks overlap in what they see (a file split by hunk, context shared between hunks, the same
//! pattern in two files reviewed in parallel), so the same problem comes back more than once, and
//! reviewers produce more remarks than anyone reads. [`merge`] keeps one finding per problem, drops
//! the ones already raised on the pull request, then applies [`NoiseControl`]: a minimum severity,
//! a confidence threshold and a cap, keeping the most severe (then most confident). Every dropped
//! finding is returned with its reason, so the summary can say "and 12 below the threshold".

use std::collections::{HashMap, HashSet};

use crate::review::diff::Diff;
use crate::review::finding::{Finding, Severity};
use crate::review::fingerprint::{Fingerprint, normalise_title};

/// How much of what reviewers find is posted. The defaults favour a short review people read:
/// nits stay out, guesses stay out, and a big pull request still gets at most a screenful.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseControl {
    /// Findings below this are dropped.
    pub min_severity: Severity,
    /// Findings the reviewer is less sure of than this (0 to 1) are dropped.
    pub min_confidence: f32,
    /// At most this many findings are kept, most severe first.
    pub max_findings: usize,
}

impl Default for NoiseControl {
    fn default() -> Self {
        NoiseControl {
            min_severity: Severity::Minor,
            min_confidence: 0.6,
            max_findings: 20,
        }
    }
}

/// Why a finding was not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Another finding says the same (same fingerprint, or same lines and a similar title); the
    /// one kept is the more severe, then the more confident.
    Duplicate {
        of: Fingerprint,
    },
    /// Already on the pull request (posted before, or resolved, dismissed or disputed by a human:
    /// the caller decides which fingerprints those are).
    AlreadyRaised,
    BelowSeverity,
    BelowConfidence,
    /// Over [`NoiseControl::max_findings`].
    OverCap,
}

/// A finding kept, with the fingerprint it will be posted (and recognised) under.
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    pub finding: Finding,
    pub fingerprint: Fingerprint,
}

/// The outcome of [`merge`]: what to post, most important first, and what was not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub kept: Vec<Kept>,
    pub dropped: Vec<(Finding, Dropped)>,
}

impl Merged {
    /// How many were dropped for reasons matching `reason` (e.g. `|d| d == &Dropped::OverCap`).
    pub fn dropped_count(&self, reason: impl Fn(&Dropped) -> bool) -> usize {
        self.dropped.iter().filter(|(_, d)| reason(d)).count()
    }
}

/// Merges findings from every chunk of a review of `diff` (see the module documentation).
/// `known` holds the fingerprints already raised on the pull request. A finding citing a renamed
/// file by its old name comes out under the new one.
pub fn merge(
    findings: impl IntoIterator<Item = Finding>,
    diff: &Diff,
    noise: &NoiseControl,
    known: &HashSet<Fingerprint>,
) -> Merged {
    let mut all: Vec<Kept> = findings
        .into_iter()
        .map(|mut finding| {
            // A renamed file's old name is the same file: use the name comments are posted under.
            if let Some(file) = diff.file(&finding.path) {
                finding.path = file.path().to_string();
            }
            Kept {
                fingerprint: finding.fingerprint(diff),
                finding,
            }
        })
        .collect();
    // Most important first, so the first of a group of duplicates is the one to keep.
    all.sort_by(|a, b| importance(&a.finding, &b.finding));

    let mut merged = Merged::default();
    let mut unique: Vec<(Kept, HashSet<String>)> = Vec::new();
    let mut by_path: HashMap<String, Vec<usize>> = HashMap::new();
    let mut seen: HashMap<Fingerprint, usize> = HashMap::new();
    for candidate in all {
        let words = title_words(&candidate.finding.title);
        let same = seen.get(&candidate.fingerprint).copied().or_else(|| {
            by_path
                .get(&candidate.finding.path)?
                .iter()
                .copied()
                .find(|&i| same_problem(&unique[i], &candidate.finding, &words))
        });
        if let Some(i) = same {
            let of = unique[i].0.fingerprint.clone();
            merged
                .dropped
                .push((candidate.finding, Dropped::Duplicate { of }));
            continue;
        }
        let index = unique.len();
        seen.insert(candidate.fingerprint.clone(), index);
        by_path
            .entry(candidate.finding.path.clone())
            .or_default()
            .push(index);
        unique.push((candidate, words));
    }

    for (kept, _) in unique {
        let f = &kept.finding;
        let reason = if known.contains(&kept.fingerprint) {
            Some(Dropped::AlreadyRaised)
        } else if f.severity < noise.min_severity {
            Some(Dropped::BelowSeverity)
        } else if f.confidence < noise.min_confidence {
            Some(Dropped::BelowConfidence)
        } else if merged.kept.len() >= noise.max_findings {
            Some(Dropped::OverCap)
        } else {
            None
        };
        match reason {
            Some(reason) => merged.dropped.push((kept.finding, reason)),
            None => merged.kept.push(kept),
        }
    }
    merged
}

/// More severe first, then more confident, then by place (so equal findings keep a stable order).
fn importance(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then(b.confidence.total_cmp(&a.confidence))
        .then_with(|| a.path.cmp(&b.path))
        .then(a.start_line.cmp(&b.start_line))
        .then_with(|| a.title.cmp(&b.title))
}

/// Same file, same side, overlapping lines and a similar title.
fn same_problem(earlier: &(Kept, HashSet<String>), f: &Finding, words: &HashSet<String>) -> bool {
    let (kept, kept_words) = earlier;
    let e = &kept.finding;
    e.path == f.path
        && e.side == f.side
        && e.range().overlaps(f.range())
        && similar(kept_words, words)
}

const STOP_WORDS: [&str; 12] = [
    "a", "an", "the", "of", "in", "on", "to", "is", "for", "and", "may", "be",
];

fn title_words(title: &str) -> HashSet<String> {
    normalise_title(title)
        .split(' ')
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(str::to_string)
        .collect()
}

/// At least half the words in common (Jaccard), or one title's words all in the other's.
fn similar(a: &HashSet<String>, b: &HashSet<String>) -> bool {
    if a.is_empty() || b.is_empty() {
        return a.is_empty() && b.is_empty();
    }
    let common = a.intersection(b).count();
    let union = a.len() + b.len() - common;
    common * 2 >= union || common == a.len().min(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::github::Side;
    use crate::review::testing::{GitRepo, numbered};

    fn diff() -> Diff {
        let repo = GitRepo::new();
        repo.write("a.rs", numbered(200));
        repo.write("b.rs", numbered(200));
        let base = repo.commit("base");
        let changed: String = (1..=200).map(|i| format!("changed {i}\n")).collect();
        repo.write("a.rs", &changed);
        repo.write("b.rs", &changed);
        let head = repo.commit("head");
        Diff::parse(&repo.diff(&base, &head)).unwrap()
    }

    fn f(
        path: &str,
        lines: (u32, u32),
        severity: Severity,
        confidence: f32,
        title: &str,
    ) -> Finding {
        Finding {
            path: path.into(),
            side: Side::Right,
            start_line: lines.0,
            end_line: lines.1,
            severity,
            confidence,
            title: title.into(),
            body: String::new(),
            suggestion: None,
        }
    }

    fn titles(m: &Merged) -> Vec<&str> {
        m.kept.iter().map(|k| k.finding.title.as_str()).collect()
    }

    fn everything() -> NoiseControl {
        NoiseControl {
            min_severity: Severity::Nit,
            min_confidence: 0.0,
            max_findings: usize::MAX,
        }
    }

    #[test]
    fn the_same_problem_from_two_chunks_is_kept_once_the_stronger_copy() {
        let diff = diff();
        let weak = f(
            "a.rs",
            (10, 12),
            Severity::Minor,
            0.7,
            "Unchecked unwrap on user input",
        );
        let strong = f(
            "a.rs",
            (11, 11),
            Severity::Major,
            0.9,
            "unchecked unwrap of the user input",
        );
        let same_fp = f(
            "a.rs",
            (10, 12),
            Severity::Minor,
            0.6,
            "Unchecked unwrap on user input (line 11)",
        );
        let other_file = f(
            "b.rs",
            (10, 12),
            Severity::Minor,
            0.7,
            "Unchecked unwrap on user input",
        );
        let other_lines = f(
            "a.rs",
            (100, 100),
            Severity::Minor,
            0.7,
            "Unchecked unwrap on user input",
        );
        let other_problem = f(
            "a.rs",
            (10, 12),
            Severity::Minor,
            0.7,
            "SQL built by string formatting",
        );
        let m = merge(
            [
                weak,
                strong.clone(),
                same_fp,
                other_file,
                other_lines,
                other_problem,
            ],
            &diff,
            &everything(),
            &HashSet::new(),
        );
        assert_eq!(m.kept.len(), 4, "{:#?}", m.kept);
        assert_eq!(m.kept[0].finding, strong);
        assert_eq!(
            m.dropped_count(|d| matches!(d, Dropped::Duplicate { .. })),
            2
        );
        let strong_fp = m.kept[0].fingerprint.clone();
        assert!(m.dropped.iter().all(|(_, d)| d
            == &Dropped::Duplicate {
                of: strong_fp.clone()
            }));
    }

    #[test]
    fn severity_and_confidence_thresholds_then_the_cap_keeps_the_most_severe() {
        let diff = diff();
        let findings = vec![
            f("a.rs", (1, 1), Severity::Nit, 0.99, "nit"),
            f("a.rs", (20, 20), Severity::Critical, 0.5, "unsure critical"),
            f("a.rs", (30, 30), Severity::Minor, 0.9, "minor"),
            f("a.rs", (40, 40), Severity::Major, 0.7, "major, less sure"),
            f("b.rs", (50, 50), Severity::Major, 0.95, "major, sure"),
            f("b.rs", (60, 60), Severity::Critical, 0.8, "critical"),
        ];
        let noise = NoiseControl {
            min_severity: Severity::Minor,
            min_confidence: 0.6,
            max_findings: 3,
        };
        let m = merge(findings, &diff, &noise, &HashSet::new());
        assert_eq!(titles(&m), ["critical", "major, sure", "major, less sure"]);
        let reasons: Vec<(&str, &Dropped)> = m
            .dropped
            .iter()
            .map(|(f, d)| (f.title.as_str(), d))
            .collect();
        assert_eq!(
            reasons,
            [
                ("unsure critical", &Dropped::BelowConfidence),
                ("minor", &Dropped::OverCap),
                ("nit", &Dropped::BelowSeverity),
            ]
        );
    }

    #[test]
    fn findings_already_raised_are_not_raised_again() {
        let diff = diff();
        let old = f(
            "a.rs",
            (5, 6),
            Severity::Major,
            0.9,
            "Leaks the file handle",
        );
        let known = HashSet::from([old.fingerprint(&diff)]);
        let new = f(
            "a.rs",
            (80, 80),
            Severity::Major,
            0.9,
            "Blocking call in async fn",
        );
        let m = merge([old.clone(), new], &diff, &NoiseControl::default(), &known);
        assert_eq!(titles(&m), ["Blocking call in async fn"]);
        assert_eq!(m.dropped, [(old, Dropped::AlreadyRaised)]);
    }

    #[test]
    fn a_cap_of_zero_posts_nothing_and_the_defaults_drop_nits() {
        let diff = diff();
        let none = NoiseControl {
            max_findings: 0,
            ..everything()
        };
        let m = merge(
            [f("a.rs", (1, 1), Severity::Critical, 1.0, "x")],
            &diff,
            &none,
            &HashSet::new(),
        );
        assert!(m.kept.is_empty());
        let m = merge(
            [f("a.rs", (1, 1), Severity::Nit, 1.0, "x")],
            &diff,
            &NoiseControl::default(),
            &HashSet::new(),
        );
        assert_eq!(m.dropped_count(|d| d == &Dropped::BelowSeverity), 1);
    }

    #[test]
    fn a_renamed_file_cited_by_both_names_is_one_file() {
        let repo = GitRepo::new();
        repo.write("old.rs", numbered(20));
        let base = repo.commit("base");
        repo.mv("old.rs", "new.rs");
        repo.write("new.rs", numbered(20).replace("line 5\n", "five\n"));
        let head = repo.commit("head");
        let diff = Diff::parse(&repo.diff(&base, &head)).unwrap();
        let m = merge(
            [
                f("old.rs", (5, 5), Severity::Major, 0.9, "Wrong constant"),
                f("new.rs", (5, 5), Severity::Major, 0.8, "wrong constant"),
            ],
            &diff,
            &everything(),
            &HashSet::new(),
        );
        assert_eq!(m.kept.len(), 1);
        assert_eq!(m.kept[0].finding.path, "new.rs");
        assert_eq!(
            m.dropped_count(|d| matches!(d, Dropped::Duplicate { .. })),
            1
        );
    }

    #[test]
    fn title_similarity() {
        let w = title_words;
        assert!(similar(
            &w("Missing bounds check"),
            &w("bounds check missing on index")
        ));
        assert!(similar(&w("Race on the counter"), &w("race on counter")));
        assert!(!similar(&w("Missing bounds check"), &w("SQL injection")));
        assert!(!similar(&w("Off by one"), &w("")));
    }
}
