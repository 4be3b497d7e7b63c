//! The dev agent: one plan step done by a model in a tool loop over the task's worktree.
//!
//! The loop gives the model the workspace tools ([`super::tools`]) and `run_command` (the
//! sandbox), feeds back every result, and ends when the model calls `finish`. It is bounded per
//! attempt (tool calls, tokens, wall time) and stops early on a repeated identical failing
//! action. A failed attempt's edits are thrown away and the step escalates to the next model
//! rung, up to the model layer's attempt cap.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::tools::{Limits, ToolResult, Toolbox, run_command_spec};
use crate::git::TaskWorkspace;
use crate::llm::{
    AttemptOutcome, Blocked, CallError, ChatRequest, Llm, Message, Part, ProviderError, StopReason,
    TaskSpec, Usage,
};
use crate::sandbox::{RunSpec, Sandbox};

/// Bounds on one attempt of a step.
#[derive(Debug, Clone, Copy)]
pub struct StepLimits {
    pub max_tool_calls: u32,
    pub max_tokens: u64,
    pub timeout: Duration,
}

/// What an agent step needs around it.
pub struct StepContext<'a> {
    pub llm: &'a Llm,
    pub sandbox: &'a Sandbox,
    /// The task's checkout: the agent's files, and what a failed attempt is reset to.
    pub workspace: &'a TaskWorkspace,
    /// Paths commands may read besides the worktree (the git mirror its `.git` file points to).
    pub read_only: Vec<PathBuf>,
    pub spec: TaskSpec,
    pub limits: StepLimits,
    pub cancel: &'a CancellationToken,
    /// Held around commits and resets of the shared worktree: parallel steps share one index.
    pub git_lock: &'a tokio::sync::Mutex<()>,
    /// A retry of a step whose earlier run used up its attempts: `(model, why)` of its last
    /// failure, so this run starts above that model.
    pub retry_above: Option<(String, String)>,
}

/// A step the agent finished.
#[derive(Debug, Clone)]
pub struct StepDone {
    pub summary: String,
    pub changed_files: Vec<String>,
    pub model: String,
    pub attempts: u32,
    pub usage: Usage,
    pub cost_usd: f64,
}

/// Why a step did not finish.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// The model layer stopped the task: top of the ladder, budget.
    #[error(transparent)]
    Blocked(#[from] Blocked),
    /// Every attempt the model layer allows failed, the last on `last_model`: a stronger
    /// model may still be tried (see [`StepContext::retry_above`]).
    #[error("{blocked}")]
    OutOfAttempts {
        blocked: Blocked,
        last_model: String,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Workspace(String),
}

/// How one attempt ended.
enum AttemptEnd {
    Finished(String),
    Failed(String),
    Unusable(ProviderError),
}

/// Runs one step: attempts on models up the ladder until one calls `finish`.
pub async fn run_step(
    ctx: &StepContext<'_>,
    system: &str,
    user: &str,
) -> Result<StepDone, StepError> {
    let mut run = ctx.llm.task(ctx.spec.clone());
    if let Some((model, why)) = &ctx.retry_above {
        run = run.above(model, why);
    }
    let mut tools = super::tools::Toolbox::specs();
    tools.push(run_command_spec());
    let mut total = Usage::default();
    let mut cost = 0.0;
    let mut last_model = None;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let mut req = ChatRequest::new(system, vec![Message::user(user)]);
        req.tools = tools.clone();
        req.max_output_tokens = 8192;
        let mut attempt = match run.begin(&req).await {
            Ok(a) => a,
            Err(blocked) => {
                return Err(match (blocked, last_model) {
                    (blocked @ Blocked::AttemptCap { .. }, Some(last_model)) => {
                        StepError::OutOfAttempts {
                            blocked,
                            last_model,
                        }
                    }
                    (blocked, _) => StepError::Blocked(blocked),
                });
            }
        };
        let model = attempt.model().to_owned();
        last_model = Some(model.clone());
        let mut toolbox = Toolbox::new(ctx.workspace.path(), Limits::default())
            .map_err(|e| StepError::Workspace(format!("opening the worktree: {e}")))?;
        let end = attempt_loop(ctx, &mut run, &mut attempt, &mut req, &mut toolbox).await;
        total.add(attempt.usage());
        cost += attempt.cost_usd();
        match end {
            Ok(AttemptEnd::Finished(summary)) => {
                run.finish(attempt, AttemptOutcome::Succeeded).await;
                return Ok(StepDone {
                    summary,
                    changed_files: toolbox.changed_files(),
                    model,
                    attempts: run.attempts(),
                    usage: total,
                    cost_usd: cost,
                });
            }
            Ok(AttemptEnd::Failed(why)) => {
                tracing::info!(task = %ctx.spec.id, %model, %why, "agent attempt failed");
                run.finish(attempt, AttemptOutcome::Failed(why)).await;
            }
            Ok(AttemptEnd::Unusable(e)) => {
                run.finish(attempt, AttemptOutcome::Error(e)).await;
            }
            Err(e) => {
                // Blocked mid-attempt (budget) or cancelled: the attempt is neither a success
                // nor the model's failure.
                run.finish(
                    attempt,
                    AttemptOutcome::Error(ProviderError::Unreachable {
                        message: e.to_string(),
                    }),
                )
                .await;
                return Err(e);
            }
        }
        // A failed attempt's edits must not leak into the next model's start. Only its own
        // files: other steps may be editing theirs in the same worktree.
        let touched = toolbox.changed_files();
        if touched.is_empty() {
            continue;
        }
        let _git = ctx.git_lock.lock().await;
        ctx.workspace
            .discard_changes(&touched)
            .await
            .map_err(|e| StepError::Workspace(format!("resetting the worktree: {e:#}")))?;
    }
}

