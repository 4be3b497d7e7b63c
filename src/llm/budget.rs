//! Budgets: before every call, the worst case of that call is added to what the installation (and
//! the task) already spent and to what calls in flight have reserved. Past `warn_at` of a limit,
//! routing turns frugal; a call that would take spending past `stop_at` of a limit is refused, so a
//! budget is never overshot: the worst case assumes every allowed answer token is used, and the
//! prompt estimate errs high. Periods are UTC days and months, and a refused installation resumes
//! by itself when the period rolls over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::config::{BudgetConfig, ModelConfig};
use super::types::Usage;
use crate::calendar;

/// What was spent, in USD.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    pub day: f64,
    pub month: f64,
    pub task: f64,
}

/// The answer to "may this call go ahead?".
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Go,
    /// Go, frugally: the text says which limit and how far along it is.
    Warn(String),
    /// Refused. `resets_at` (Unix ms) is when the period rolls over; None for a task's own limit.
    Stop {
        message: String,
        resets_at: Option<i64>,
    },
}

/// Cost of a call's usage on a model.
pub fn cost(model: &ModelConfig, u: &Usage) -> f64 {
    (u.input_tokens as f64 * model.input_usd_per_mtok
        + u.output_tokens as f64 * model.output_usd_per_mtok
        + u.cached_input_tokens as f64 * model.cached_input_price()
        + u.cache_write_tokens as f64 * model.cache_write_price())
        / 1e6
}

/// The most a call can cost: every prompt token written to the cache at the dearer of input and
/// cache-write prices, and the whole answer allowance used.
pub fn worst_case(model: &ModelConfig, prompt_tokens: u64, max_output_tokens: u32) -> f64 {
    let input = model.input_usd_per_mtok.max(model.cache_write_price());
    (prompt_tokens as f64 * input
        + f64::from(max_output_tokens.min(model.max_output_tokens)) * model.output_usd_per_mtok)
        / 1e6
}

/// One limit that applies to an installation or task, with what was spent against it.
struct Limit {
    /// `task`, `daily` or `monthly`.
    name: &'static str,
    limit: f64,
    used: f64,
    /// When the period rolls over; None for a task's own limit, which never does.
    resets_at: Option<i64>,
}

/// The limits configured for `installation`, tightest-scope first (task, day, month).
fn limits(
    config: &BudgetConfig,
    installation: &str,
    spent: Spent,
    now: i64,
) -> impl Iterator<Item = Limit> {
    let l = config.limits_for(installation);
    [
        ("task", l.per_task_usd, spent.task, None),
        (
            "daily",
            l.daily_usd,
            spent.day,
            Some(calendar::next_day(now)),
        ),
        (
            "monthly",
            l.monthly_usd,
            spent.month,
            Some(calendar::next_month(now)),
        ),
    ]
    .into_iter()
    .filter_map(|(name, limit, used, resets_at)| {
        limit.map(|limit| Limit {
            name,
            limit,
            used,
            resets_at,
        })
    })
}

/// Judges a call of worst-case cost `next` for `installation` at time `now` (Unix ms).
pub fn judge(
    config: &BudgetConfig,
    installation: &str,
    spent: Spent,
    next: f64,
    now: i64,
) -> Verdict {
    let mut warn = None;
    let mut stop: Option<Verdict> = None;
    for Limit {
        name,
        limit,
        used,
        resets_at,
    } in limits(config, installation, spent, now)
    {
        if used >= config.stop_at * limit || used + next > config.stop_at * limit {
            let message = match resets_at {
                Some(at) => format!(
                    "the {name} budget of {installation} is used up: ${used:.2} spent of ${limit:.2}, and this call could cost up to ${next:.2} (stops at {:.0}%); model work resumes at {}",
                    config.stop_at * 100.0,
                    calendar::date_time(at)
                ),
                None => format!(
                    "this task's budget is used up: ${used:.2} spent of ${limit:.2}, and the next call could cost up to ${next:.2}"
                ),
            };
            // When several limits are used up, the one that lifts last is the one to report:
            // the task's own limit never lifts, else the later period.
            let later = match &stop {
                None => true,
                Some(Verdict::Stop {
                    resets_at: prev, ..
                }) => match (prev, resets_at) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(p), Some(r)) => r > *p,
                },
                Some(_) => false,
            };
            if later {
                stop = Some(Verdict::Stop { message, resets_at });
            }
            continue;
        }
        if warn.is_none() && used >= config.warn_at * limit {
            warn = Some(format!(
                "{name} budget at {:.0}% (${used:.2} of ${limit:.2})",
                used / limit * 100.0
            ));
        }
    }
    if let Some(stop) = stop {
        return stop;
    }
    warn.map_or(Verdict::Go, Verdict::Warn)
}

/// The tightest limit: how much more may be spent before its stop line, which limit it is
/// (`task`, `daily`, `monthly`) and when it resets (None for a task's own limit). What a call's
/// worst case must fit in; None when no limit applies.
pub fn headroom(
    config: &BudgetConfig,
    installation: &str,
    spent: Spent,
    now: i64,
) -> Option<Headroom> {
    limits(config, installation, spent, now)
        .map(|l| Headroom {
            usd: (config.stop_at * l.limit - l.used).max(0.0),
            limit: l.name,
            resets_at: l.resets_at,
        })
        .min_by(|a, b| a.usd.total_cmp(&b.usd))
}

