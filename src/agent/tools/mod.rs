//! The dev agent's workspace tools: what the model can do to a task's worktree, and nothing more.
//!
//! A [`Toolbox`] serves one agent step over one worktree. The model calls tools by name with JSON
//! arguments ([`Toolbox::specs`] describes them); each call returns text for the model
//! ([`ToolResult`]). Three promises hold for every call:
//!
//! - **Confinement.** Every path goes through [`resolve`]: nothing outside the worktree, nothing in
//!   `.git`, no escape through symlinks.
//! - **Errors teach.** A wrong call gets an error the model can act on — the expected argument
//!   shape, the closest text when an edit does not match, the rule a path broke.
//! - **Loops end.** The same failing call made [`Limits::repeat_failure_limit`] times stops the
//!   step ([`ToolResult::Stop`]) instead of burning the budget; commands the caller runs are
//!   counted too ([`Toolbox::record_external`]).

mod closest;
mod edit;
mod list;
mod path;
mod read;
mod repeats;
mod search;
mod specs;
#[cfg(test)]
mod testkit;
mod walk;
mod write;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::llm::ToolSpec;
pub use path::{PathError, resolve};
use repeats::Repeats;
pub use specs::run_command_spec;

/// Caps on what one call may read or write, so that a single call cannot flood the model's
/// context or fill the disk; each cap's message tells the model how to get the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of file content `read_file` returns at once; the rest is read by line range.
    pub max_read_bytes: usize,
    /// Bytes `write_file` writes, and the size a file may reach through `edit_file`.
    pub max_write_bytes: usize,
    /// Entries `list_files` shows before summarising the rest as a count.
    pub max_list_entries: usize,
    /// Matching lines `search` shows before summarising the rest as a count.
    pub max_search_matches: usize,
    /// How many times the same failing call may be made before the step is stopped: a model
    /// that repeats a failure verbatim has stopped learning from the error. 0 and 1 both stop
    /// at the first failure.
    pub repeat_failure_limit: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_read_bytes: 100_000,
            max_write_bytes: 1_000_000,
            max_list_entries: 2_000,
            max_search_matches: 200,
            repeat_failure_limit: 3,
        }
    }
}

/// What a tool call gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolResult {
    /// The call worked; the text is the model's answer.
    Ok(String),
    /// The call was wrong; the text is shown to the model, which can correct itself.
    Error(String),
    /// The step must end: carrying on would only repeat what already failed.
    Stop(Stop),
}

/// Why a step was stopped, for the task's log and the comment that reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// One line naming the tool and what kept failing.
    pub reason: String,
}

