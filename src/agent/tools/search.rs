//! `search`: find where something is, as `path:line: text` lines the model can act on directly.
//! Plain text by default, because models write regex metacharacters (`(`, `.`, `?`) in code
//! they mean literally.

use std::path::Path;

use globset::{Glob, GlobMatcher};
use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

use super::list::or_root;
use super::read::looks_binary;
use super::specs::parse_args;
use super::walk::{Kind, relative, walk};
use super::{Limits, resolve};
use crate::text::floor_char_boundary;

/// A matching line longer than this is cut: a minified file would otherwise flood the answer.
const MAX_LINE_BYTES: usize = 300;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    pattern: String,
    path: Option<String>,
    #[serde(default)]
    regex: bool,
    glob: Option<String>,
}

pub(super) fn search(root: &Path, limits: &Limits, args: &Value) -> Result<String, String> {
    let args: Args = parse_args("search", args)?;
    if args.pattern.is_empty() {
        return Err("`pattern` is empty; give the text to search for".into());
    }
    let matcher = if args.regex {
        Regex::new(&args.pattern).map_err(|err| {
            format!(
                "`pattern` is not a valid regular expression: {err}\n\
                 To search for the text as written, set `regex` to false."
            )
        })?
    } else {
        Regex::new(&regex::escape(&args.pattern))
            .map_err(|err| format!("`pattern` cannot be searched for: {err}"))?
    };
    let glob: Option<GlobMatcher> = match &args.glob {
        Some(glob) => Some(
            Glob::new(glob)
                .map_err(|err| format!("`glob` is not a valid glob: {err}"))?
                .compile_matcher(),
        ),
        None => None,
    };
    let requested = or_root(args.path);
    let start = resolve(root, &requested).map_err(|err| err.to_string())?;
    if !start.exists() {
        return Err(format!(
            "`{requested}` does not exist; search a directory that does, or the whole repository"
        ));
    }

    let mut found = Matches::new(limits.max_search_matches);
    if start.is_file() {
        // A file named outright is searched whatever the glob says.
        found.scan(&start, &relative(root, &start), &matcher);
    } else {
        walk(root, &start, usize::MAX, &mut |entry| {
            let wanted = entry.kind == Kind::File
                && glob.as_ref().is_none_or(|glob| glob.is_match(&entry.rel));
            if wanted {
                found.scan(&entry.path, &entry.rel, &matcher);
            }
        });
    }

    if found.lines.is_empty() {
        let within = match &args.glob {
            Some(glob) => format!(" in files matching `{glob}`"),
            None => String::new(),
        };
        return Ok(format!(
            "no matches for `{}` under `{}`{within}",
            args.pattern,
            relative(root, &start)
        ));
    }
    let mut out = found.lines.join("\n");
    if found.more > 0 {
        out.push_str(&format!(
            "\n… {} more matches not shown; narrow the pattern, the path or the glob",
            found.more
        ));
    }
    Ok(out)
}

struct Matches {
    cap: usize,
    lines: Vec<String>,
    more: usize,
}

