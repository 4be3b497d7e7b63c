//! A report as text: Markdown for the GitHub issue and the Linear comment, Slack's `mrkdwn` for
//! the webhook. One layout, two dialects; the output depends only on the report (no clock, no
//! map order), so a snapshot pins it.

use std::fmt::Write;

use super::edition::Edition;
use super::gather::Report;
use crate::llm::ledger::SpendRow;
use crate::web::data::{BudgetGauge, Level, TaskRow};

/// Characters of a reason or question kept on its line; the task's issue has the rest.
const DETAIL_CHARS: usize = 280;
/// GitHub's body limit is 65,536 characters; the section caps keep a report far below, and this
/// bounds what no cap foresaw (very long titles).
const MARKDOWN_MAX_BYTES: usize = 60_000;
/// Slack cuts a message's `text` at 40,000 characters.
const SLACK_MAX_BYTES: usize = 39_000;

/// The dialect a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// CommonMark as GitHub and Linear render it.
    Markdown,
    /// Slack's `mrkdwn`: `*bold*`, `<url|text>`, `&`, `<`, `>` escaped.
    Slack,
}

impl Dialect {
    /// Text from the database (titles, reasons) as plain text: nothing in it formats, links or
    /// mentions. A mention in an issue body would notify its person at every edit, so `@` is
    /// followed by a zero-width space on GitHub and Linear.
    fn text(self, raw: &str) -> String {
        let mut out = String::with_capacity(raw.len());
        for c in raw.chars() {
            match (self, c) {
                (Self::Markdown, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~') => {
                    out.push('\\');
                    out.push(c);
                }
                (Self::Markdown, '@') => out.push_str("@\u{200b}"),
                (Self::Slack, '&') => out.push_str("&amp;"),
                (Self::Slack, '<') => out.push_str("&lt;"),
                (Self::Slack, '>') => out.push_str("&gt;"),
                _ => out.push(c),
            }
        }
        out
    }

    fn bold(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("**{text}**"),
            Self::Slack => format!("*{text}*"),
        }
    }

    /// A code span; its text cannot close it early.
    fn code(self, raw: &str) -> String {
        let inner: String = raw.chars().filter(|c| *c != '`').collect();
        match self {
            Self::Markdown => format!("`{inner}`"),
            Self::Slack => format!("`{}`", self.text(&inner)),
        }
    }

    fn link(self, url: &str, text: &str) -> String {
        match self {
            Self::Markdown => format!("[{text}]({})", url.replace(' ', "%20").replace(')', "%29")),
            Self::Slack => format!("<{}|{text}>", url.replace('|', "%7C").replace('>', "%3E")),
        }
    }

    fn title(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("## {text}\n\n"),
            Self::Slack => format!("{}\n", self.bold(text)),
        }
    }

    /// A label over a list: a paragraph of its own in Markdown, or the list's first item would
    /// continue the list before it.
    fn label(self, out: &mut String, text: &str) {
        match self {
            Self::Markdown => {
                if !out.ends_with("\n\n") {
                    out.push('\n');
                }
                let _ = write!(out, "{}\n\n", self.bold(text));
            }
            Self::Slack => {
                let _ = writeln!(out, "{}", self.bold(text));
            }
        }
    }

    fn heading(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("\n### {text}\n\n"),
            Self::Slack => format!("\n{}\n", self.bold(text)),
        }
    }

    fn item(self, text: &str) -> String {
        match self {
            Self::Markdown => format!("- {text}\n"),
            Self::Slack => format!("• {text}\n"),
        }
    }
}

/// The report in Markdown: the GitHub issue's body and the Linear comment.
pub fn markdown(report: &Report, max_items: usize) -> String {
    let text = render(report, Dialect::Markdown, max_items);
    cut(text, MARKDOWN_MAX_BYTES)
}

/// The webhook's payload: Slack's `{"text": …}` in `mrkdwn`, which Mattermost, Rocket.Chat,
/// Discord's `/slack` endpoint and Teams' Slack-compatible connectors read too.
pub fn slack_payload(report: &Report, max_items: usize) -> serde_json::Value {
    let text = cut(render(report, Dialect::Slack, max_items), SLACK_MAX_BYTES);
    serde_json::json!({ "text": text })
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        text.truncate(crate::text::floor_char_boundary(&text, max));
        text.push_str("\n… (cut: the report is too long for one message)\n");
    }
    text
}

