//! What users read about a task: the sticky status comment, the pull request body, and the
//! per-task cost, all rendered from the stored task so every update shows the whole picture.

use std::collections::BTreeMap;
use std::fmt::Write;

use sqlx::Row;

use super::plan::Plan;
use super::task::{StepRecord, Task, TaskState};
use crate::store::Store;

/// Cost of one model on one task, from the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpend {
    pub model: String,
    pub tier: String,
    pub calls: u64,
    pub tokens: u64,
    pub usd: f64,
}

/// The task's model spend by model (every call counted, failed ones too: they were paid).
pub async fn spend(store: &Store, task_id: &str) -> anyhow::Result<Vec<ModelSpend>> {
    let rows = sqlx::query(
        "SELECT model, tier, COUNT(*) AS calls,
                SUM(input_tokens + output_tokens + cached_input_tokens + cache_write_tokens) AS tokens,
                SUM(cost_nusd) AS nusd
         FROM llm_calls WHERE task_id = $1 GROUP BY model, tier ORDER BY nusd DESC, model",
    )
    .bind(task_id)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .iter()
        .map(|r| ModelSpend {
            model: r.get("model"),
            tier: r.get("tier"),
            calls: r.get::<i64, _>("calls") as u64,
            tokens: r.get::<i64, _>("tokens") as u64,
            usd: r.get::<i64, _>("nusd") as f64 / 1e9,
        })
        .collect())
}

fn headline(task: &Task) -> &'static str {
    if task.plan_only && task.state == TaskState::Done {
        return "🗺️ The plan (not implemented yet)";
    }
    match task.state {
        TaskState::Queued => "👀 On it",
        TaskState::Triaging => "🔎 Reading the issue",
        TaskState::AwaitingInput => "❓ Waiting for an answer",
        TaskState::Planning => "🗺️ Planning",
        TaskState::Executing => "🛠️ Implementing",
        TaskState::Verifying => "🧪 Running the tests",
        TaskState::Reviewing => "🧐 Reviewing the change",
        TaskState::OpeningPr => "📬 Opening the pull request",
        TaskState::Done => "✅ Done",
        TaskState::Blocked => "⛔ Blocked: a human needs to decide",
        TaskState::Failed => "❌ Failed",
        TaskState::Cancelled => "⏹️ Stopped",
    }
}

fn checklist(plan: &Plan, steps: &[StepRecord]) -> String {
    let mut out = String::new();
    for step in &plan.steps {
        let record = steps.iter().find(|s| s.step_id == step.id);
        let (mark, note) = match record.map(|r| r.state.as_str()) {
            Some("done") => {
                let r = record.expect("matched");
                let sha = r.commit_sha.as_deref().map(|s| &s[..s.len().min(7)]);
                let model = r.model.as_deref().unwrap_or("?");
                let note = match sha {
                    Some(sha) => format!(" — `{sha}` ({model})"),
                    None => format!(" — no change needed ({model})"),
                };
                ("x", note)
            }
            Some("running") => (" ", " — in progress".to_owned()),
            Some("failed") => (
                " ",
                format!(
                    " — ❌ {}",
                    record.and_then(|r| r.error.as_deref()).unwrap_or("failed")
                ),
            ),
            _ => (" ", String::new()),
        };
        let _ = writeln!(out, "- [{mark}] `{}` {}{note}", step.id, step.goal.trim());
    }
    out
}

fn spend_table(spend: &[ModelSpend]) -> String {
    if spend.is_empty() {
        return "No model calls yet.\n".to_owned();
    }
    let total: f64 = spend.iter().map(|s| s.usd).sum();
    let mut out =
        String::from("| model | tier | calls | tokens | cost |\n|---|---|---:|---:|---:|\n");
    for s in spend {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | ${:.4} |",
            s.model, s.tier, s.calls, s.tokens, s.usd
        );
    }
    let _ = writeln!(out, "| **total** | | | | **${total:.4}** |");
    out
}

