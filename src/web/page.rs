//! The dashboard page: one self-contained HTML document (inline CSS, inline SVG, no script, no
//! external asset), rendered on the server from the same structs the JSON API returns. Every
//! piece of text that came from outside (titles, repository names, model names, errors) goes
//! through [`escape`].

use std::fmt::Write;

use super::data::{BudgetGauge, Level, QueueHealth, RoutingRow, Spend, TaskRow};
use crate::calendar;

/// Everything the page shows, read at one moment.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub now: i64,
    pub tasks: Vec<TaskRow>,
    pub queue: QueueHealth,
    pub spend: Spend,
    pub budgets: Vec<BudgetGauge>,
    pub routing: Vec<RoutingRow>,
}

/// How often the page reloads itself.
const REFRESH_SECS: u32 = 30;

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One colour per model, by its rank in [`Spend::models`]; cycles past the palette.
const PALETTE: [&str; 8] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f",
];

pub fn colour(model_index: usize) -> &'static str {
    PALETTE[model_index % PALETTE.len()]
}

/// The chart's size and margins in SVG user units.
pub const CHART_WIDTH: f64 = 960.0;
pub const CHART_HEIGHT: f64 = 280.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 36.0;

/// One segment of a stacked bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub day: usize,
    pub model: usize,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub usd: f64,
}