/// The report in `dialect`, listing at most `max_items` tasks per section.
pub fn render(report: &Report, d: Dialect, max_items: usize) -> String {
    let mut out = String::new();
    let at = &report.at;
    let title = match report.edition {
        Edition::Weekly => format!(
            "Orion weekly summary · week to {}",
            at.format("%a %-d %b %Y")
        ),
        edition => format!("Orion {} · {}", edition.title(), at.format("%a %-d %b %Y")),
    };
    out.push_str(&d.title(&title));
    let since = match report.edition {
        Edition::Weekly => format!(
            "over the seven days since {}",
            report
                .window
                .from
                .with_timezone(&at.timezone())
                .format("%a %-d %b")
        ),
        _ => "since midnight".to_owned(),
    };
    let count = |n: usize, what: &str| format!("{} {what}", d.bold(&n.to_string()));
    let _ = writeln!(
        out,
        "As of {} {}, {since}: {} · {} · {} · {} · {} · {} spent",
        at.format("%H:%M"),
        at.timezone().name(),
        count(report.completed.len(), "done"),
        count(report.in_progress.len(), "in progress"),
        count(report.blocked.len(), "blocked"),
        count(report.failed.len(), "failed"),
        count(report.waiting.len(), "waiting"),
        d.bold(&usd(report.spent_usd())),
    );

    let sections: [(&str, &[TaskRow], Line); 4] = [
        ("Completed", &report.completed, completed),
        ("In progress", &report.in_progress, in_progress),
        ("Blocked", &report.blocked, stopped),
        ("Failed", &report.failed, stopped),
    ];
    for (name, tasks, line) in sections {
        out.push_str(&d.heading(&format!("{name} ({})", tasks.len())));
        list(&mut out, d, tasks, max_items, line);
    }

    let period = match report.edition {
        Edition::Weekly => "this week",
        _ => "today",
    };
    out.push_str(&d.heading(&format!(
        "Tokens and spend {period}: {}",
        usd(report.spent_usd())
    )));
    if report.by_tier.is_empty() {
        out.push_str("No model calls.\n");
    } else {
        for (name, rows) in [("By tier", &report.by_tier), ("By model", &report.by_model)] {
            d.label(&mut out, name);
            for row in rows.iter().take(max_items) {
                out.push_str(&d.item(&spend_line(d, row)));
            }
            more(&mut out, d, rows.len(), max_items);
        }
    }
    d.label(&mut out, "Budgets (UTC day and month, as enforced)");
    if report.budgets.is_empty() {
        out.push_str("No budget limits are configured.\n");
    }
    for gauge in report.budgets.iter().take(max_items) {
        out.push_str(&d.item(&budget_line(d, gauge)));
    }
    more(&mut out, d, report.budgets.len(), max_items);

    out.push_str(&d.heading(&format!(
        "{} ({})",
        report.edition.queue_title(),
        report.waiting.len()
    )));
    list(&mut out, d, &report.waiting, max_items, waiting);
    let mut jobs = format!("{} job(s) queued", report.queued_jobs);
    if let Some(due) = report
        .oldest_due_at
        .and_then(chrono::DateTime::from_timestamp_millis)
    {
        let _ = write!(
            jobs,
            ", the oldest due since {}",
            due.with_timezone(&at.timezone()).format("%a %-d %b %H:%M")
        );
    }
    if report.dead_jobs > 0 {
        let _ = write!(
            jobs,
            " · {} dead job(s): `orion status` lists them",
            report.dead_jobs
        );
    }
    let _ = writeln!(out, "\n{jobs}");
    out
}

/// How a section writes one task.
type Line = fn(Dialect, &TaskRow) -> String;

fn list(out: &mut String, d: Dialect, tasks: &[TaskRow], max_items: usize, line: Line) {
    if tasks.is_empty() {
        // Italic in both dialects.
        out.push_str("_None._\n");
    }
    for task in tasks.iter().take(max_items) {
        out.push_str(&d.item(&line(d, task)));
    }
    more(out, d, tasks.len(), max_items);
}

fn more(out: &mut String, d: Dialect, total: usize, shown: usize) {
    if total > shown {
        out.push_str(&d.item(&format!("… and {} more", total - shown)));
    }
}

/// `acme/widgets#7 Paint the widgets`: GitHub links the reference by itself. A Linear issue
/// is its identifier, linked: `ENG-7 (acme/widgets) Paint the widgets`.
fn task_name(d: Dialect, task: &TaskRow) -> String {
    match &task.issue_url {
        Some(url) if url.starts_with("https://") => format!(
            "{} ({}) {}",
            d.link(url, &d.text(&task.issue_ref)),
            task.repo,
            d.text(&task.title)
        ),
        _ => format!("{}#{} {}", task.repo, task.issue, d.text(&task.title)),
    }
}

