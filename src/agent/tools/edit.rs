//! `edit_file`: exact search and replace. Exact, because a fuzzy edit that lands in the wrong
//! place is worse than a refused one; the refusal instead carries what the model needs to get the
//! text right on the next try (see [`super::closest`]).

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::Limits;
use super::closest::explain_no_match;
use super::read::load;
use super::specs::parse_args;
use super::walk::relative;
use super::write::Done;

/// Line numbers listed at most when `old` matches in several places or many were replaced.
const MAX_LISTED: usize = 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: String,
    old: String,
    new: String,
    #[serde(default)]
    replace_all: bool,
}

pub(super) fn edit_file(root: &Path, limits: &Limits, args: &Value) -> Result<Done, String> {
    let args: Args = parse_args("edit_file", args)?;
    if args.old.is_empty() {
        return Err(concat!(
            "`old` is empty; copy the exact text to replace from the file ",
            "(to create a file or replace all of it, use write_file)"
        )
        .into());
    }
    if args.old == args.new {
        return Err("`old` and `new` are the same, so the edit would change nothing".into());
    }
    let (path, bytes) = load(root, &args.path, "to create it, use write_file")?;
    let rel = relative(root, &path);
    let content = String::from_utf8(bytes)
        .map_err(|_| format!("`{rel}` is not valid UTF-8, so it cannot be edited as text"))?;

    let starts: Vec<usize> = content.match_indices(&args.old).map(|(at, _)| at).collect();
    if starts.is_empty() {
        return Err(explain_no_match(&content, &args.old, &rel));
    }
    if starts.len() > 1 && !args.replace_all {
        let lines = lines_of(&content, &starts);
        return Err(format!(
            "`old` occurs {} times in `{rel}`, starting at lines {}; include more of the \
             surrounding lines in `old` so that it matches one place only, or set \
             `replace_all` to true to change every one",
            starts.len(),
            listed(&lines)
        ));
    }

    // Build the new content, noting where each replacement starts in it.
    let mut updated = String::with_capacity(content.len());
    let mut placed = Vec::with_capacity(starts.len());
    let mut copied = 0;
    for &at in &starts {
        updated.push_str(&content[copied..at]);
        placed.push(updated.len());
        updated.push_str(&args.new);
        copied = at + args.old.len();
    }
    updated.push_str(&content[copied..]);
    if updated.len() > limits.max_write_bytes {
        return Err(format!(
            "the edit would make `{rel}` {} bytes, over the {}-byte limit for one file",
            updated.len(),
            limits.max_write_bytes
        ));
    }
    std::fs::write(&path, &updated).map_err(|err| format!("could not write `{rel}`: {err}"))?;

    let count = starts.len();
    let occurrences = if count == 1 {
        "occurrence"
    } else {
        "occurrences"
    };
    let spans: Vec<String> = lines_of(&updated, &placed)
        .into_iter()
        .map(|line| span(line, &args.new))
        .collect();
    let noun = if spans.len() == 1 && !spans[0].contains('-') {
        "line"
    } else {
        "lines"
    };
    let verb = if args.new.is_empty() {
        "removed at"
    } else {
        "now"
    };
    let where_ = format!("{verb} {noun} {}", listed(&spans));
    Ok(Done {
        message: format!("replaced {count} {occurrences} in `{rel}` ({where_})"),
        changed: Some(rel),
    })
}

/// The 1-based lines on which the byte offsets `at` (ascending) of `text` lie, counted in one
/// pass so that a `replace_all` with many matches stays linear.
fn lines_of(text: &str, at: &[usize]) -> Vec<usize> {
    let (mut line, mut counted) = (1, 0);
    at.iter()
        .map(|&offset| {
            line += text.as_bytes()[counted..offset]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count();
            counted = offset;
            line
        })
        .collect()
}