/// The workspace tools over one worktree, for one agent step: it remembers which files the step
/// changed (for the commit), how the step finished, and which calls keep failing.
#[derive(Debug)]
pub struct Toolbox {
    root: PathBuf,
    limits: Limits,
    repeats: Repeats,
    changed: BTreeSet<String>,
    summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishArgs {
    summary: String,
}

impl Toolbox {
    /// A toolbox over the worktree at `root`. The root is canonicalized once here, so every
    /// confinement check compares against the real location.
    pub fn new(root: &Path, limits: Limits) -> io::Result<Self> {
        let root = root.canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("the worktree root {} is not a directory", root.display()),
            ));
        }
        Ok(Self {
            root,
            repeats: Repeats::new(limits.repeat_failure_limit),
            limits,
            changed: BTreeSet::new(),
            summary: None,
        })
    }

    /// The tools the toolbox runs, described for the model. `run_command` is not among them: the
    /// caller runs commands (in its sandbox) and adds [`run_command_spec`] itself.
    pub fn specs() -> Vec<ToolSpec> {
        specs::toolbox_specs()
    }

    /// Runs one tool call. An unknown `name`, or arguments that do not fit the tool's schema,
    /// give a [`ToolResult::Error`] that shows the model the right shape.
    pub fn call(&mut self, name: &str, args: &Value) -> ToolResult {
        match self.dispatch(name, args) {
            Ok(text) => {
                self.repeats.succeeded(name, args);
                ToolResult::Ok(text)
            }
            Err(message) => match self.repeats.failed(name, args) {
                Some(times) => ToolResult::Stop(Stop {
                    reason: format!(
                        "the same failing {name} call was repeated {times} times; the last error was: {}",
                        first_line(&message)
                    ),
                }),
                None => ToolResult::Error(message),
            },
        }
    }

    /// Records the outcome of a call made outside the toolbox (`run_command`), so that a command
    /// failing the same way again and again stops the step just like a failing tool call.
    pub fn record_external(&mut self, name: &str, args: &Value, failed: bool) -> Option<Stop> {
        if !failed {
            self.repeats.succeeded(name, args);
            return None;
        }
        let times = self.repeats.failed(name, args)?;
        Some(Stop {
            reason: format!(
                "the same failing {name} call was repeated {times} times: {}",
                first_line(&repeats::canonical_json(args))
            ),
        })
    }

    /// Repository-relative paths this step wrote, edited or created, sorted and without
    /// duplicates: what the commit step stages. A write through a symlink lists the link's target.
    pub fn changed_files(&self) -> Vec<String> {
        self.changed.iter().cloned().collect()
    }

    /// Records a file changed outside the tools (by a command), so it is committed, withheld or
    /// reset with the step's own edits.
    pub fn note_external_change(&mut self, path: &str) {
        self.changed.insert(path.to_owned());
    }

    /// The summary the model gave when it called `finish`; `None` while it is still working.
    pub fn finished(&self) -> Option<&str> {
        self.summary.as_deref()
    }

    fn dispatch(&mut self, name: &str, args: &Value) -> Result<String, String> {
        let (root, limits) = (self.root.as_path(), &self.limits);
        match name {
            "list_files" => list::list_files(root, limits, args),
            "read_file" => read::read_file(root, limits, args),
            "search" => search::search(root, limits, args),
            "write_file" => write::write_file(root, limits, args).map(|done| self.note(done)),
            "edit_file" => edit::edit_file(root, limits, args).map(|done| self.note(done)),
            "finish" => {
                let FinishArgs { summary } = specs::parse_args(name, args)?;
                if summary.trim().is_empty() {
                    return Err("`summary` is empty; say what you changed and why".to_owned());
                }
                self.summary = Some(summary);
                Ok("finished".to_owned())
            }
            unknown => {
                let names: Vec<String> = Self::specs().into_iter().map(|spec| spec.name).collect();
                Err(format!(
                    "there is no tool `{unknown}`; the workspace tools are {}",
                    names.join(", ")
                ))
            }
        }
    }

    /// Remembers a change. A changed worktree also forgets earlier failures: after an edit, running
    /// the same failing test again is the next attempt, not a loop.
    fn note(&mut self, done: write::Done) -> String {
        if let Some(path) = done.changed {
            self.changed.insert(path);
            self.repeats.forget_all();
        }
        done.message
    }
}