fn completed(d: Dialect, task: &TaskRow) -> String {
    let pull = match (&task.pr_url, task.pr_number) {
        (Some(url), Some(n)) => d.link(url, &format!("PR #{n}")),
        (Some(url), None) => d.link(url, "pull request"),
        (None, Some(n)) => format!("PR #{n}"),
        (None, None) => "no pull request".to_owned(),
    };
    format!("{}: {pull} · {}", task_name(d, task), usd(task.spend_usd))
}

fn in_progress(d: Dialect, task: &TaskRow) -> String {
    let mut line = format!("{}: {}", task_name(d, task), state(&task.state));
    if let Some(step) = &task.current_step {
        let _ = write!(line, ", step {}", d.code(step));
        if let Some(state) = &task.current_step_state {
            let _ = write!(line, " ({state})");
        }
    }
    let _ = write!(line, " · {}", usd(task.spend_usd));
    line
}

/// A blocked or failed task and why.
fn stopped(d: Dialect, task: &TaskRow) -> String {
    format!("{}: {}", task_name(d, task), reason(d, task))
}

fn waiting(d: Dialect, task: &TaskRow) -> String {
    match task.state.as_str() {
        "awaiting_input" => format!(
            "{}: awaiting an answer: {}",
            task_name(d, task),
            reason(d, task)
        ),
        other => format!("{}: {}", task_name(d, task), state(other)),
    }
}

fn state(state: &str) -> String {
    state.replace('_', " ")
}

/// The task's detail on one line, cut to [`DETAIL_CHARS`].
fn reason(d: Dialect, task: &TaskRow) -> String {
    let Some(detail) = task.detail.as_deref().filter(|t| !t.trim().is_empty()) else {
        return "no reason recorded".to_owned();
    };
    let one_line = detail.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut cut: String = one_line.chars().take(DETAIL_CHARS).collect();
    if cut.len() < one_line.len() {
        cut.push('…');
    }
    d.text(&cut)
}

fn spend_line(d: Dialect, row: &SpendRow) -> String {
    let mut line = format!(
        "{}: {} · {} call(s)",
        d.text(&row.key),
        usd(row.usd),
        row.calls
    );
    if row.failed_calls > 0 {
        let _ = write!(line, " ({} failed)", row.failed_calls);
    }
    let _ = write!(line, " · {} input tokens", thousands(row.input_tokens));
    if row.cached_input_tokens > 0 {
        let _ = write!(line, " ({} cached)", thousands(row.cached_input_tokens));
    }
    let _ = write!(line, " · {} output", thousands(row.output_tokens));
    line
}

fn budget_line(d: Dialect, gauge: &BudgetGauge) -> String {
    let light = match gauge.level {
        Level::Ok => "🟢",
        Level::Warn => "🟡",
        Level::Stop => "🔴",
    };
    let share = if gauge.limit_usd > 0.0 {
        format!(" ({:.0}%)", gauge.spent_usd / gauge.limit_usd * 100.0)
    } else {
        String::new()
    };
    format!(
        "{light} {} {}: {} of {}{share}",
        d.text(&gauge.installation),
        gauge.period,
        usd(gauge.spent_usd),
        usd(gauge.limit_usd)
    )
}

/// Dollars with cents; a spend too small to show a cent says so rather than `$0.00`.
fn usd(amount: f64) -> String {
    if amount > 0.0 && amount < 0.005 {
        "<$0.01".to_owned()
    } else {
        format!("${amount:.2}")
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_database_cannot_format_link_or_mention() {
        let raw = "Fix *all* <b>bugs</b> [now](x) & ping @octo";
        assert_eq!(
            Dialect::Markdown.text(raw),
            "Fix \\*all\\* \\<b\\>bugs\\</b\\> \\[now\\](x) & ping @\u{200b}octo"
        );
        assert_eq!(
            Dialect::Slack.text(raw),
            "Fix *all* &lt;b&gt;bugs&lt;/b&gt; [now](x) &amp; ping @octo"
        );
        assert_eq!(Dialect::Markdown.code("a`b"), "`ab`");
        assert_eq!(
            Dialect::Slack.link("https://x.test/a|b", "PR #1"),
            "<https://x.test/a%7Cb|PR #1>"
        );
    }

    #[test]
    fn numbers_read_like_money_and_counts() {
        assert_eq!(usd(0.0), "$0.00");
        assert_eq!(usd(0.004), "<$0.01");
        assert_eq!(usd(1.754), "$1.75");
        assert_eq!(usd(12.0), "$12.00");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-12_345), "-12,345");
    }

    #[test]
    fn long_reports_are_cut_on_a_character_boundary() {
        let text = "é".repeat(10);
        let cut = cut(text, 5);
        assert!(cut.starts_with("éé\n… (cut"), "{cut}");
    }
}
