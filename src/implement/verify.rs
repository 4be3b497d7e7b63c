//! Which command checks a change: the repository's `.github/orion.yml` says so, or Orion
//! recognises the ecosystem from the files at the repository's root.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

/// Where a repository configures Orion, on its default branch.
pub const SETTINGS_PATH: &str = ".github/orion.yml";

/// The keys of `.github/orion.yml` that Orion reads. Others are reported, not refused: a
/// repository's file may be written for a newer Orion, and must not stop an older one.
const KNOWN_KEYS: [&str; 4] = [
    "test_command",
    "review",
    "review_paths",
    "review_instructions",
];

/// A repository's own settings for Orion, from [`SETTINGS_PATH`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RepoSettings {
    /// The shell command that runs the repository's tests in the sandbox. Set it when detection
    /// guesses wrong or the suite needs flags (`cargo test --workspace`, `pytest tests/unit`);
    /// it always wins over detection.
    #[serde(default)]
    pub test_command: Option<String>,
    /// `review: off` stops automatic reviews of the repository's pull requests (`/orion review`
    /// still asks for one).
    #[serde(default)]
    pub review: Option<Toggle>,
    /// Which paths reviews look at.
    #[serde(default)]
    pub review_paths: ReviewPaths,
    /// Extra instructions for the reviewer on files matching a glob ("`migrations/**`: check
    /// that every migration is reversible").
    #[serde(default)]
    pub review_instructions: Vec<PathInstructions>,
}

/// `on`/`off`, written as YAML booleans or words.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Toggle {
    Bool(bool),
    Word(String),
}

impl Toggle {
    pub fn is_on(&self) -> bool {
        match self {
            Toggle::Bool(b) => *b,
            Toggle::Word(w) => !matches!(
                w.trim().to_ascii_lowercase().as_str(),
                "off" | "false" | "no" | "disabled"
            ),
        }
    }
}

/// Globs of the paths reviews include (all when empty) and exclude.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewPaths {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

/// Instructions for the reviewer on the files `path` (a glob) matches.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathInstructions {
    pub path: String,
    pub instructions: String,
}

impl RepoSettings {
    /// Whether pull requests are reviewed automatically (on unless the file says `off`).
    pub fn reviews_on(&self) -> bool {
        self.review.as_ref().is_none_or(Toggle::is_on)
    }
}

/// Why `.github/orion.yml` could not be used. The message is for the repository's maintainers,
/// so it names the file and, when the YAML library knows it, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{SETTINGS_PATH}{}: {message}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct SettingsError {
    /// 1-based line of the problem.
    pub line: Option<usize>,
    pub message: String,
}

impl SettingsError {
    fn from_yaml(err: serde_yaml_ng::Error) -> Self {
        Self {
            line: err.location().map(|l| l.line()),
            message: err.to_string(),
        }
    }
}

impl RepoSettings {
    /// Parses the file's text. Returns the settings and warnings about what was ignored
    /// (unknown keys, a blank test command), which the caller should log or show; a file that
    /// is not valid YAML, or has a known key of the wrong type, is an error. An empty file is the
    /// default settings.
    pub fn parse(text: &str) -> Result<(RepoSettings, Vec<String>), SettingsError> {
        // Parsed twice: as a generic value to list the keys, and as the struct, so that a wrong
        // type on a known key is reported with its line (a generic value has no positions).
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(SettingsError::from_yaml)?;
        let mapping = match value {
            serde_yaml_ng::Value::Null => return Ok((RepoSettings::default(), Vec::new())),
            serde_yaml_ng::Value::Mapping(mapping) => mapping,
            _ => {
                return Err(SettingsError {
                    line: None,
                    message: "the file must be a mapping of settings, such as \
                              `test_command: make check`"
                        .into(),
                });
            }
        };
        let mut warnings = Vec::new();
        for key in mapping.keys() {
            match key.as_str() {
                Some(k) if KNOWN_KEYS.contains(&k) => {}
                Some(k) => warnings.push(format!(
                    "{SETTINGS_PATH}: unknown key `{k}` ignored (known keys: {})",
                    KNOWN_KEYS.join(", ")
                )),
                None => warnings.push(format!(
                    "{SETTINGS_PATH}: a key that is not a string ({}) ignored",
                    serde_yaml_ng::to_string(key).unwrap_or_default().trim_end()
                )),
            }
        }
        let mut settings: RepoSettings =
            serde_yaml_ng::from_str(text).map_err(SettingsError::from_yaml)?;
        if settings
            .test_command
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            settings.test_command = None;
            warnings.push(format!(
                "{SETTINGS_PATH}: `test_command` is blank; detecting the test command instead"
            ));
        }
        Ok((settings, warnings))
    }
}

/// The command that runs the repository's tests: [`RepoSettings::test_command`] when set, else
/// [`detect_test_command`].
pub fn test_command(
    settings: &RepoSettings,
    files: &[String],
    read: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    match settings.test_command.as_deref().map(str::trim) {
        Some(command) if !command.is_empty() => Some(command.to_owned()),
        _ => detect_test_command(files, read),
    }
}

