//! Loop detection: a model that makes the same failing call again and again is stuck, and every
//! further turn only spends budget. Calls are keyed by tool name and canonical arguments, so
//! `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same call.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

#[derive(Debug)]
pub(super) struct Repeats {
    limit: u32,
    failures: HashMap<String, u32>,
}

impl Repeats {
    pub(super) fn new(limit: u32) -> Self {
        Self {
            limit,
            failures: HashMap::new(),
        }
    }

    /// Counts a failure; returns how many times this call has now failed once that reaches the
    /// limit. Failures of other calls in between do not reset the count: alternating between two
    /// failing calls is a loop too.
    pub(super) fn failed(&mut self, name: &str, args: &Value) -> Option<u32> {
        let count = self.failures.entry(key(name, args)).or_default();
        *count += 1;
        (*count >= self.limit).then_some(*count)
    }

    /// The call worked, so whatever made it fail before has changed.
    pub(super) fn succeeded(&mut self, name: &str, args: &Value) {
        self.failures.remove(&key(name, args));
    }

    /// The worktree changed, so any earlier failure may now go differently.
    pub(super) fn forget_all(&mut self) {
        self.failures.clear();
    }
}

fn key(name: &str, args: &Value) -> String {
    format!("{name} {}", canonical_json(args))
}

/// JSON with object keys sorted at every level, whatever order the model wrote them in (and
/// whether or not serde_json was built to preserve insertion order).
pub(super) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(key.clone()));
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let value = json!({"b": [{"z": 1, "a": "x\"y"}], "a": null});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#
        );
    }

    #[test]
    fn the_limit_is_reached_by_the_same_call_only() {
        let mut repeats = Repeats::new(2);
        let args = json!({"path": "a"});
        assert_eq!(repeats.failed("read_file", &args), None);
        assert_eq!(repeats.failed("read_file", &json!({"path": "b"})), None);
        assert_eq!(repeats.failed("list_files", &args), None);
        assert_eq!(repeats.failed("read_file", &args), Some(2));
    }
}
