//! What the model is told about each tool, and how its arguments are checked against that.
//!
//! The schemas here are the single description of every tool's arguments: the model reads them,
//! and when its arguments do not fit, the error it gets back is rendered from the same schema, so
//! the two can never disagree.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::llm::ToolSpec;

/// The tools the toolbox runs itself, in the order the model sees them.
pub(super) fn toolbox_specs() -> Vec<ToolSpec> {
    vec![
        spec(
            "list_files",
            "List files and directories under a directory of the repository, as repository-relative \
             paths (directories end with `/`). `.git` is never shown; build and dependency \
             directories such as `target/` and `node_modules/` are shown but not entered.",
            json!({
                "path": {"type": "string", "description": "Directory relative to the repository root. Default `.`."},
                "depth": {"type": "integer", "minimum": 1, "description": "How many directory levels to show. Default 3."}
            }),
            &[],
        ),
        spec(
            "read_file",
            "Read a text file with line numbers (`   12 | text`). Long files are cut; read the rest \
             with start_line and end_line. The line numbers are not part of the file: never copy them \
             into edit_file.",
            json!({
                "path": {"type": "string", "description": "File relative to the repository root."},
                "start_line": {"type": "integer", "minimum": 1, "description": "First line to show (1-based). Default 1."},
                "end_line": {"type": "integer", "minimum": 1, "description": "Last line to show, inclusive. Default: the end of the file."}
            }),
            &["path"],
        ),
        spec(
            "search",
            "Search the repository's text files for a pattern; prints `path:line: text` for each \
             matching line. Case-sensitive.",
            json!({
                "pattern": {"type": "string", "description": "Text to find; a regular expression (Rust regex syntax) when `regex` is true."},
                "path": {"type": "string", "description": "File or directory to search, relative to the repository root. Default `.`."},
                "regex": {"type": "boolean", "description": "Treat `pattern` as a regular expression. Default false: plain text."},
                "glob": {"type": "string", "description": "Only search files whose repository-relative path matches this glob, e.g. `*.rs` or `src/**/*.toml`."}
            }),
            &["pattern"],
        ),
        spec(
            "write_file",
            "Create a file, or replace a file's whole content. Parent directories are created. \
             To change part of an existing file, prefer edit_file.",
            json!({
                "path": {"type": "string", "description": "File relative to the repository root."},
                "content": {"type": "string", "description": "The complete new content of the file."}
            }),
            &["path", "content"],
        ),
        spec(
            "edit_file",
            "Replace exact text in a file. `old` must match the file exactly, including indentation \
             and line breaks, and must occur once (include surrounding lines to make it unique) \
             unless replace_all is true.",
            json!({
                "path": {"type": "string", "description": "File relative to the repository root."},
                "old": {"type": "string", "description": "The exact text to replace, copied from the file without line numbers."},
                "new": {"type": "string", "description": "The text to put in its place."},
                "replace_all": {"type": "boolean", "description": "Replace every occurrence of `old`. Default false."}
            }),
            &["path", "old", "new"],
        ),
        spec(
            "finish",
            "Declare the task done. Call it once, after your last change, with a summary of what \
             you changed and why; it will be shown to the people who asked.",
            json!({
                "summary": {"type": "string", "description": "What changed and why, for a pull request description."}
            }),
            &["summary"],
        ),
    ]
}

/// The `run_command` tool: run by the caller (it needs a sandbox and a clock), described here so
/// that every tool the dev agent sees is specified in one place.
pub fn run_command_spec() -> ToolSpec {
    spec(
        "run_command",
        "Run a shell command in the repository root (for example a build or the tests) and get \
         its exit status and output.",
        json!({
            "command": {"type": "string", "description": "The shell command line."},
            "timeout_s": {"type": "integer", "minimum": 1, "description": "Seconds before the command is killed."}
        }),
        &["command"],
    )
}

fn spec(name: &str, description: &str, properties: Value, required: &[&str]) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        description: description.to_owned(),
        parameters: json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        }),
    }
}

