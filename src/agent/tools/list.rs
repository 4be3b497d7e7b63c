//! `list_files`: the model's first look at a repository. Paths are printed whole and relative to
//! the root, so any line can be passed straight back to another tool.

use std::io;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::specs::parse_args;
use super::walk::{Kind, relative, walk};
use super::{Limits, resolve};

const DEFAULT_DEPTH: usize = 3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    path: Option<String>,
    depth: Option<usize>,
}

pub(super) fn list_files(root: &Path, limits: &Limits, args: &Value) -> Result<String, String> {
    let args: Args = parse_args("list_files", args)?;
    let requested = or_root(args.path);
    let depth = args.depth.unwrap_or(DEFAULT_DEPTH);
    if depth == 0 {
        return Err("`depth` must be at least 1 (1 lists only the directory's own entries)".into());
    }
    let dir = resolve(root, &requested).map_err(|err| err.to_string())?;
    match dir.metadata() {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "`{requested}` is a file, not a directory; read it with read_file"
            ));
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(format!(
                "`{requested}` does not exist; list its parent directory to see what is there"
            ));
        }
        Err(err) => return Err(format!("could not list `{requested}`: {err}")),
    }

    let mut lines = Vec::new();
    let mut more = 0usize;
    walk(root, &dir, depth, &mut |entry| {
        if lines.len() >= limits.max_list_entries {
            more += 1;
            return;
        }
        lines.push(match &entry.kind {
            Kind::File => entry.rel.clone(),
            Kind::Dir => format!("{}/", entry.rel),
            Kind::NotEntered => {
                format!("{}/ (not listed: build output or dependencies)", entry.rel)
            }
            Kind::Symlink(target) => format!("{} -> {target}", entry.rel),
        });
    });
    if lines.is_empty() {
        return Ok(format!("`{}` is empty", relative(root, &dir)));
    }
    if more > 0 {
        lines.push(format!(
            "… {more} more entries not shown; list a subdirectory, or use a smaller depth"
        ));
    }
    Ok(lines.join("\n"))
}

/// An optional path argument: absent or empty means the repository root, the obvious intent.
pub(super) fn or_root(path: Option<String>) -> String {
    path.filter(|path| !path.is_empty())
        .unwrap_or_else(|| ".".to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::Limits;
    use super::super::testkit::{error, ok, toolbox, toolbox_with};
    use serde_json::json;

    fn repo() -> (tempfile::TempDir, super::super::Toolbox) {
        toolbox(&[
            ("Cargo.toml", "[package]\n"),
            ("src/lib.rs", ""),
            ("src/agent/tools/mod.rs", ""),
            ("src/agent/tools/deep/er.rs", ""),
            ("target/debug/orion", "binary"),
            ("web/node_modules/left-pad/index.js", ""),
            ("empty/.keep", ""),
        ])
    }

    #[test]
    fn lists_the_tree_sorted_without_git_and_without_entering_build_dirs() {
        let (_dir, mut tools) = repo();
        assert_eq!(
            ok(tools.call("list_files", &json!({}))),
            "Cargo.toml\n\
             empty/\n\
             empty/.keep\n\
             src/\n\
             src/agent/\n\
             src/agent/tools/\n\
             src/lib.rs\n\
             target/ (not listed: build output or dependencies)\n\
             web/\n\
             web/node_modules/ (not listed: build output or dependencies)"
        );
    }

    #[test]
    fn path_and_depth_narrow_the_listing() {
        let (_dir, mut tools) = repo();
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": "src/agent", "depth": 1}))),
            "src/agent/tools/"
        );
        assert_eq!(
            ok(tools.call(
                "list_files",
                &json!({"path": "src/agent/tools", "depth": 5})
            )),
            "src/agent/tools/deep/\nsrc/agent/tools/deep/er.rs\nsrc/agent/tools/mod.rs"
        );
        // Asked for by name, a build directory is listed.
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": "target"}))),
            "target/debug/\ntarget/debug/orion"
        );
    }

    #[test]
    fn the_cap_summarises_the_rest() {
        let files: Vec<(String, &str)> = (0..5).map(|i| (format!("f{i}.txt"), "")).collect();
        let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (p.as_str(), *c)).collect();
        let limits = Limits {
            max_list_entries: 2,
            ..Limits::default()
        };
        let (_dir, mut tools) = toolbox_with(&files, limits);
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": ""}))),
            "f0.txt\nf1.txt\n… 3 more entries not shown; list a subdirectory, or use a smaller depth"
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_shown_with_their_target_and_not_followed() {
        let (dir, mut tools) = repo();
        std::os::unix::fs::symlink("/etc", dir.path().join("src/agent/etc")).unwrap();
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": "src/agent", "depth": 1}))),
            "src/agent/etc -> /etc\nsrc/agent/tools/"
        );
    }

    #[test]
    fn errors_say_what_to_do_instead() {
        let (_dir, mut tools) = repo();
        assert_eq!(
            error(tools.call("list_files", &json!({"path": "Cargo.toml"}))),
            "`Cargo.toml` is a file, not a directory; read it with read_file"
        );
        assert_eq!(
            error(tools.call("list_files", &json!({"path": "nope"}))),
            "`nope` does not exist; list its parent directory to see what is there"
        );
        assert_eq!(
            error(tools.call("list_files", &json!({"depth": 0}))),
            "`depth` must be at least 1 (1 lists only the directory's own entries)"
        );
        assert_eq!(
            error(tools.call("list_files", &json!({"path": "/"}))),
            "paths are relative to the repository root; `/` is absolute"
        );
        assert_eq!(
            error(tools.call("list_files", &json!({"path": ".git"}))),
            "`.git` is inside `.git`, which the tools do not touch; Orion manages git state itself (commits, branches, pushes)"
        );
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": "empty/../empty", "depth": 1}))),
            "empty/.keep"
        );
    }

    #[test]
    fn an_empty_directory_says_so_and_missing_arguments_mean_the_root() {
        let (dir, mut tools) = toolbox(&[("a.txt", "")]);
        std::fs::create_dir(dir.path().join("void")).unwrap();
        assert_eq!(
            ok(tools.call("list_files", &json!({"path": "void"}))),
            "`void` is empty"
        );
        assert_eq!(
            ok(tools.call("list_files", &serde_json::Value::Null)),
            "a.txt\nvoid/"
        );
    }
}