/// The chart's geometry: the y axis top (a round number at or above the dearest day) and a
/// segment per non-zero (day, model), stacked upwards in model order from the x axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub axis_max: f64,
    pub bars: Vec<Bar>,
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v` (1 for nothing spent).
pub fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * magnitude)
}

pub fn chart(spend: &Spend) -> Chart {
    let plot_width = CHART_WIDTH - LEFT - RIGHT;
    let plot_height = CHART_HEIGHT - TOP - BOTTOM;
    let dearest = spend
        .days
        .iter()
        .map(|d| d.usd.iter().sum::<f64>())
        .fold(0.0, f64::max);
    let axis_max = nice_ceiling(dearest);
    let slot = plot_width / spend.days.len().max(1) as f64;
    let width = slot * 0.8;
    let mut bars = Vec::new();
    for (day, d) in spend.days.iter().enumerate() {
        let x = LEFT + day as f64 * slot + (slot - width) / 2.0;
        let mut top = TOP + plot_height; // the x axis
        for (model, &usd) in d.usd.iter().enumerate() {
            if usd <= 0.0 {
                continue;
            }
            let height = usd / axis_max * plot_height;
            top -= height;
            bars.push(Bar {
                day,
                model,
                x,
                y: top,
                width,
                height,
                usd,
            });
        }
    }
    Chart { axis_max, bars }
}

fn money(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

fn chart_svg(spend: &Spend) -> String {
    let geometry = chart(spend);
    let plot_height = CHART_HEIGHT - TOP - BOTTOM;
    let axis_y = TOP + plot_height;
    let mut out = format!(
        r#"<svg id="spend-chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="100%" role="img" aria-label="Spend per day by model">"#
    );
    for i in 0..=4 {
        let value = geometry.axis_max * f64::from(i) / 4.0;
        let y = axis_y - plot_height * f64::from(i) / 4.0;
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.2}" y2="{y:.2}" stroke="#ddd"/><text x="{}" y="{:.2}" class="axis" text-anchor="end">{}</text>"##,
            CHART_WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            money(value)
        );
    }
    let slot = (CHART_WIDTH - LEFT - RIGHT) / spend.days.len().max(1) as f64;
    for (i, day) in spend.days.iter().enumerate() {
        // A label every fifth day, counted back from today so today is always labelled.
        if (spend.days.len() - 1 - i).is_multiple_of(5) {
            let _ = write!(
                out,
                r#"<text x="{:.2}" y="{:.2}" class="axis" text-anchor="middle">{}</text>"#,
                LEFT + (i as f64 + 0.5) * slot,
                axis_y + 18.0,
                escape(day.date.get(5..).unwrap_or(&day.date))
            );
        }
    }
    for bar in &geometry.bars {
        let model = &spend.models[bar.model];
        let _ = write!(
            out,
            r#"<rect class="bar" data-model="{}" data-date="{}" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{} · {} · {}</title></rect>"#,
            escape(model),
            escape(&spend.days[bar.day].date),
            bar.x,
            bar.y,
            bar.width,
            bar.height,
            colour(bar.model),
            escape(&spend.days[bar.day].date),
            escape(model),
            money(bar.usd)
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{LEFT}" x2="{}" y1="{axis_y}" y2="{axis_y}" stroke="#888"/></svg>"##,
        CHART_WIDTH - RIGHT
    );
    out.push_str(r#"<ul class="legend">"#);
    for (i, model) in spend.models.iter().enumerate() {
        let total: f64 = spend.days.iter().map(|d| d.usd[i]).sum();
        let _ = write!(
            out,
            r#"<li><span class="swatch" style="background:{}"></span>{} <span class="muted">{}</span></li>"#,
            colour(i),
            escape(model),
            money(total)
        );
    }
    out.push_str("</ul>");
    out
}

fn tasks_table(tasks: &[TaskRow]) -> String {
    if tasks.is_empty() {
        return r#"<p class="muted">No tasks yet.</p>"#.to_owned();
    }
    let mut out = String::from(
        r#"<table id="tasks"><thead><tr><th>Task</th><th>State</th><th>Repository</th><th>Issue</th><th>Pull request</th><th>Current step</th><th class="num">Spend</th><th>Updated</th></tr></thead><tbody>"#,
    );
    // Only web links become links: a stored URL is outside text too.
    let link = |url: Option<&String>, text: &str| match url {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            format!(r#"<a href="{}">{}</a>"#, escape(url), escape(text))
        }
        _ => escape(text),
    };
    for t in tasks {
        let pr = match t.pr_number {
            Some(n) => link(t.pr_url.as_ref(), &format!("#{n}")),
            None if t.pr_url.is_some() => link(t.pr_url.as_ref(), "link"),
            None => "—".to_owned(),
        };
        let step = match (&t.current_step, &t.current_step_state) {
            (Some(step), Some(state)) => format!(
                r#"<code>{}</code> <span class="muted">{}</span>"#,
                escape(step),
                escape(state)
            ),
            _ => "—".to_owned(),
        };
        let detail = t.detail.as_deref().map_or_else(String::new, |d| {
            format!(r#"<div class="detail">{}</div>"#, escape(d))
        });
        let _ = write!(
            out,
            r#"<tr class="task" data-task="{id}"><td>#{id} {title}{detail}</td><td><span class="state state-{state}">{state}</span></td><td>{repo}</td><td>{issue}</td><td>{pr}</td><td>{step}</td><td class="num">{spend}</td><td>{updated}</td></tr>"#,
            id = t.id,
            title = escape(&t.title),
            state = escape(&t.state),
            repo = escape(&t.repo),
            issue = link(t.issue_url.as_ref(), &t.issue_ref),
            spend = money(t.spend_usd),
            updated = calendar::date_time(t.updated_at),
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn queue_panel(queue: &QueueHealth, now: i64) -> String {
    let mut out = String::from(r#"<div id="queue" class="counts">"#);
    for c in &queue.counts {
        let _ = write!(
            out,
            r#"<div class="count state-{s}"><div class="n">{n}</div>{s}</div>"#,
            s = escape(&c.state),
            n = c.jobs
        );
    }
    out.push_str("</div>");
    match queue.oldest_due_at {
        Some(at) if at <= now => {
            let _ = write!(
                out,
                "<p>Oldest due job has waited {}s.</p>",
                (now - at) / 1000
            );
        }
        Some(_) => out.push_str("<p>Queued jobs are waiting for their retry time.</p>"),
        None => out.push_str(r#"<p class="muted">Nothing queued.</p>"#),
    }
    if !queue.dead_jobs.is_empty() {
        out.push_str(r#"<table><thead><tr><th>Dead job</th><th>Kind</th><th class="num">Attempts</th><th>Last error</th></tr></thead><tbody>"#);
        for j in &queue.dead_jobs {
            let _ = write!(
                out,
                r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="detail">{}</td></tr>"#,
                j.id,
                escape(&j.kind),
                j.attempts,
                escape(j.last_error.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>");
    }
    out
}

fn budget_panel(budgets: &[BudgetGauge]) -> String {
    if budgets.is_empty() {
        return r#"<p class="muted">No daily or monthly budget applies yet (none configured, or no spend this month).</p>"#.to_owned();
    }
    let mut out = String::from(r#"<div id="budgets">"#);
    for g in budgets {
        let fraction = if g.limit_usd > 0.0 {
            g.spent_usd / g.limit_usd
        } else {
            1.0
        };
        let level = match g.level {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Stop => "stop",
        };
        let _ = write!(
            out,
            r#"<div class="gauge level-{level}"><div class="label">{inst} · {period} <span class="muted">{spent} of {limit} ({pct:.0}%), resets {resets}</span></div><div class="track"><div class="fill" style="width:{width:.1}%"></div><div class="mark" style="left:{warn:.1}%" title="warn"></div><div class="mark stop" style="left:{stop:.1}%" title="stop"></div></div></div>"#,
            inst = escape(&g.installation),
            period = g.period,
            spent = money(g.spent_usd),
            limit = money(g.limit_usd),
            pct = fraction * 100.0,
            resets = calendar::date_time(g.resets_at),
            width = (fraction * 100.0).clamp(0.0, 100.0),
            warn = g.warn_at * 100.0,
            stop = g.stop_at * 100.0,
        );
    }
    out.push_str("</div>");
    out
}

fn routing_table(rows: &[RoutingRow]) -> String {
    if rows.is_empty() {
        return r#"<p class="muted">No finished model attempts yet.</p>"#.to_owned();
    }
    let mut out = String::from(
        r#"<table id="routing"><thead><tr><th>Task kind</th><th>Model</th><th class="num">Attempts</th><th class="num">Succeeded</th><th class="num">Failed</th><th class="num">Success rate</th><th class="num">Cost</th><th class="num">Cost per success</th></tr></thead><tbody>"#,
    );
    for r in rows {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            escape(&r.task_kind),
            escape(&r.model),
            r.attempts,
            r.succeeded,
            r.failed,
            r.success_rate
                .map_or_else(|| "—".to_owned(), |s| format!("{:.0}%", s * 100.0)),
            money(r.cost_usd),
            r.cost_per_success_usd.map_or_else(|| "—".to_owned(), money),
        );
    }
    out.push_str("</tbody></table>");
    out
}

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 16px;margin-bottom:16px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{font-weight:600;color:#555}.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#888}.detail{color:#a33;font-size:12px;white-space:pre-wrap}
.state{padding:1px 6px;border-radius:8px;background:#eee;font-size:12px}
.state-done{background:#dcf5dc}.state-failed,.state-blocked,.state-dead{background:#fbdada}
.counts{display:flex;gap:12px}.count{border:1px solid #eee;border-radius:6px;padding:6px 12px;min-width:72px;text-align:center;color:#555}
.count .n{font-size:22px;color:#222}
.axis{font-size:11px;fill:#666}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:16px}.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
.gauge{margin:8px 0}.track{position:relative;height:12px;background:#eee;border-radius:6px;overflow:hidden}
.fill{height:100%;background:#59a14f}.level-warn .fill{background:#edc948}.level-stop .fill{background:#e15759}
.mark{position:absolute;top:0;bottom:0;width:2px;background:#b8860b}.mark.stop{background:#c00}
";

/// The whole page.
pub fn render(d: &Dashboard) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="{REFRESH_SECS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Orion dashboard</title><style>{STYLE}</style></head>
<body><h1>Orion</h1><div class="muted">As of {now} · reloads every {REFRESH_SECS}s · JSON at <code>/api/tasks</code>, <code>/api/queue</code>, <code>/api/spend?days=30</code>, <code>/api/budgets</code>, <code>/api/routing</code></div>
<section><h2>Tasks</h2>{tasks}</section>
<section><h2>Queue</h2>{queue}</section>
<section><h2>Spend, last {days} days <span class="muted">{total} in all</span></h2>{chart}</section>
<section><h2>Budgets</h2>{budgets}</section>
<section><h2>Routing</h2>{routing}</section>
</body></html>
"#,
        now = calendar::date_time(d.now),
        tasks = tasks_table(&d.tasks),
        queue = queue_panel(&d.queue, d.now),
        days = d.spend.days.len(),
        total = money(d.spend.total_usd),
        chart = chart_svg(&d.spend),
        budgets = budget_panel(&d.budgets),
        routing = routing_table(&d.routing),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::data::{DaySpend, StateCount};

    fn spend(models: &[&str], days: &[&[f64]]) -> Spend {
        Spend {
            models: models.iter().map(|m| m.to_string()).collect(),
            days: days
                .iter()
                .enumerate()
                .map(|(i, usd)| DaySpend {
                    date: format!("2026-03-{:02}", i + 1),
                    usd: usd.to_vec(),
                })
                .collect(),
            total_usd: days.iter().flat_map(|d| d.iter()).sum(),
        }
    }

    #[test]
    fn nice_ceiling_rounds_up_to_one_two_or_five() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.2), 2.0);
        assert_eq!(nice_ceiling(3.0), 5.0);
        assert_eq!(nice_ceiling(7.5), 10.0);
        assert!((nice_ceiling(0.031) - 0.05).abs() < 1e-12);
        assert_eq!(nice_ceiling(420.0), 500.0);
    }

    #[test]
    fn bars_stack_upwards_from_the_axis_in_model_order() {
        let s = spend(&["opus", "haiku"], &[&[2.0, 1.0], &[0.0, 0.0], &[4.0, 0.0]]);
        let c = chart(&s);
        assert_eq!(c.axis_max, 5.0);
        let plot_height = CHART_HEIGHT - TOP - BOTTOM;
        let axis_y = TOP + plot_height;
        // Day 0: opus at the bottom, haiku on top of it; day 1: nothing; day 2: opus only.
        let cells: Vec<(usize, usize)> = c.bars.iter().map(|b| (b.day, b.model)).collect();
        assert_eq!(cells, [(0, 0), (0, 1), (2, 0)]);
        let (opus, haiku) = (&c.bars[0], &c.bars[1]);
        assert!((opus.height - plot_height * 2.0 / 5.0).abs() < 1e-9);
        assert!(
            (opus.y + opus.height - axis_y).abs() < 1e-9,
            "sits on the axis"
        );
        assert!(
            (haiku.y + haiku.height - opus.y).abs() < 1e-9,
            "sits on opus"
        );
        assert!((haiku.height - opus.height / 2.0).abs() < 1e-9);
        // The dearest day fills 4/5 of the plot; bars stay inside the plot and their slots.
        assert!((c.bars[2].height - plot_height * 4.0 / 5.0).abs() < 1e-9);
        let slot = (CHART_WIDTH - LEFT - RIGHT) / 3.0;
        for b in &c.bars {
            assert!(b.y >= TOP - 1e-9);
            assert!(b.x >= LEFT + b.day as f64 * slot);
            assert!(b.x + b.width <= LEFT + (b.day + 1) as f64 * slot + 1e-9);
        }
        assert_eq!(opus.x, haiku.x);
    }

    #[test]
    fn nothing_spent_draws_no_bars() {
        let c = chart(&spend(&[], &[&[], &[]]));
        assert!(c.bars.is_empty());
        assert_eq!(c.axis_max, 1.0);
    }

    #[test]
    fn outside_text_is_escaped_and_only_web_links_are_links() {
        let d = Dashboard {
            now: 0,
            tasks: vec![TaskRow {
                id: 1,
                state: "done".to_owned(),
                repo: "acme/<b>".to_owned(),
                issue: 2,
                issue_ref: "ENG-2".to_owned(),
                issue_url: Some("javascript:alert(2)".to_owned()),
                title: "<script>alert(1)</script> & \"quotes\"".to_owned(),
                pr_number: Some(3),
                pr_url: Some("javascript:alert(1)".to_owned()),
                current_step: None,
                current_step_state: None,
                detail: None,
                spend_usd: 0.0,
                updated_at: 0,
            }],
            queue: QueueHealth {
                counts: vec![StateCount {
                    state: "queued".to_owned(),
                    jobs: 0,
                }],
                oldest_due_at: None,
                dead_jobs: vec![],
            },
            spend: spend(&["m\"><script>"], &[&[1.0]]),
            budgets: vec![],
            routing: vec![],
        };
        let html = render(&d);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;"));
        assert!(html.contains("acme/&lt;b&gt;"));
        assert!(!html.contains("javascript:"));
        assert!(html.contains("<td>#3</td>"));
        assert!(html.contains("<td>ENG-2</td>"));
        assert!(html.contains(r#"data-model="m&quot;&gt;&lt;script&gt;""#));
    }
}
