//! `read_file`: file content with line numbers, so the model can cite lines and read by range.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::specs::parse_args;
use super::walk::relative;
use super::{Limits, resolve};
use crate::text::floor_char_boundary;

/// How much of a file's start is checked for NUL bytes: the same heuristic git uses, enough to
/// catch binaries without reading them whole.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: String,
    start_line: Option<usize>,
    end_line: Option<usize>,
}

pub(super) fn read_file(root: &Path, limits: &Limits, args: &Value) -> Result<String, String> {
    let args: Args = parse_args("read_file", args)?;
    let (path, bytes) = load(
        root,
        &args.path,
        "use list_files or search to find the right path",
    )?;
    let rel = relative(root, &path);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    if total == 0 {
        return Ok(format!("(`{rel}` is empty)"));
    }

    let start = args.start_line.unwrap_or(1);
    if start == 0 || args.end_line == Some(0) {
        return Err("line numbers start at 1".into());
    }
    if start > total {
        return Err(format!(
            "`{rel}` has {total} lines, so `start_line` {start} is past its end"
        ));
    }
    let end = args.end_line.unwrap_or(total);
    if end < start {
        return Err(format!(
            "`end_line` ({end}) is before `start_line` ({start})"
        ));
    }
    let end = end.min(total);

    let width = end.to_string().len().max(5);
    let mut out = String::new();
    for (index, line) in lines[start - 1..end].iter().enumerate() {
        let number = start + index;
        let numbered = format!("{number:>width$} | {line}\n");
        if out.len() + numbered.len() > limits.max_read_bytes {
            if out.is_empty() {
                let cut = floor_char_boundary(&numbered, limits.max_read_bytes);
                let _ = write!(
                    out,
                    "{}\n… line {number} is longer than {} bytes and was cut",
                    &numbered[..cut],
                    limits.max_read_bytes
                );
                if number < end {
                    let _ = write!(out, "; read on with `start_line` {}", number + 1);
                }
            } else {
                let _ = write!(
                    out,
                    "… cut at line {} of {total} to stay under {} bytes; read the rest with `start_line` {number}",
                    number - 1,
                    limits.max_read_bytes
                );
            }
            return Ok(out.trim_end().to_owned());
        }
        out.push_str(&numbered);
    }
    if start > 1 || end < total {
        let _ = write!(out, "(lines {start}-{end} of {total})");
    }
    Ok(out.trim_end().to_owned())
}

/// Resolves and reads a file that the model means to see as text, with the errors it needs when
/// the path is not one: missing (followed by `if_missing`, what to do about it), a directory, or
/// binary.
pub(super) fn load(
    root: &Path,
    requested: &str,
    if_missing: &str,
) -> Result<(PathBuf, Vec<u8>), String> {
    let path = resolve(root, requested).map_err(|err| err.to_string())?;
    if path.is_dir() {
        return Err(format!(
            "`{requested}` is a directory; list it with list_files"
        ));
    }
    let bytes = std::fs::read(&path).map_err(|err| match err.kind() {
        io::ErrorKind::NotFound => format!("`{requested}` does not exist; {if_missing}"),
        _ => format!("could not read `{requested}`: {err}"),
    })?;
    if looks_binary(&bytes) {
        return Err(format!(
            "`{requested}` is a binary file (it contains NUL bytes); the tools work on text files only"
        ));
    }
    Ok((path, bytes))
}

pub(super) fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::super::testkit::{error, ok, toolbox, toolbox_with};
    use serde_json::json;

    const TEN_LINES: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n";

    #[test]
    fn shows_the_whole_file_with_line_numbers() {
        let (_dir, mut tools) = toolbox(&[("src/lib.rs", "fn a() {}\r\n\n    let b;")]);
        assert_eq!(
            ok(tools.call("read_file", &json!({"path": "src/lib.rs"}))),
            "    1 | fn a() {}\n    2 | \n    3 |     let b;"
        );
    }

    #[test]
    fn a_range_is_shown_with_where_it_sits() {
        let (_dir, mut tools) = toolbox(&[("n.txt", TEN_LINES)]);
        assert_eq!(
            ok(tools.call(
                "read_file",
                &json!({"path": "n.txt", "start_line": 9, "end_line": 40})
            )),
            "    9 | nine\n   10 | ten\n(lines 9-10 of 10)"
        );
        assert_eq!(
            ok(tools.call(
                "read_file",
                &json!({"path": "n.txt", "start_line": 2, "end_line": 3})
            )),
            "    2 | two\n    3 | three\n(lines 2-3 of 10)"
        );
    }

    #[test]
    fn a_long_read_is_cut_with_directions_to_the_rest() {
        // The first three numbered lines take 38 bytes; the fourth would pass 40.
        let limits = Limits {
            max_read_bytes: 40,
            ..Limits::default()
        };
        let (_dir, mut tools) = toolbox_with(&[("n.txt", TEN_LINES)], limits);
        assert_eq!(
            ok(tools.call("read_file", &json!({"path": "n.txt"}))),
            "    1 | one\n    2 | two\n    3 | three\n\
             … cut at line 3 of 10 to stay under 40 bytes; read the rest with `start_line` 4"
        );
    }

    #[test]
    fn a_single_overlong_line_is_cut_too() {
        let limits = Limits {
            max_read_bytes: 12,
            ..Limits::default()
        };
        let (_dir, mut tools) = toolbox_with(&[("min.js", "ééééééééé\nnext\n")], limits);
        assert_eq!(
            ok(tools.call("read_file", &json!({"path": "min.js"}))),
            "    1 | éé\n… line 1 is longer than 12 bytes and was cut; read on with `start_line` 2"
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let (dir, mut tools) = toolbox(&[("n.txt", TEN_LINES), ("empty.txt", "")]);
        std::fs::write(
            dir.path().join("logo.png"),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        )
        .unwrap();
        let read = |tools: &mut super::super::Toolbox, args| tools.call("read_file", &args);
        assert_eq!(
            ok(read(&mut tools, json!({"path": "empty.txt"}))),
            "(`empty.txt` is empty)"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "logo.png"}))),
            "`logo.png` is a binary file (it contains NUL bytes); the tools work on text files only"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "missing.rs"}))),
            "`missing.rs` does not exist; use list_files or search to find the right path"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "."}))),
            "`.` is a directory; list it with list_files"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "n.txt", "start_line": 11}))),
            "`n.txt` has 10 lines, so `start_line` 11 is past its end"
        );
        assert_eq!(
            error(read(
                &mut tools,
                json!({"path": "n.txt", "start_line": 5, "end_line": 4})
            )),
            "`end_line` (4) is before `start_line` (5)"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "n.txt", "start_line": 0}))),
            "line numbers start at 1"
        );
        assert_eq!(
            error(read(&mut tools, json!({"path": "../n.txt"}))),
            "`../n.txt` points outside the repository: `..` may not climb above the repository root; paths are relative to it"
        );
    }
}