/// The lines `new` occupies when it starts on `first`, as `4` or `4-5`: a trailing newline ends
/// its last line rather than starting another.
fn span(first: usize, new: &str) -> String {
    let breaks = new.matches('\n').count();
    let last = first + breaks - usize::from(breaks > 0 && new.ends_with('\n'));
    if last == first {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

fn listed<T: ToString>(items: &[T]) -> String {
    let mut shown: Vec<String> = items.iter().take(MAX_LISTED).map(T::to_string).collect();
    if items.len() > MAX_LISTED {
        shown.push(format!("and {} more", items.len() - MAX_LISTED));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::super::testkit::{error, ok, toolbox, toolbox_with};
    use serde_json::json;
    use std::fs;

    const LIB: &str = "fn one() {\n    todo!()\n}\n\nfn two() {\n    todo!()\n}\n";

    #[test]
    fn replaces_a_unique_match_and_reports_the_new_lines() {
        let (dir, mut tools) = toolbox(&[("src/lib.rs", LIB)]);
        let edit = json!({"path": "src/lib.rs", "old": "fn two() {\n    todo!()", "new": "fn two() {\n    let x = 2;\n    x"});
        assert_eq!(
            ok(tools.call("edit_file", &edit)),
            "replaced 1 occurrence in `src/lib.rs` (now lines 5-7)"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            "fn one() {\n    todo!()\n}\n\nfn two() {\n    let x = 2;\n    x\n}\n"
        );
        assert_eq!(tools.changed_files(), ["src/lib.rs"]);
    }

    #[test]
    fn replace_all_changes_every_match() {
        let (dir, mut tools) = toolbox(&[("src/lib.rs", LIB)]);
        let edit = json!({"path": "src/lib.rs", "old": "    todo!()\n", "new": "    unimplemented!()\n    // later\n", "replace_all": true});
        assert_eq!(
            ok(tools.call("edit_file", &edit)),
            "replaced 2 occurrences in `src/lib.rs` (now lines 2-3, 7-8)"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs"))
                .unwrap()
                .matches("// later")
                .count(),
            2
        );
        let delete =
            json!({"path": "src/lib.rs", "old": "    // later\n", "new": "", "replace_all": true});
        assert_eq!(
            ok(tools.call("edit_file", &delete)),
            "replaced 2 occurrences in `src/lib.rs` (removed at lines 3, 7)"
        );
    }

    #[test]
    fn several_matches_without_replace_all_are_listed_by_line() {
        let (dir, mut tools) = toolbox(&[("src/lib.rs", LIB)]);
        assert_eq!(
            error(tools.call(
                "edit_file",
                &json!({"path": "src/lib.rs", "old": "todo!()", "new": "1"})
            )),
            "`old` occurs 2 times in `src/lib.rs`, starting at lines 2, 6; include more of the surrounding lines in `old` so that it matches one place only, or set `replace_all` to true to change every one"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            LIB
        );
        assert!(tools.changed_files().is_empty());
    }

    #[test]
    fn no_match_shows_the_closest_region() {
        let (_dir, mut tools) = toolbox(&[("src/lib.rs", LIB)]);
        let err = error(tools.call(
            "edit_file",
            &json!({"path": "src/lib.rs", "old": "fn two() {\n  todo!()\n}", "new": "fn two() {}"}),
        ));
        assert!(
            err.starts_with(
                "`old` was not found in `src/lib.rs`.\nIt does match if whitespace is ignored"
            ),
            "{err}"
        );
        assert!(
            err.contains(
                "lines 5-7 (100% similar):\n    5 | fn two() {\n    6 |     todo!()\n    7 | }\n"
            ),
            "{err}"
        );
    }

    #[test]
    fn refusals_say_what_to_do() {
        let limits = Limits {
            max_write_bytes: LIB.len() + 3,
            ..Limits::default()
        };
        let (dir, mut tools) = toolbox_with(&[("src/lib.rs", LIB)], limits);
        fs::write(dir.path().join("latin1.txt"), b"caf\xe9\n").unwrap();
        let mut edit = |args| error(tools.call("edit_file", &args));
        assert_eq!(
            edit(json!({"path": "src/lib.rs", "old": "", "new": "x"})),
            "`old` is empty; copy the exact text to replace from the file (to create a file or replace all of it, use write_file)"
        );
        assert_eq!(
            edit(json!({"path": "src/lib.rs", "old": "one", "new": "one"})),
            "`old` and `new` are the same, so the edit would change nothing"
        );
        assert_eq!(
            edit(json!({"path": "src/new.rs", "old": "a", "new": "b"})),
            "`src/new.rs` does not exist; to create it, use write_file"
        );
        assert_eq!(
            edit(json!({"path": "latin1.txt", "old": "caf", "new": "cafe"})),
            "`latin1.txt` is not valid UTF-8, so it cannot be edited as text"
        );
        assert_eq!(
            edit(json!({"path": "src/lib.rs", "old": "one", "new": "one_hundred"})),
            format!(
                "the edit would make `src/lib.rs` {} bytes, over the {}-byte limit for one file",
                LIB.len() + 8,
                LIB.len() + 3
            )
        );
        assert_eq!(
            edit(json!({"path": "src/lib.rs", "old": "one"})),
            "invalid arguments for `edit_file`: missing field `new`; `edit_file` takes {path: string, old: string, new: string, replace_all?: boolean}"
        );
        assert_eq!(
            fs::read_to_string(dir.path().join("src/lib.rs")).unwrap(),
            LIB
        );
    }

    #[test]
    fn spans_count_lines_the_way_an_editor_shows_them() {
        assert_eq!(super::span(4, ""), "4");
        assert_eq!(super::span(4, "x"), "4");
        assert_eq!(super::span(4, "x\n"), "4");
        assert_eq!(super::span(4, "x\ny"), "4-5");
        assert_eq!(super::span(4, "x\ny\n"), "4-5");
        assert_eq!(super::lines_of("a\nb\nc", &[0, 1, 2, 4]), [1, 1, 2, 3]);
    }
}
