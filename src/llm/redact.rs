//! Secret redaction for every text sent to a language model.
//!
//! Prompts are built from repository files, issues, CI logs and configuration,
//! any of which can hold credentials; once in a prompt a secret has left our
//! control (provider logs, model output). So all prompt text goes through
//! [`Redactor::redact`], which runs three passes, each replacing a match with
//! `[REDACTED:<kind>]`:
//!
//! 1. **Configured values** (`secret`): exact strings known at start-up. All
//!    occurrences of all values are collected and overlapping spans merged, so
//!    a value that is a prefix of (or overlaps) another leaves no fragment.
//! 2. **Token shapes**: GitHub, AWS, OpenAI, Anthropic, Slack, PEM private keys,
//!    `Bearer` tokens. After a telling key (`aws_secret_access_key = …`,
//!    `Bearer …`) only the value is replaced, so the code stays readable.
//! 3. **Generic assignments** (`generic-secret`) like `password = "…"`, last so
//!    known shapes keep their precise kind and redacted values are left alone.
//!
//! The generic pass spares code: a value is kept when it is a placeholder
//! (starts with `$ % < {` or contains `${`, `{{`, `$(`) or, if *unquoted*, when
//! it contains `( [ { $ <` (call, index, generic type) or is a digit-free
//! identifier path such as `config.api_key`, `None` or `SecretString,`. Quoted
//! values are literals and always redacted. The price: an unquoted digit-free
//! password in a `.env` file survives; configure such values explicitly.
//!
//! Patterns are compiled once per process; text without matches comes back as
//! [`Cow::Borrowed`] without allocating.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

/// Configured values shorter than this are ignored: they would redact
/// ordinary words and make prompts unreadable.
const MIN_SECRET_CHARS: usize = 8;

/// Capture group of [`TOKEN_SHAPES`] → replacement kind, in pattern order.
const SHAPE_KINDS: [(&str, &str); 8] = [
    ("pem", "private-key"),
    ("github", "github-token"),
    ("aws_key", "aws-access-key"),
    ("aws_secret", "aws-secret"),
    ("anthropic", "anthropic-key"),
    ("openai", "openai-key"),
    ("bearer", "bearer-token"),
    ("slack", "slack-token"),
];

/// Compiles a pattern, making every `\b` an ASCII word boundary: Unicode
/// boundaries would push the regex engine off its fast path on any non-ASCII
/// prompt, and all tokens we look for are ASCII anyway.
fn compile(pattern: &str) -> Regex {
    Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).expect("redaction pattern is valid")
}

/// Token shapes, one alternation so a text is scanned once. At equal start
/// positions the earlier alternative wins, which is why Anthropic precedes
/// OpenAI. Only the named group is replaced; text around it is kept.
static TOKEN_SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?P<pem>(?s:-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?",
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)))",
        r"|(?P<github>\bgh[pousr]_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{22,})",
        r"|(?P<aws_key>\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)",
        r#"|(?i:\baws_secret_access_key)["' \t]*[=:]["' \t]*(?P<aws_secret>[A-Za-z0-9/+=]{40})"#,
        r"|(?P<anthropic>\bsk-ant-[A-Za-z0-9_-]{20,})",
        r"|(?P<openai>\bsk-[A-Za-z0-9_-]{20,})",
        r"|(?i:\bbearer)[ \t]+(?P<bearer>[A-Za-z0-9._~+/-]{20,}=*)",
        r"|(?P<slack>\bxox[baprs]-[A-Za-z0-9-]{10,})",
    ))
});

/// `key <sep> value` where the key ends in a secret-ish word, optionally
/// prefixed by `DB_`, `GITHUB_`, `x-` and similar segments (`GITHUB_TOKEN=`,
/// `X-Api-Key:`), followed by `=`, `:`, `:=` or `=>`.
static GENERIC_ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?i)\b(?:[a-z0-9]+[_-])*(?:passw(?:or)?d|secret|api[_-]?key|token)\b",
        r#"["']?[ \t]*(?:=>|:=|=|:)[ \t]*(?P<quote>["'`]?)(?P<value>[^\s"'`]{8,})"#,
    ))
});