/// The first line of a message, cut to a length fit for a one-line reason.
fn first_line(text: &str) -> String {
    const MAX_CHARS: usize = 200;
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::{error, ok, toolbox};
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_cover_the_toolbox_tools_and_not_run_command() {
        let names: Vec<String> = Toolbox::specs().into_iter().map(|spec| spec.name).collect();
        assert_eq!(
            names,
            [
                "list_files",
                "read_file",
                "search",
                "write_file",
                "edit_file",
                "finish"
            ]
        );
        assert_eq!(run_command_spec().name, "run_command");
        assert_eq!(
            run_command_spec().parameters["required"],
            json!(["command"])
        );
    }

    #[test]
    fn an_unknown_tool_lists_the_real_ones() {
        let (_dir, mut tools) = toolbox(&[]);
        assert_eq!(
            error(tools.call("delete_repo", &json!({}))),
            "there is no tool `delete_repo`; the workspace tools are list_files, read_file, search, write_file, edit_file, finish"
        );
    }

    #[test]
    fn finish_records_the_summary() {
        let (_dir, mut tools) = toolbox(&[]);
        assert_eq!(tools.finished(), None);
        assert_eq!(
            error(tools.call("finish", &json!({"summary": "  "}))),
            "`summary` is empty; say what you changed and why"
        );
        assert_eq!(
            ok(tools.call("finish", &json!({"summary": "Fixed the parser."}))),
            "finished"
        );
        assert_eq!(tools.finished(), Some("Fixed the parser."));
    }

    #[test]
    fn the_same_failing_call_stops_the_step_at_the_limit() {
        let (_dir, mut tools) = toolbox(&[("a.txt", "alpha\n")]);
        let edit = json!({"path": "a.txt", "old": "beta", "new": "gamma"});
        assert!(matches!(
            tools.call("edit_file", &edit),
            ToolResult::Error(_)
        ));
        // Other calls, failing or not, leave this call's count alone.
        assert!(matches!(
            tools.call("read_file", &json!({"path": "missing.txt"})),
            ToolResult::Error(_)
        ));
        ok(tools.call("read_file", &json!({"path": "a.txt"})));
        assert!(matches!(
            tools.call("edit_file", &edit),
            ToolResult::Error(_)
        ));
        // Key order in the arguments does not make it a different call.
        let reordered = json!({"new": "gamma", "old": "beta", "path": "a.txt"});
        assert_eq!(
            tools.call("edit_file", &reordered),
            ToolResult::Stop(Stop {
                reason: "the same failing edit_file call was repeated 3 times; the last error was: `old` was not found in `a.txt`.".into()
            })
        );
    }

    #[test]
    fn a_success_with_the_same_arguments_does_not_count() {
        let (_dir, mut tools) = toolbox(&[]);
        let read = json!({"path": "later.txt"});
        assert!(matches!(
            tools.call("read_file", &read),
            ToolResult::Error(_)
        ));
        assert!(matches!(
            tools.call("read_file", &read),
            ToolResult::Error(_)
        ));
        std::fs::write(tools.root.join("later.txt"), "now here\n").unwrap();
        ok(tools.call("read_file", &read));
        std::fs::remove_file(tools.root.join("later.txt")).unwrap();
        assert!(matches!(
            tools.call("read_file", &read),
            ToolResult::Error(_)
        ));
        assert!(matches!(
            tools.call("read_file", &read),
            ToolResult::Error(_)
        ));
        assert!(matches!(
            tools.call("read_file", &read),
            ToolResult::Stop(_)
        ));
    }

    #[test]
    fn repeated_failing_commands_are_detected_and_a_change_resets_them() {
        let (_dir, mut tools) = toolbox(&[]);
        let test = json!({"command": "cargo test"});
        assert_eq!(tools.record_external("run_command", &test, true), None);
        assert_eq!(tools.record_external("run_command", &test, true), None);
        // The model fixed something: running the tests again is progress, not a loop.
        ok(tools.call(
            "write_file",
            &json!({"path": "fix.rs", "content": "fn fixed() {}\n"}),
        ));
        assert_eq!(tools.record_external("run_command", &test, true), None);
        assert_eq!(tools.record_external("run_command", &test, false), None);
        assert_eq!(tools.record_external("run_command", &test, true), None);
        assert_eq!(tools.record_external("run_command", &test, true), None);
        assert_eq!(
            tools.record_external("run_command", &test, true),
            Some(Stop {
                reason: r#"the same failing run_command call was repeated 3 times: {"command":"cargo test"}"#.into()
            })
        );
    }

    #[test]
    fn changed_files_lists_each_written_or_edited_file_once() {
        let (_dir, mut tools) =
            toolbox(&[("src/lib.rs", "pub fn a() {}\n"), ("README.md", "hi\n")]);
        ok(tools.call(
            "write_file",
            &json!({"path": "src/new/mod.rs", "content": "// new\n"}),
        ));
        ok(tools.call(
            "edit_file",
            &json!({"path": "src/lib.rs", "old": "a()", "new": "b()"}),
        ));
        ok(tools.call(
            "edit_file",
            &json!({"path": "./src/lib.rs", "old": "b()", "new": "c()"}),
        ));
        // Rewriting a file with the content it has changes nothing.
        ok(tools.call(
            "write_file",
            &json!({"path": "README.md", "content": "hi\n"}),
        ));
        ok(tools.call("read_file", &json!({"path": "README.md"})));
        assert_eq!(tools.changed_files(), ["src/lib.rs", "src/new/mod.rs"]);
    }

    #[test]
    fn the_root_must_be_an_existing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(Toolbox::new(&dir.path().join("missing"), Limits::default()).is_err());
        assert_eq!(
            Toolbox::new(&file, Limits::default()).unwrap_err().kind(),
            io::ErrorKind::NotADirectory
        );
    }
}
