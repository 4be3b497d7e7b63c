//! A reviewer's finding as the model returns it (JSON), and the comment posted for it.
//!
//! Deserialising is forgiving where a model's slip is harmless (a reversed range, a missing end
//! line, a confidence of 1.3, a title in capitals) and strict where guessing would put a comment
//! on the wrong code. A suggestion is rendered only where GitHub would apply it to exactly the
//! lines it was written for: a ```` ```suggestion ```` block replaces the commented lines, so
//! one under a moved or narrowed anchor would overwrite the wrong code.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::forge::github::{InlineComment, Side};
use crate::review::anchor::Placement;
use crate::review::diff::{Diff, LineRange};
use crate::review::fingerprint::{AnchoredCode, Fingerprint};

/// How much a finding matters, least first, so `>=` reads as "at least as severe".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Style and taste; never blocks.
    Nit,
    /// Worth fixing, not urgent.
    Minor,
    /// A real bug or risk in a plausible case.
    Major,
    /// Breaks correctness, security or data in the common case; blocks the merge.
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Nit => "nit",
            Severity::Minor => "minor",
            Severity::Major => "major",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A suggestion longer than this is left out of the comment: a long replacement is a rewrite to
/// discuss, not a fix to click.
pub const MAX_SUGGESTION_LINES: usize = 12;

/// Serde for the forge's [`Side`], which only serialises (GitHub never sends it to us, the model
/// does).
#[derive(Serialize, Deserialize)]
#[serde(remote = "Side", rename_all = "UPPERCASE")]
enum SideDef {
    Right,
    Left,
}

fn right() -> Side {
    Side::Right
}

/// One problem a reviewer found, on lines of one side of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireFinding")]
pub struct Finding {
    pub path: String,
    /// RIGHT for added and context lines (new numbering), LEFT for removed lines.
    #[serde(with = "SideDef")]
    pub side: Side,
    pub start_line: u32,
    /// Never below `start_line`.
    pub end_line: u32,
    pub severity: Severity,
    /// The reviewer's confidence that this is a real problem, 0 to 1.
    pub confidence: f32,
    /// One line, no line numbers: it is part of the finding's identity across pushes.
    pub title: String,
    pub body: String,
    /// Replacement for lines `start_line..=end_line` of the RIGHT side, when the fix is
    /// short. An empty replacement is read as no suggestion (a model's "nothing" should never
    /// delete code with one click).
    pub suggestion: Option<String>,
}

/// What a model may send: the same fields, more of them optional.
#[derive(Deserialize)]
struct WireFinding {
    path: String,
    #[serde(with = "SideDef", default = "right")]
    side: Side,
    start_line: u32,
    #[serde(default)]
    end_line: Option<u32>,
    severity: Severity,
    confidence: f32,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    suggestion: Option<String>,
}

impl From<WireFinding> for Finding {
    fn from(w: WireFinding) -> Self {
        let range = LineRange::new(w.start_line, w.end_line.unwrap_or(w.start_line));
        let confidence = if w.confidence.is_nan() {
            0.0
        } else {
            w.confidence.clamp(0.0, 1.0)
        };
        Finding {
            path: w.path.trim().trim_start_matches("./").to_string(),
            side: w.side,
            start_line: range.start,
            end_line: range.end,
            severity: w.severity,
            confidence,
            title: w.title.trim().to_string(),
            body: w.body.trim().to_string(),
            suggestion: w.suggestion.filter(|s| !s.trim().is_empty()),
        }
    }
}

impl Finding {
    pub fn range(&self) -> LineRange {
        LineRange::new(self.start_line, self.end_line)
    }

    /// The code this finding is anchored on, as the diff shows it.
    pub fn code(&self, diff: &Diff) -> AnchoredCode {
        diff.file(&self.path)
            .map(|f| f.code_at(self.side, self.range()))
            .unwrap_or_default()
    }

    /// Its identity across pushes (see [`Fingerprint`]), keyed by the path the diff uses now.
    pub fn fingerprint(&self, diff: &Diff) -> Fingerprint {
        let path = diff
            .file(&self.path)
            .map_or(self.path.as_str(), |f| f.path());
        Fingerprint::new(path, &self.code(diff), &self.title)
    }