/// Removes configured secret values and common credential shapes from text
/// before it is put into an LLM prompt.
///
/// Cheap to clone (the patterns are process-wide statics; only the configured
/// values are owned). `Debug` prints how many values are configured, never the
/// values themselves, so the redactor can sit inside logged config structs.
#[derive(Clone)]
pub struct Redactor {
    /// Sorted, deduplicated values of at least [`MIN_SECRET_CHARS`] chars.
    secrets: Vec<String>,
}

impl Redactor {
    /// Builds a redactor for the given secret values (webhook secrets, API keys
    /// from the environment) in addition to the built-in token patterns.
    ///
    /// Empty values, duplicates and values shorter than 8 characters are
    /// ignored: a short value such as `admin` would redact ordinary words.
    pub fn new<I, S>(secret_values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secret_values
            .into_iter()
            .map(Into::into)
            .filter(|v| v.chars().count() >= MIN_SECRET_CHARS)
            .collect();
        secrets.sort_unstable();
        secrets.dedup();
        Self { secrets }
    }

    /// Returns `text` with every configured value and recognised credential
    /// replaced by `[REDACTED:<kind>]`.
    ///
    /// Returns [`Cow::Borrowed`] when nothing matched, so the common case costs
    /// no allocation. Redacting already redacted text changes nothing.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let text = then(Cow::Borrowed(text), |t| splice(t, self.configured_spans(t)));
        let text = then(text, |t| splice(t, shape_spans(t)));
        then(text, |t| splice(t, generic_spans(t)))
    }

    /// Byte ranges of all occurrences of all configured values, merged so
    /// overlapping or adjacent values become one span and leave no fragment.
    fn configured_spans(&self, text: &str) -> Vec<(Range<usize>, &'static str)> {
        let mut spans = Vec::new();
        for value in &self.secrets {
            spans.extend(
                text.match_indices(value.as_str())
                    .map(|(i, v)| i..i + v.len()),
            );
        }
        spans.sort_unstable_by_key(|r| r.start);
        let mut merged: Vec<(Range<usize>, &'static str)> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some((last, _)) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push((span, "secret")),
            }
        }
        merged
    }
}

impl Default for Redactor {
    /// A redactor without configured values: only the built-in patterns apply.
    /// Useful in tests and for texts that cannot contain our own secrets.
    fn default() -> Self {
        Self::new(std::iter::empty::<String>())
    }
}

impl fmt::Debug for Redactor {
    /// Prints only the number of configured values: the values are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("configured_secrets", &self.secrets.len())
            .finish()
    }
}

/// Runs one pass, keeping the previous `Cow` (and its borrow) if it changed nothing.
fn then<'a>(prev: Cow<'a, str>, pass: impl FnOnce(&str) -> Option<String>) -> Cow<'a, str> {
    match pass(&prev) {
        Some(changed) => Cow::Owned(changed),
        None => prev,
    }
}