/// Guesses the test command from the repository's files: `files` are repository-relative paths
/// at the root and one level down (directories may end with `/`), `read` returns a file's text.
///
/// The first match wins, in this order:
/// 1. `Cargo.toml` → `cargo test`
/// 2. `package.json` with a real `scripts.test` (not npm's placeholder) → `npm test`
/// 3. `pyproject.toml`, `setup.cfg`, `pytest.ini`, `tox.ini`, or `tests/test_*.py` →
///    `python3 -m pytest -q`
/// 4. `go.mod` → `go test ./...`
/// 5. a Makefile with a `test` target → `make test`
///
/// Only one command runs, so the order settles repositories with several markers. A repository
/// that has several is usually a project in one language carrying tooling in another (a crate
/// with a `package.json` for its docs site, a Node app with a `pyproject.toml` for a script).
/// `Cargo.toml` is never incidental, so it comes first; `package.json` only counts with a real
/// test script, so a tooling-only one falls through; the Python markers are looser and come
/// after. `make test` comes last because its targets often install tools or start services,
/// which the sandbox (no network) cannot do, while the ecosystem runners work offline. A wrong
/// guess costs one line in `.github/orion.yml`, which always wins.
pub fn detect_test_command(
    files: &[String],
    read: impl Fn(&str) -> Option<String>,
) -> Option<String> {
    let files: BTreeSet<&str> = files
        .iter()
        .map(|f| f.strip_prefix("./").unwrap_or(f).trim_end_matches('/'))
        .collect();
    if files.contains("Cargo.toml") {
        return Some("cargo test".into());
    }
    if files.contains("package.json")
        && read("package.json").is_some_and(|text| has_npm_test_script(&text))
    {
        return Some("npm test".into());
    }
    let python_config = ["pyproject.toml", "setup.cfg", "pytest.ini", "tox.ini"]
        .iter()
        .any(|f| files.contains(f));
    let python_tests = files.iter().any(|f| {
        f.strip_prefix("tests/")
            .is_some_and(|name| name.starts_with("test_") && name.ends_with(".py"))
    });
    if python_config || python_tests {
        return Some("python3 -m pytest -q".into());
    }
    if files.contains("go.mod") {
        return Some("go test ./...".into());
    }
    let has_make_test = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .filter(|f| files.contains(*f))
        .any(|f| read(f).is_some_and(|text| has_make_test_target(&text)));
    if has_make_test {
        return Some("make test".into());
    }
    None
}

/// Whether `package.json` defines a test script other than the placeholder `npm init` writes
/// (`echo "Error: no test specified" && exit 1`), which fails by design.
fn has_npm_test_script(text: &str) -> bool {
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(text) else {
        return false;
    };
    manifest
        .pointer("/scripts/test")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|script| {
            !script.trim().is_empty() && !script.contains("Error: no test specified")
        })
}