impl Matches {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            lines: Vec::new(),
            more: 0,
        }
    }

    /// Adds `path`'s matching lines. Binary and unreadable files are passed over silently: they
    /// are not where the model can make a text edit.
    fn scan(&mut self, path: &Path, rel: &str, matcher: &Regex) {
        let Ok(bytes) = std::fs::read(path) else {
            return;
        };
        if looks_binary(&bytes) {
            return;
        }
        let text = String::from_utf8_lossy(&bytes);
        for (index, line) in text.lines().enumerate() {
            if !matcher.is_match(line) {
                continue;
            }
            if self.lines.len() >= self.cap {
                self.more += 1;
                continue;
            }
            let cut = floor_char_boundary(line, MAX_LINE_BYTES);
            let ellipsis = if cut < line.len() { " …" } else { "" };
            self.lines
                .push(format!("{rel}:{}: {}{ellipsis}", index + 1, &line[..cut]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::super::testkit::{error, ok, toolbox, toolbox_with};
    use serde_json::json;

    fn files() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "src/lib.rs",
                "fn parse(input: &str) {}\nfn render() { parse(\"x\"); }\n",
            ),
            ("src/main.rs", "fn main() { orion::parse(\"y\"); }\n"),
            ("docs/guide.md", "Call parse(...) first.\n"),
            ("target/debug/build.rs", "fn parse() {}\n"),
            ("node_modules/x/index.js", "parse()\n"),
        ]
    }

    #[test]
    fn finds_literal_text_by_default_in_path_order() {
        let (_dir, mut tools) = toolbox(&files());
        assert_eq!(
            ok(tools.call("search", &json!({"pattern": "parse("}))),
            "docs/guide.md:1: Call parse(...) first.\n\
             src/lib.rs:1: fn parse(input: &str) {}\n\
             src/lib.rs:2: fn render() { parse(\"x\"); }\n\
             src/main.rs:1: fn main() { orion::parse(\"y\"); }"
        );
    }

    #[test]
    fn regex_path_and_glob_narrow_the_search() {
        let (_dir, mut tools) = toolbox(&files());
        assert_eq!(
            ok(tools.call(
                "search",
                &json!({"pattern": r"^fn \w+\(", "regex": true, "glob": "*.rs"})
            )),
            "src/lib.rs:1: fn parse(input: &str) {}\n\
             src/lib.rs:2: fn render() { parse(\"x\"); }\n\
             src/main.rs:1: fn main() { orion::parse(\"y\"); }"
        );
        assert_eq!(
            ok(tools.call(
                "search",
                &json!({"pattern": "parse", "path": "src/main.rs", "glob": "*.md"})
            )),
            "src/main.rs:1: fn main() { orion::parse(\"y\"); }"
        );
        assert_eq!(
            ok(tools.call("search", &json!({"pattern": "parse", "path": "target"}))),
            "target/debug/build.rs:1: fn parse() {}"
        );
    }

    #[test]
    fn binary_files_are_skipped_and_long_lines_cut() {
        let long = format!("needle {}\n", "x".repeat(400));
        let (dir, mut tools) = toolbox(&[("long.txt", long.as_str())]);
        std::fs::write(dir.path().join("blob.bin"), b"needle\0\0").unwrap();
        let out = ok(tools.call("search", &json!({"pattern": "needle"})));
        assert_eq!(out, format!("long.txt:1: needle {} …", "x".repeat(293)));
    }

    #[test]
    fn the_cap_summarises_the_rest() {
        let limits = Limits {
            max_search_matches: 2,
            ..Limits::default()
        };
        let (_dir, mut tools) = toolbox_with(&[("a.txt", "hit\nhit\nhit\nhit\n")], limits);
        assert_eq!(
            ok(tools.call("search", &json!({"pattern": "hit"}))),
            "a.txt:1: hit\na.txt:2: hit\n… 2 more matches not shown; narrow the pattern, the path or the glob"
        );
    }

    #[test]
    fn no_match_is_an_answer_not_an_error() {
        let (_dir, mut tools) = toolbox(&files());
        assert_eq!(
            ok(tools.call(
                "search",
                &json!({"pattern": "nowhere", "path": "src", "glob": "*.rs"})
            )),
            "no matches for `nowhere` under `src` in files matching `*.rs`"
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let (_dir, mut tools) = toolbox(&files());
        let err = error(tools.call("search", &json!({"pattern": "parse(", "regex": true})));
        assert!(
            err.starts_with("`pattern` is not a valid regular expression: regex parse error:"),
            "{err}"
        );
        assert!(err.contains("unclosed group"), "{err}");
        assert!(
            err.ends_with("To search for the text as written, set `regex` to false."),
            "{err}"
        );
        let err = error(tools.call("search", &json!({"pattern": "x", "glob": "src/[a"})));
        assert!(err.starts_with("`glob` is not a valid glob: "), "{err}");
        assert_eq!(
            error(tools.call("search", &json!({"pattern": ""}))),
            "`pattern` is empty; give the text to search for"
        );
        assert_eq!(
            error(tools.call("search", &json!({"pattern": "x", "path": "nope"}))),
            "`nope` does not exist; search a directory that does, or the whole repository"
        );
        assert_eq!(
            error(tools.call("search", &json!({"pattern": "x", "path": ".git"}))),
            "`.git` is inside `.git`, which the tools do not touch; Orion manages git state itself (commits, branches, pushes)"
        );
    }
}