    /// Where it can be posted in `diff`.
    pub fn place(&self, diff: &Diff) -> Placement {
        diff.place(&self.path, self.side, self.range())
    }

    /// The inline comment for this finding at `placement`, `None` when it has no inline place
    /// (then it belongs in the summary). The body ends with the fingerprint's marker.
    pub fn comment(
        &self,
        placement: &Placement,
        fingerprint: &Fingerprint,
    ) -> Option<InlineComment> {
        let anchor = placement.anchor()?;
        Some(anchor.comment(self.body(placement, fingerprint)))
    }

    /// The comment text: severity and title, the explanation, a note when the comment sits
    /// elsewhere than the finding's lines, a suggestion where it applies, and the marker.
    pub fn body(&self, placement: &Placement, fingerprint: &Fingerprint) -> String {
        let mut out = format!("**{}** · {}\n", self.severity, self.title);
        if !self.body.is_empty() {
            out.push('\n');
            out.push_str(&self.body);
            out.push('\n');
        }
        let lines = match self.range() {
            r if r.start == r.end => format!("line {}", r.start),
            r => format!("lines {}–{}", r.start, r.end),
        };
        let side = match self.side {
            Side::Right => "new",
            Side::Left => "old",
        };
        match placement {
            Placement::Clipped(_) | Placement::Nearest { .. } => {
                out.push_str(&format!(
                    "\n_About {lines} of the {side} file, not all shown in the diff._\n"
                ));
            }
            Placement::FileLevel { .. } | Placement::NotInDiff => {
                out.push_str(&format!("\n_About {lines} of the {side} file._\n"));
            }
            Placement::Exact(_) => {}
        }
        if let Some(block) = self.suggestion_block(placement) {
            out.push('\n');
            out.push_str(&block);
        }
        out.push('\n');
        out.push_str(&fingerprint.marker());
        out
    }

    /// A ```` ```suggestion ```` block, only when the placement is exactly the finding's lines on
    /// the RIGHT side and the replacement is at most [`MAX_SUGGESTION_LINES`] lines. The fence is
    /// longer than any run of backticks inside, so code with fences cannot end it early.
    pub fn suggestion_block(&self, placement: &Placement) -> Option<String> {
        let suggestion = self.suggestion.as_deref()?;
        let Placement::Exact(anchor) = placement else {
            return None;
        };
        if anchor.side != Side::Right || anchor.range() != self.range() {
            return None;
        }
        let suggestion = suggestion.strip_suffix('\n').unwrap_or(suggestion);
        if suggestion.lines().count() > MAX_SUGGESTION_LINES {
            return None;
        }
        let fence = crate::text::fence_for(suggestion);
        Some(format!("{fence}suggestion\n{suggestion}\n{fence}\n"))
    }
}

/// A reviewer's whole answer for one chunk: an object, because structured-output APIs want one
/// at the top.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkFindings {
    pub findings: Vec<Finding>,
}