/// The sticky status comment.
pub fn status_comment(
    task: &Task,
    steps: &[StepRecord],
    spend: &[ModelSpend],
    dashboard: Option<&str>,
) -> String {
    let mut out = format!("### {}\n\n", headline(task));
    if let Some(url) = &task.pr_url {
        let _ = writeln!(out, "Pull request: {url}\n");
    }
    if let Some(detail) = &task.detail {
        let _ = writeln!(out, "{}\n", detail.trim());
    }
    if let Some(plan) = &task.plan {
        let _ = writeln!(out, "**Plan:** {}\n", plan.summary.trim());
        out.push_str(&checklist(plan, steps));
        out.push('\n');
    }
    let total: f64 = spend.iter().map(|s| s.usd).sum();
    let _ = write!(out, "<sub>Task {} · spent ${total:.4}", task.id);
    if let Some(url) = dashboard {
        let _ = write!(out, " · [dashboard]({url})");
    }
    out.push_str(" · `/orion stop` to stop it</sub>");
    out
}

/// The text of the task's check run: the plan as it ended, the tests and the cost.
pub fn check_run_text(
    task: &Task,
    steps: &[StepRecord],
    tests: &str,
    spend: &[ModelSpend],
) -> String {
    let mut out = String::new();
    if let Some(plan) = &task.plan {
        let _ = writeln!(out, "**Plan:** {}\n", plan.summary.trim());
        out.push_str(&checklist(plan, steps));
        out.push('\n');
    }
    out.push_str("## Tests\n\n");
    out.push_str(tests.trim());
    out.push_str("\n\n## Cost\n\n");
    out.push_str(&spend_table(spend));
    out
}

/// How much of the withheld workflow patch a PR body shows (GitHub caps a body at 65,536
/// characters, and the rest of the body must fit too).
const WITHHELD_PATCH_MAX: usize = 30_000;

/// The pull request body: what changed and why, the plan, the tests, what it cost, and the link
/// that closes the issue.
pub fn pull_request_body(
    task: &Task,
    steps: &[StepRecord],
    tests: &str,
    spend: &[ModelSpend],
    withheld: &BTreeMap<String, String>,
) -> String {
    let mut out = String::new();
    if let Some(plan) = &task.plan {
        let _ = writeln!(out, "{}\n", plan.summary.trim());
        out.push_str("## Plan\n\n");
        out.push_str(&checklist(plan, steps));
        out.push('\n');
    }
    out.push_str("## Tests\n\n");
    out.push_str(tests.trim());
    out.push_str("\n\n");
    if !withheld.is_empty() {
        out.push_str("## Withheld\n\nChanges to these workflow files were made but not pushed (`implement.allow_workflow_changes` is off); apply them by hand if you want them:\n\n");
        for path in withheld.keys() {
            let _ = writeln!(out, "- `{path}`");
        }
        out.push('\n');
        let patch: String = withheld.values().map(String::as_str).collect();
        if !patch.trim().is_empty() {
            let shown = if patch.len() > WITHHELD_PATCH_MAX {
                format!(
                    "{}\n… (cut at {} KB)",
                    crate::text::head(&patch, WITHHELD_PATCH_MAX),
                    WITHHELD_PATCH_MAX / 1000
                )
            } else {
                patch
            };
            let fence = crate::text::fence_for(&shown);
            let _ = writeln!(
                out,
                "<details><summary>The withheld change (apply with <code>git apply</code>)</summary>\n\n{fence}diff\n{}\n{fence}\n\n</details>\n",
                shown.trim_end()
            );
        }
    }
    out.push_str("## Cost\n\n");
    out.push_str(&spend_table(spend));
    let requester = match task.origin {
        super::task::Origin::GitHub => format!("@{}", task.requested_by),
        super::task::Origin::Linear(_) => task.requested_by.clone(),
    };
    let _ = write!(
        out,
        "\n{}\n\n<sub>Opened by Orion for {requester} (task {}). Review it like any other PR; Orion never merges.</sub>",
        super::tracker::closing_line(task),
        task.id
    );
    out
}
