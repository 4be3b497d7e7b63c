//! `/orion …` commands in comments, found only where a person typed them: not inside code
//! blocks, inline code or quotes (someone quoting "/orion implement" is not asking for it).

/// A command Orion understands (or a word it does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Implement,
    Plan,
    Review,
    Fix,
    Retry,
    Stop,
    Status,
    Help,
    /// `/orion <word>` with an unknown word: answered with a "did you mean".
    Unknown(String),
}

impl Command {
    pub const KNOWN: [&'static str; 8] = [
        "implement",
        "plan",
        "review",
        "fix",
        "retry",
        "stop",
        "status",
        "help",
    ];

    fn from_word(word: &str) -> Self {
        match word.to_ascii_lowercase().as_str() {
            "implement" => Self::Implement,
            "plan" => Self::Plan,
            "review" => Self::Review,
            "fix" => Self::Fix,
            "retry" => Self::Retry,
            "stop" => Self::Stop,
            "status" => Self::Status,
            "help" | "" => Self::Help,
            _ => Self::Unknown(word.to_owned()),
        }
    }

    /// For an unknown word, the known command it most likely meant (edit distance ≤ 2).
    pub fn suggestion(word: &str) -> Option<&'static str> {
        let word = word.to_ascii_lowercase();
        Self::KNOWN
            .iter()
            .map(|k| (edit_distance(&word, k), *k))
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, k)| k)
    }
}

/// The first command in a comment body, with the rest of its line as arguments.
pub fn parse(body: &str) -> Option<(Command, String)> {
    let mut fence: Option<&str> = None;
    for line in body.lines() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(open) if open == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            continue;
        }
        // Quotes, and indented code blocks (four spaces or a tab before anything else).
        if trimmed.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("/orion") else {
            continue;
        };
        if !(rest.is_empty() || rest.starts_with(char::is_whitespace)) {
            continue; // `/orionx`
        }
        let mut words = rest.split_whitespace();
        let word = words.next().unwrap_or("");
        let args = words.collect::<Vec<_>>().join(" ");
        return Some((Command::from_word(word), args));
    }
    None
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_where_people_type_them() {
        assert_eq!(
            parse("/orion implement"),
            Some((Command::Implement, String::new()))
        );
        assert_eq!(
            parse("Thanks!\n\n/orion  Review please\n/orion stop"),
            Some((Command::Review, "please".into()))
        );
        assert_eq!(parse("/orion"), Some((Command::Help, String::new())));
        assert_eq!(
            parse("/orion implment"),
            Some((Command::Unknown("implment".into()), String::new()))
        );
    }

    #[test]
    fn code_quotes_and_lookalikes_are_not_commands() {
        for body in [
            "```\n/orion implement\n```",
            "~~~sh\n/orion implement\n~~~",
            "> /orion implement\nI disagree",
            "    /orion implement",
            "use `/orion implement` to start",
            "/orionbot implement",
            "please /orion implement",
        ] {
            assert_eq!(parse(body), None, "{body:?}");
        }
        // After a closed fence, commands count again.
        assert_eq!(
            parse("```\ncode\n```\n/orion status"),
            Some((Command::Status, String::new()))
        );
    }

    #[test]
    fn unknown_words_get_a_suggestion() {
        assert_eq!(Command::suggestion("implment"), Some("implement"));
        assert_eq!(Command::suggestion("stauts"), Some("status"));
        assert_eq!(Command::suggestion("deploy"), None);
    }
}