/// Replaces sorted, non-overlapping spans with markers; `None` if there were none.
fn splice<I>(text: &str, spans: I) -> Option<String>
where
    I: IntoIterator<Item = (Range<usize>, &'static str)>,
{
    let mut out: Option<String> = None;
    let mut last = 0;
    for (span, kind) in spans {
        let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
        buf.extend([&text[last..span.start], "[REDACTED:", kind, "]"]);
        last = span.end;
    }
    let mut buf = out?;
    buf.push_str(&text[last..]);
    Some(buf)
}

/// Spans of the token-shape pass, each with the kind of its alternative.
fn shape_spans(text: &str) -> impl Iterator<Item = (Range<usize>, &'static str)> + '_ {
    TOKEN_SHAPES.captures_iter(text).filter_map(|caps| {
        SHAPE_KINDS
            .iter()
            .find_map(|&(group, kind)| caps.name(group).map(|m| (m.range(), kind)))
    })
}

/// Spans of generic assignment values that do not look like code.
fn generic_spans(text: &str) -> impl Iterator<Item = (Range<usize>, &'static str)> + '_ {
    GENERIC_ASSIGNMENT.captures_iter(text).filter_map(|caps| {
        let value = caps.name("value")?;
        let quoted = !caps["quote"].is_empty();
        (!looks_like_code(value.as_str(), quoted)).then(|| (value.range(), "generic-secret"))
    })
}

/// Whether an assigned value is an expression, placeholder or earlier redaction
/// rather than a literal secret (see the module docs for the rule).
fn looks_like_code(value: &str, quoted: bool) -> bool {
    const PLACEHOLDERS: [&str; 4] = ["${", "{{", "$(", "[REDACTED:"];
    if value.starts_with(['$', '%', '<', '{']) || PLACEHOLDERS.iter().any(|p| value.contains(p)) {
        return true;
    }
    let ident = value.trim_matches(['&', '*', ',', ';']);
    let is_ident = ident.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_alphabetic() || "_.:".contains(c));
    !quoted && (is_ident || value.contains(['(', '[', '{', '$', '<']))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        Redactor::default().redact(text).into_owned()
    }

    /// Fills the template's `§` with `secret` and asserts that exactly that
    /// part became `[REDACTED:kind]` while every other character was kept.
    fn check(template: &str, secret: &str, kind: &str) {
        let out = redact(&template.replace('§', secret));
        assert_eq!(out, template.replace('§', &format!("[REDACTED:{kind}]")));
    }

    #[test]
    fn every_token_shape_is_redacted_in_context() {
        for p in ["ghp", "gho", "ghu", "ghs", "ghr"] {
            let token = format!("{p}_{}", "a1B2".repeat(9));
            check(
                "git clone https://x:§@github.com/o/r",
                &token,
                "github-token",
            );
        }
        check(
            "GH=§ #",
            &format!("github_pat_{}", "11AbC_dEf9".repeat(4)),
            "github-token",
        );
        check(
            "key id §.",
            &format!("AKIA{}", "Q7XZ".repeat(4)),
            "aws-access-key",
        );
        let aws_secret = "wJal/K7+".repeat(5);
        check("aws_secret_access_key = \"§\"\n", &aws_secret, "aws-secret");
        check("AWS_SECRET_ACCESS_KEY: §", &aws_secret, "aws-secret");
        let anthropic = format!("sk-ant-api03-{}", "Zx9_-q".repeat(5));
        check("export ANTHROPIC_API_KEY=§\n", &anthropic, "anthropic-key");
        for infix in ["", "proj-", "svcacct-"] {
            let key = format!("sk-{infix}{}", "T3bL8kQ".repeat(4));
            check("OpenAI(api_key=\"§\")", &key, "openai-key");
        }
        let (begin, end) = ("-----BEGIN", "PRIVATE KEY-----");
        for k in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "] {
            let pem = format!("{begin} {k}{end}\nMIIEpA\nq9+/=\n-----END {k}{end}");
            check("key:\n§\nnext", &pem, "private-key");
        }
        check(
            "log: §",
            &format!("{begin} RSA {end}\nMIIEpA\nq9"),
            "private-key",
        );
        let jwt = format!("eyJ{}.eyJ{}.s_-x1", "hbG".repeat(7), "zdW".repeat(7));
        check("Authorization: Bearer §\r\n", &jwt, "bearer-token");
        check("curl -H 'authorization: bearer §'", &jwt, "bearer-token");
        check(
            "SLACK=§ ok",
            &format!("xoxb-{}", "1234-abcd".repeat(3)),
            "slack-token",
        );
        // A known shape assigned to a generic key keeps its precise kind.
        check(
            "token = §",
            &format!("ghp_{}", "a1B2".repeat(9)),
            "github-token",
        );
        let glued = format!("ASIA{}x", "Q7XZ".repeat(4)); // no word boundary
        for text in [
            &glued,
            "-----BEGIN PUBLIC KEY-----\nMIIB\n",
            "the bearer of it",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn generic_assignments_keep_key_and_quotes() {
        let templates = "password = \"§\"\nsecret: §\napi_key=§\ntoken = '§'\nDB_PASSWORD=§
{\"client_secret\": \"§\"}\nX-Api-Key: §\nauth_token => §";
        for template in templates.lines() {
            check(template, "hunter2-Correct-Horse", "generic-secret");
        }
        check("passwd := `§`", "onlyletters", "generic-secret"); // quoted literal
    }

    #[test]
    fn generic_skips_code_and_placeholders() {
        let code = "password = None\ntoken = os.environ[\"GITHUB_TOKEN\"]
api_key = config.api_key\ntoken = os.getenv('TOKEN', 'default')
secret: ${{ secrets.WEBHOOK_SECRET }}\npassword: String,\nclient_secret: SecretString,
api_key: Option<String>,\npassword = \"${DB_PASSWORD}\"\ntoken = \"{{ csrf_token }}\"
max_tokens = 4096\ntoken_count = 12345678";
        for line in code.lines() {
            assert_eq!(redact(line), line);
        }
        assert!(matches!(Redactor::default().redact(code), Cow::Borrowed(_)));
    }

    #[test]
    fn configured_values_everywhere_and_longest_wins() {
        let r = Redactor::new(["whsec_0123456789", "whsec_0123456789abcdef", "short", ""]);
        let out = r.redact("sig=whsec_0123456789abcdef;x=whsec_0123456789 end");
        assert_eq!(out, "sig=[REDACTED:secret];x=[REDACTED:secret] end");
        assert!(matches!(r.redact("a short note"), Cow::Borrowed(_)));
        // Overlapping values that are not prefixes leave no fragment behind.
        let r = Redactor::new(["abcdefgh12", "12345678xyz"]);
        assert_eq!(r.redact("[abcdefgh12345678xyz]"), "[[REDACTED:secret]]");
    }

    #[test]
    fn debug_hides_values_and_counts_unique() {
        let r = Redactor::new(["hush-value-1", "hush-value-1", "hush-value-2", "tiny"]);
        let debug = format!("{r:?}");
        assert!(!debug.contains("hush"), "{debug}");
        assert_eq!(debug, "Redactor { configured_secrets: 2 }");
    }

    #[test]
    fn ordinary_code_is_borrowed() {
        let code = r#"
fn connect(token: &str, password: &str) -> Result<Client> {
    let token = std::env::var("GITHUB_TOKEN")?;
    let headers = format!("Bearer {token}");
    let sha = "3f786850e387550fdab836ed7e6dc881de23001b";
    let id = "123e4567-e89b-12d3-a456-426614174000";
    let img = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk";
    Client::new(token, password, max_tokens = 4096)
}
def login(user, password):
    self.api_key = settings.API_KEY
    return requests.post(url, headers={"Authorization": f"Bearer {token}"})
"#;
        let r = Redactor::new(["configured-but-absent"]);
        assert!(matches!(r.redact(code), Cow::Borrowed(_)));
    }

    #[test]
    fn redaction_is_idempotent() {
        let text = format!(
            "password = \"p4ssw0rd-XYZ\"\nAuthorization: Bearer {}\ntoken={}\n\
             aws_secret_access_key={}\nsk: {}\nmy-configured-secret",
            "tok.".repeat(6),
            format_args!("xoxp-{}", "9a".repeat(8)),
            "AbCd/+12".repeat(5),
            format_args!("sk-ant-{}", "q".repeat(24)),
        );
        let r = Redactor::new(["my-configured-secret"]);
        let once = r.redact(&text).into_owned();
        assert_eq!(once.matches("[REDACTED:").count(), 6, "{once}");
        assert!(matches!(r.redact(&once), Cow::Borrowed(_)), "{once}");
    }
}