/// See [`headroom`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Headroom {
    pub usd: f64,
    pub limit: &'static str,
    pub resets_at: Option<i64>,
}

/// Money promised to calls in flight, per installation and per task, so that concurrent calls
/// cannot each pass the check against the same remaining budget.
#[derive(Debug, Default)]
pub struct Reservations {
    held: Mutex<HashMap<String, f64>>,
}

impl Reservations {
    pub fn held(&self, installation: &str, task: &str) -> (f64, f64) {
        let held = self.held.lock().expect("reservations lock");
        (
            held.get(&key('i', installation)).copied().unwrap_or(0.0),
            held.get(&key('t', task)).copied().unwrap_or(0.0),
        )
    }

    /// Holds `amount` until the returned guard is dropped (after the call's cost is in the ledger).
    pub fn hold(self: &Arc<Self>, installation: &str, task: &str, amount: f64) -> Hold {
        let mut held = self.held.lock().expect("reservations lock");
        let keys = [key('i', installation), key('t', task)];
        for k in &keys {
            *held.entry(k.clone()).or_default() += amount;
        }
        Hold {
            owner: Arc::clone(self),
            keys,
            amount,
        }
    }
}

fn key(scope: char, id: &str) -> String {
    format!("{scope}:{id}")
}

/// A reservation; released on drop.
#[derive(Debug)]
pub struct Hold {
    owner: Arc<Reservations>,
    keys: [String; 2],
    amount: f64,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut held = self.owner.held.lock().expect("reservations lock");
        for k in &self.keys {
            if let Some(v) = held.get_mut(k) {
                *v -= self.amount;
                if *v <= 1e-12 {
                    held.remove(k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::config::BudgetLimits;

    fn config() -> BudgetConfig {
        BudgetConfig {
            limits: BudgetLimits {
                daily_usd: Some(10.0),
                monthly_usd: Some(100.0),
                per_task_usd: Some(2.0),
            },
            installations: [(
                "big".to_owned(),
                BudgetLimits {
                    daily_usd: Some(50.0),
                    ..Default::default()
                },
            )]
            .into(),
            ..Default::default()
        }
    }

    const NOW: i64 = 1_795_437_296_000; // 2026-11-23 12:34:56 UTC

    #[test]
    fn warn_then_stop_with_worst_case() {
        let c = config();
        let s = |day, month, task| Spent { day, month, task };
        assert_eq!(judge(&c, "acme", s(1.0, 10.0, 0.1), 0.05, NOW), Verdict::Go);
        match judge(&c, "acme", s(8.0, 10.0, 0.1), 0.05, NOW) {
            Verdict::Warn(w) => assert_eq!(w, "daily budget at 80% ($8.00 of $10.00)"),
            other => panic!("{other:?}"),
        }
        // 9.40 + 0.05 stays under 9.50; 9.40 + 0.20 would not.
        assert!(matches!(
            judge(&c, "acme", s(9.4, 10.0, 0.1), 0.05, NOW),
            Verdict::Warn(_)
        ));
        match judge(&c, "acme", s(9.4, 10.0, 0.1), 0.2, NOW) {
            Verdict::Stop { message, resets_at } => {
                assert_eq!(resets_at, Some(crate::calendar::next_day(NOW)));
                assert!(
                    message.contains("resumes at 2026-11-24 00:00 UTC"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Both the day and the month are used up: the month decides when work resumes.
        match judge(&c, "acme", s(9.6, 95.0, 0.1), 0.01, NOW) {
            Verdict::Stop { resets_at, .. } => {
                assert_eq!(crate::calendar::date(resets_at.unwrap()), "2026-12-01")
            }
            other => panic!("{other:?}"),
        }
        match judge(&c, "acme", s(1.0, 1.0, 1.9), 0.01, NOW) {
            Verdict::Stop { resets_at, message } => {
                assert_eq!(resets_at, None);
                assert!(message.starts_with("this task's budget"));
            }
            other => panic!("{other:?}"),
        }
        // A per-installation override replaces only the limit it sets.
        assert!(matches!(
            judge(&c, "big", s(20.0, 20.0, 0.0), 0.05, NOW),
            Verdict::Go
        ));
        assert!(matches!(
            judge(&c, "big", s(20.0, 99.0, 0.0), 0.05, NOW),
            Verdict::Stop { .. }
        ));
    }

    #[test]
    fn reservations_release_on_drop() {
        let r = Arc::new(Reservations::default());
        let a = r.hold("acme", "t1", 0.5);
        let b = r.hold("acme", "t2", 0.25);
        assert_eq!(r.held("acme", "t1"), (0.75, 0.5));
        drop(a);
        assert_eq!(r.held("acme", "t1"), (0.25, 0.0));
        drop(b);
        assert_eq!(r.held("acme", "t2"), (0.0, 0.0));
    }
}