/// Parses a tool's arguments, or says what was wrong and what shape was expected. A missing
/// argument object (`null`) counts as `{}`, since models send it for tools whose arguments are all
/// optional.
pub(super) fn parse_args<T: DeserializeOwned>(tool: &str, args: &Value) -> Result<T, String> {
    let empty = Value::Object(Default::default());
    let args = if args.is_null() { &empty } else { args };
    let expected = || match shape_of(tool) {
        Some(shape) => format!("; `{tool}` takes {shape}"),
        None => String::new(),
    };
    if !args.is_object() {
        return Err(format!(
            "the arguments for `{tool}` must be a JSON object, not {}{}",
            kind(args),
            expected()
        ));
    }
    serde_path_to_error::deserialize(args).map_err(|err| {
        let path = err.path().to_string();
        let detail = if path == "." {
            err.inner().to_string()
        } else {
            format!("`{path}`: {}", err.inner())
        };
        format!("invalid arguments for `{tool}`: {detail}{}", expected())
    })
}

/// Renders a tool's schema compactly for an error message: required fields first, in order, then
/// the optional ones marked `?`, e.g. `{path: string, start_line?: integer}`.
fn shape_of(tool: &str) -> Option<String> {
    let spec = toolbox_specs()
        .into_iter()
        .chain([run_command_spec()])
        .find(|spec| spec.name == tool)?;
    let properties = spec.parameters["properties"].as_object()?;
    let required: Vec<&str> = spec.parameters["required"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let field = |name: &str, mark: &str| {
        let kind = properties[name]["type"].as_str().unwrap_or("any");
        format!("{name}{mark}: {kind}")
    };
    let fields: Vec<String> = required
        .iter()
        .map(|name| field(name, ""))
        .chain(
            properties
                .keys()
                .filter(|name| !required.contains(&name.as_str()))
                .map(|name| field(name, "?")),
        )
        .collect();
    Some(format!("{{{}}}", fields.join(", ")))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct ReadArgs {
        path: String,
        start_line: Option<u64>,
    }

    #[test]
    fn every_schema_is_a_closed_object_whose_required_fields_exist() {
        for spec in toolbox_specs().into_iter().chain([run_command_spec()]) {
            let params = &spec.parameters;
            assert_eq!(params["type"], "object", "{}", spec.name);
            assert_eq!(params["additionalProperties"], false, "{}", spec.name);
            for name in params["required"].as_array().unwrap() {
                let name = name.as_str().unwrap();
                assert!(
                    params["properties"].get(name).is_some(),
                    "{}.{name}",
                    spec.name
                );
            }
        }
    }

    #[test]
    fn a_missing_field_names_it_and_shows_the_shape() {
        let err = parse_args::<ReadArgs>("read_file", &json!({})).unwrap_err();
        assert_eq!(
            err,
            "invalid arguments for `read_file`: missing field `path`; `read_file` takes \
             {path: string, end_line?: integer, start_line?: integer}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let err = parse_args::<ReadArgs>("read_file", &json!({"path": "a", "start_line": "3"}))
            .unwrap_err();
        assert!(
            err.starts_with(
                "invalid arguments for `read_file`: `start_line`: invalid type: string \"3\""
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let err =
            parse_args::<ReadArgs>("read_file", &json!({"path": "a", "file": "b"})).unwrap_err();
        assert!(err.contains("unknown field `file`"), "{err}");
    }

    #[test]
    fn arguments_that_are_not_an_object_are_refused() {
        let err = parse_args::<ReadArgs>("read_file", &json!("src/lib.rs")).unwrap_err();
        assert_eq!(
            err,
            "the arguments for `read_file` must be a JSON object, not a string; `read_file` takes \
             {path: string, end_line?: integer, start_line?: integer}"
        );
    }

    #[test]
    fn run_command_has_its_documented_shape() {
        assert_eq!(
            shape_of("run_command").unwrap(),
            "{command: string, timeout_s?: integer}"
        );
    }
}
