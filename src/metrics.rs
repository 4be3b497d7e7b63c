//! Prometheus metrics, served as text at `GET /metrics`.

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    source: String,
    event: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    model: String,
    /// `input` (full price), `output`, `cached_input` (cache hits), `cache_write`.
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabel {
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

fn job_histogram() -> Histogram {
    // 1 ms … ~9 h: webhook-event jobs take milliseconds, implement jobs can take an hour.
    Histogram::new(exponential_buckets(0.001, 4.0, 13))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    deliveries: Family<DeliveryLabels, Counter>,
    job_seconds: Family<JobLabels, Histogram, fn() -> Histogram>,
    job_retries: Family<KindLabel, Counter>,
    jobs_dead: Family<KindLabel, Counter>,
    queue_depth: Family<StateLabel, Gauge>,
    llm_calls: Family<ModelLabels, Histogram, fn() -> Histogram>,
    llm_tokens: Family<TokenLabels, Counter>,
    llm_cost: Family<ModelLabel, Counter<f64, AtomicU64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("orion");
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook deliveries by source, event and outcome",
            deliveries.clone(),
        );
        let job_seconds =
            Family::<JobLabels, Histogram, fn() -> Histogram>::new_with_constructor(job_histogram);
        registry.register(
            "job_duration_seconds",
            "Job attempt durations by kind and outcome",
            job_seconds.clone(),
        );
        let job_retries = Family::<KindLabel, Counter>::default();
        registry.register(
            "job_retries",
            "Job attempts that failed and were scheduled again",
            job_retries.clone(),
        );
        let jobs_dead = Family::<KindLabel, Counter>::default();
        registry.register(
            "jobs_dead",
            "Jobs that used their attempts and were dead-lettered",
            jobs_dead.clone(),
        );
        let queue_depth = Family::<StateLabel, Gauge>::default();
        registry.register(
            "queue_jobs",
            "Jobs in the queue by state (read at scrape time)",
            queue_depth.clone(),
        );
        let llm_calls = Family::<ModelLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            job_histogram,
        );
        registry.register(
            "llm_call_duration_seconds",
            "Model calls by model and outcome (ok or the error kind), with their latency",
            llm_calls.clone(),
        );
        let llm_tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "llm_tokens",
            "Tokens by model and kind; cached_input is prompt-cache hits",
            llm_tokens.clone(),
        );
        let llm_cost = Family::<ModelLabel, Counter<f64, AtomicU64>>::default();
        registry.register(
            "llm_cost_usd",
            "Model spend in USD by model",
            llm_cost.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            llm_calls,
            llm_tokens,
            llm_cost,
            deliveries,
            job_seconds,
            job_retries,
            jobs_dead,
            queue_depth,
        }
    }
}

impl Metrics {
    /// Counts one delivery. `event` must come from a bounded set (an authenticated header or a
    /// parsed event name), never from unauthenticated input, to keep label cardinality bounded.
    pub fn delivery(&self, source: &str, event: &str, outcome: &str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                source: source.to_owned(),
                event: event.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn job_finished(&self, kind: &str, outcome: &str, elapsed: Duration) {
        self.job_seconds
            .get_or_create(&JobLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        if outcome == "dead" {
            self.jobs_dead
                .get_or_create(&KindLabel {
                    kind: kind.to_owned(),
                })
                .inc();
        }
    }

    pub fn job_retried(&self, kind: &str) {
        self.job_retries
            .get_or_create(&KindLabel {
                kind: kind.to_owned(),
            })
            .inc();
    }

    pub fn set_queue_depth(&self, depth: &[(String, i64)]) {
        for (state, n) in depth {
            self.queue_depth
                .get_or_create(&StateLabel {
                    state: state.clone(),
                })
                .set(*n);
        }
    }

    /// Records one model call.
    pub fn llm_call(
        &self,
        model: &str,
        outcome: &str,
        usage: &crate::llm::Usage,
        usd: f64,
        elapsed: Duration,
    ) {
        self.llm_calls
            .get_or_create(&ModelLabels {
                model: model.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        for (kind, n) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cached_input", usage.cached_input_tokens),
            ("cache_write", usage.cache_write_tokens),
        ] {
            if n > 0 {
                self.llm_tokens
                    .get_or_create(&TokenLabels {
                        model: model.to_owned(),
                        kind: kind.to_owned(),
                    })
                    .inc_by(n);
            }
        }
        if usd > 0.0 {
            self.llm_cost
                .get_or_create(&ModelLabel {
                    model: model.to_owned(),
                })
                .inc_by(usd);
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().expect("metrics registry lock");
        prometheus_client::encoding::text::encode(&mut out, &registry)
            .expect("writing to a String cannot fail");
        out
    }
}