/// Whether a Makefile has a `test:` rule (also `test: deps` and `test::`), but not a variable
/// named `test` (`test := …`, `test ?= …`).
fn has_make_test_target(text: &str) -> bool {
    static TARGET: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?m)^(?:[^\s:#=]+\s+)*test(?:\s+[^\s:#=]+)*\s*::?(?:[^=]|$)")
            .expect("valid regex")
    });
    TARGET.is_match(text)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A repository of `(path, text)` files; listing it gives the paths, reading gives the text.
    type Repo<'a> = &'a [(&'a str, &'a str)];

    fn detect(repo: Repo) -> Option<String> {
        let texts: HashMap<&str, &str> = repo.iter().copied().collect();
        let files: Vec<String> = repo.iter().map(|(p, _)| p.to_string()).collect();
        detect_test_command(&files, |p| texts.get(p).map(|t| t.to_string()))
    }

    #[test]
    fn review_settings_read_as_maintainers_write_them() {
        let (s, warnings) = RepoSettings::parse(
            "review: off\nreview_paths:\n  exclude: [\"docs/**\"]\nreview_instructions:\n  - path: \"migrations/**\"\n    instructions: Every migration must be reversible.\n",
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!s.reviews_on());
        assert_eq!(s.review_paths.exclude, ["docs/**"]);
        assert_eq!(s.review_instructions[0].path, "migrations/**");
        for (text, on) in [
            ("review: false", false),
            ("review: on", true),
            ("review: true", true),
            ("", true),
        ] {
            assert_eq!(
                RepoSettings::parse(text).unwrap().0.reviews_on(),
                on,
                "{text}"
            );
        }
        let err = RepoSettings::parse("review_paths:\n  exclud: [x]\n").unwrap_err();
        assert!(err.message.contains("exclud"), "{err}");
    }

    const NPM_PLACEHOLDER: &str =
        r#"{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}"#;

    #[test]
    fn each_ecosystem_is_recognised() {
        let cases: [(Repo, Option<&str>); 12] = [
            (&[("Cargo.toml", "[package]")], Some("cargo test")),
            (
                &[("package.json", r#"{"scripts": {"test": "vitest run"}}"#)],
                Some("npm test"),
            ),
            (&[("package.json", NPM_PLACEHOLDER)], None),
            (&[("package.json", r#"{"name": "x"}"#)], None),
            (&[("package.json", "{not json")], None),
            (&[("pyproject.toml", "")], Some("python3 -m pytest -q")),
            (&[("tox.ini", "")], Some("python3 -m pytest -q")),
            (
                &[("tests/", ""), ("tests/test_parser.py", "")],
                Some("python3 -m pytest -q"),
            ),
            (&[("./go.mod", "module x")], Some("go test ./...")),
            (
                &[(
                    "Makefile",
                    ".PHONY: test\ntest: build\n\tcc -o t t.c && ./t\n",
                )],
                Some("make test"),
            ),
            (&[("Makefile", "test := 1\nall:\n\techo $(test)\n")], None),
            (&[("README.md", ""), ("src/main.c", "")], None),
        ];
        for (repo, expected) in cases {
            assert_eq!(detect(repo).as_deref(), expected, "{repo:?}");
        }
    }

    #[test]
    fn make_targets_are_told_from_variables() {
        assert!(has_make_test_target("test::\n\tgo vet\n"));
        assert!(has_make_test_target("check test: lint\n"));
        assert!(has_make_test_target("test:\n"));
        assert!(!has_make_test_target("test ?= yes\n"));
        assert!(!has_make_test_target("test:= yes\n"));
        assert!(!has_make_test_target("integration-test:\n"));
        assert!(!has_make_test_target("\ttest: not a rule\n"));
    }

    #[test]
    fn the_first_ecosystem_in_order_wins() {
        let npm = ("package.json", r#"{"scripts": {"test": "jest"}}"#);
        let make = ("Makefile", "test:\n\t./run\n");
        let cases: [(Repo, &str); 5] = [
            (
                &[
                    make,
                    ("go.mod", ""),
                    ("pyproject.toml", ""),
                    npm,
                    ("Cargo.toml", ""),
                ],
                "cargo test",
            ),
            (
                &[make, ("go.mod", ""), ("pyproject.toml", ""), npm],
                "npm test",
            ),
            (
                &[("pyproject.toml", ""), ("package.json", NPM_PLACEHOLDER)],
                "python3 -m pytest -q",
            ),
            (
                &[make, ("go.mod", ""), ("setup.cfg", "")],
                "python3 -m pytest -q",
            ),
            (&[make, ("go.mod", "")], "go test ./..."),
        ];
        for (repo, expected) in cases {
            assert_eq!(detect(repo).as_deref(), Some(expected), "{repo:?}");
        }
    }

    #[test]
    fn the_repository_setting_beats_detection() {
        let files = vec!["Cargo.toml".to_owned()];
        let read = |_: &str| None;
        let (settings, warnings) =
            RepoSettings::parse("test_command: cargo test --workspace\n").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(
            test_command(&settings, &files, read).as_deref(),
            Some("cargo test --workspace")
        );
        assert_eq!(
            test_command(&RepoSettings::default(), &files, read).as_deref(),
            Some("cargo test")
        );
        let (blank, warnings) = RepoSettings::parse("test_command: '  '\n").unwrap();
        assert_eq!(blank.test_command, None);
        assert!(warnings[0].contains("blank"), "{warnings:?}");
        assert_eq!(
            test_command(&blank, &files, read).as_deref(),
            Some("cargo test")
        );
    }

    #[test]
    fn unknown_keys_are_warnings_not_errors() {
        let text = "# Orion settings\ntest_command: make check\ndeploy:\n  strict: true\n7: x\n";
        let (settings, warnings) = RepoSettings::parse(text).unwrap();
        assert_eq!(settings.test_command.as_deref(), Some("make check"));
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("unknown key `deploy` ignored"));
        assert!(warnings[0].starts_with(".github/orion.yml: "));
        assert!(warnings[1].contains("not a string (7)"), "{warnings:?}");
        for empty in ["", "# nothing yet\n", "---\n"] {
            assert_eq!(
                RepoSettings::parse(empty).unwrap(),
                (RepoSettings::default(), vec![])
            );
        }
    }

    #[test]
    fn invalid_yaml_names_the_file_and_line() {
        let err = RepoSettings::parse("test_command: cargo test\nreview: [unclosed\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(
            err.to_string().starts_with(".github/orion.yml line 3: "),
            "{err}"
        );
        let err = RepoSettings::parse("\n\ntest_command: [cargo, test]\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
        assert!(err.to_string().contains("test_command"), "{err}");
        let err = RepoSettings::parse("- cargo test\n").unwrap_err();
        assert!(err.to_string().contains("must be a mapping"), "{err}");
    }
}