async fn attempt_loop(
    ctx: &StepContext<'_>,
    run: &mut crate::llm::TaskRun,
    attempt: &mut crate::llm::Attempt,
    req: &mut ChatRequest,
    toolbox: &mut Toolbox,
) -> Result<AttemptEnd, StepError> {
    let started = Instant::now();
    let mut calls = 0u32;
    let mut nudged = false;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        if started.elapsed() > ctx.limits.timeout {
            return Ok(AttemptEnd::Failed(format!(
                "the step took longer than {} s",
                ctx.limits.timeout.as_secs()
            )));
        }
        if attempt.usage().prompt_tokens() + attempt.usage().output_tokens > ctx.limits.max_tokens {
            return Ok(AttemptEnd::Failed(format!(
                "the step used more than {} tokens",
                ctx.limits.max_tokens
            )));
        }
        let response = match run.call(attempt, req).await {
            Ok(r) => r,
            Err(CallError::Blocked(b)) => return Err(StepError::Blocked(b)),
            Err(CallError::Provider(e @ ProviderError::MalformedOutput { .. })) => {
                return Ok(AttemptEnd::Failed(e.to_string()));
            }
            Err(CallError::Provider(e)) => return Ok(AttemptEnd::Unusable(e)),
        };
        req.messages.push(response.to_message());
        let calls_now: Vec<(String, String, Value)> = response
            .tool_calls()
            .map(|(id, name, args)| (id.to_owned(), name.to_owned(), args.clone()))
            .collect();
        if calls_now.is_empty() {
            if response.stop == StopReason::MaxTokens || nudged {
                return Ok(AttemptEnd::Failed(
                    "the model stopped without calling finish".into(),
                ));
            }
            nudged = true;
            req.messages.push(Message::user(
                "Continue with the tools. When the step's goal is met and verified, call `finish` with a summary.",
            ));
            continue;
        }
        let mut results = Vec::with_capacity(calls_now.len());
        let mut stop = None;
        for (id, name, args) in calls_now {
            calls += 1;
            if calls > ctx.limits.max_tool_calls {
                return Ok(AttemptEnd::Failed(format!(
                    "the step made more than {} tool calls",
                    ctx.limits.max_tool_calls
                )));
            }
            let (content, is_error) = if name == "run_command" {
                let before = ctx.workspace.dirty_files().await.unwrap_or_default();
                let (text, failed) = run_command(ctx, &args).await;
                // Files the command created, changed or deleted belong to the step too
                // (formatters, code generators, `rm`): they are committed with it, withheld
                // when they are workflows, and reset when the attempt fails.
                let after = ctx.workspace.dirty_files().await.unwrap_or_default();
                for (path, state) in &after {
                    if before.get(path) != Some(state) {
                        toolbox.note_external_change(path);
                    }
                }
                for path in before.keys().filter(|p| !after.contains_key(*p)) {
                    toolbox.note_external_change(path);
                }
                if let Some(s) = toolbox.record_external(&name, &args, failed) {
                    stop = Some(s.reason);
                }
                (text, failed)
            } else {
                match toolbox.call(&name, &args) {
                    ToolResult::Ok(text) => (text, false),
                    ToolResult::Error(text) => (text, true),
                    ToolResult::Stop(s) => {
                        stop = Some(s.reason.clone());
                        (s.reason, true)
                    }
                }
            };
            results.push(Part::ToolResult {
                call_id: id,
                content,
                is_error,
            });
        }
        req.messages.push(Message::tool_results(results));
        if let Some(reason) = stop {
            return Ok(AttemptEnd::Failed(reason));
        }
        if let Some(summary) = toolbox.finished() {
            return Ok(AttemptEnd::Finished(summary.to_owned()));
        }
    }
}

/// Runs the model's command in the sandbox; returns what the model reads and whether it failed.
async fn run_command(ctx: &StepContext<'_>, args: &Value) -> (String, bool) {
    let Some(command) = args.get("command").and_then(Value::as_str) else {
        return (
            "invalid arguments for `run_command`: it takes {command: string, timeout_s?: integer}"
                .to_owned(),
            true,
        );
    };
    let timeout = args
        .get("timeout_s")
        .and_then(Value::as_u64)
        .map(|s| Duration::from_secs(s.clamp(1, 1800)));
    let spec = RunSpec {
        worktree: ctx.workspace.path(),
        command,
        timeout,
        read_only: &ctx.read_only,
    };
    match ctx.sandbox.run(&spec).await {
        Ok(out) => {
            let status = if out.timed_out {
                "timed out".to_owned()
            } else {
                match out.exit_code {
                    Some(code) => format!("exit code {code}"),
                    None => "killed".to_owned(),
                }
            };
            (
                format!(
                    "$ {command}\n{}\n[{status}{}]",
                    out.output,
                    if out.truncated {
                        ", output truncated"
                    } else {
                        ""
                    }
                ),
                !out.success(),
            )
        }
        Err(e) => (format!("run_command is unavailable: {e}"), true),
    }
}