impl ChunkFindings {
    /// The JSON schema of the answer (strict-mode compatible: every field required, optional
    /// ones nullable).
    pub fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["findings"],
            "properties": {
                "findings": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["path", "side", "start_line", "end_line", "severity",
                                     "confidence", "title", "body", "suggestion"],
                        "properties": {
                            "path": {"type": "string"},
                            "side": {"type": "string", "enum": ["RIGHT", "LEFT"]},
                            "start_line": {"type": "integer", "minimum": 1},
                            "end_line": {"type": "integer", "minimum": 1},
                            "severity": {"type": "string", "enum": ["critical", "major", "minor", "nit"]},
                            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                            "title": {"type": "string"},
                            "body": {"type": "string"},
                            "suggestion": {"type": ["string", "null"]}
                        }
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::review::testing::{GitRepo, numbered};

    fn finding(json: Value) -> Finding {
        serde_json::from_value(json).unwrap()
    }

    fn sample() -> Finding {
        finding(json!({
            "path": "src/app.rs", "side": "RIGHT", "start_line": 10, "end_line": 11,
            "severity": "major", "confidence": 0.8, "title": "Off by one",
            "body": "The loop skips the last item.", "suggestion": "for i in 0..=n {\n    go(i);"
        }))
    }

    #[test]
    fn a_model_answer_deserialises_forgivingly() {
        let f = finding(json!({
            "path": "./src/a.rs", "start_line": 9, "end_line": 4, "severity": "nit",
            "confidence": 1.7, "title": "  Name  ", "suggestion": "  "
        }));
        assert_eq!(f.path, "src/a.rs");
        assert_eq!(f.side, Side::Right, "RIGHT unless said");
        assert_eq!((f.start_line, f.end_line), (4, 9));
        assert_eq!(f.confidence, 1.0);
        assert_eq!(f.title, "Name");
        assert_eq!(f.suggestion, None);
        let one = finding(json!({
            "path": "a", "side": "LEFT", "start_line": 3, "severity": "critical",
            "confidence": -2, "title": "t", "body": "b", "suggestion": null
        }));
        assert_eq!((one.start_line, one.end_line, one.side), (3, 3, Side::Left));
        assert_eq!(one.confidence, 0.0);
        assert!(
            serde_json::from_value::<Finding>(json!({
                "path": "a", "start_line": 1, "severity": "blocker", "confidence": 1, "title": "t"
            }))
            .is_err(),
            "an unknown severity is refused"
        );
    }

    #[test]
    fn findings_round_trip_and_match_the_schema() {
        let answer = ChunkFindings {
            findings: vec![sample()],
        };
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["findings"][0]["side"], "RIGHT");
        let back: ChunkFindings = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, answer);
        let schema = ChunkFindings::schema();
        let item = &schema["properties"]["findings"]["items"];
        let mut required: Vec<&str> = item["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut fields: Vec<&str> = json["findings"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        required.sort();
        fields.sort();
        assert_eq!(required, fields, "the schema names exactly the fields");
        assert!(Severity::Critical > Severity::Major && Severity::Minor > Severity::Nit);
    }

    /// `src/app.rs` with lines 10 and 11 changed: one hunk, RIGHT lines 7..=14.
    fn diff() -> Diff {
        let repo = GitRepo::new();
        repo.write("src/app.rs", numbered(30));
        let base = repo.commit("base");
        repo.write(
            "src/app.rs",
            numbered(30).replace("line 10\nline 11\n", "for i in 0..n {\n    go(i);\n"),
        );
        let head = repo.commit("head");
        Diff::parse(&repo.diff(&base, &head)).unwrap()
    }

    #[test]
    fn an_exact_finding_gets_its_suggestion() {
        let diff = diff();
        let f = sample();
        let placement = f.place(&diff);
        let fp = f.fingerprint(&diff);
        let comment = f.comment(&placement, &fp).unwrap();
        assert_eq!((comment.start_line, comment.line), (Some(10), 11));
        assert_eq!(
            comment.body,
            format!(
                "**major** · Off by one\n\nThe loop skips the last item.\n\n\
                 ```suggestion\nfor i in 0..=n {{\n    go(i);\n```\n\n{}",
                fp.marker()
            )
        );
        assert_eq!(Fingerprint::find_in(&comment.body), Some(fp));
    }

    #[test]
    fn no_suggestion_where_it_would_replace_other_lines() {
        let diff = diff();
        let mut outside = sample();
        (outside.start_line, outside.end_line) = (20, 21);
        let placement = outside.place(&diff);
        assert!(matches!(placement, Placement::Nearest { .. }));
        let body = outside.body(&placement, &outside.fingerprint(&diff));
        assert!(!body.contains("suggestion"), "{body}");
        assert!(body.contains("_About lines 20–21 of the new file, not all shown in the diff._"));

        let mut left = sample();
        left.side = Side::Left;
        assert_eq!(left.suggestion_block(&left.place(&diff)), None);

        let mut long = sample();
        long.suggestion = Some("x\n".repeat(MAX_SUGGESTION_LINES + 1));
        assert_eq!(long.suggestion_block(&long.place(&diff)), None);

        let mut elsewhere = sample();
        elsewhere.path = "other.rs".into();
        assert_eq!(
            elsewhere.comment(&Placement::NotInDiff, &elsewhere.fingerprint(&diff)),
            None
        );
    }

    #[test]
    fn a_suggestion_holding_fences_gets_a_longer_fence() {
        let diff = diff();
        let mut f = sample();
        f.suggestion = Some("/// ```\n/// x\n".into());
        let block = f.suggestion_block(&f.place(&diff)).unwrap();
        assert_eq!(block, "````suggestion\n/// ```\n/// x\n````\n");
    }
}
