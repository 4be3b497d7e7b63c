//! Settings the benchmarks read from the environment (`BENCH_RUNS=9`, `BENCH_TASKS=10,000`).

/// The number in `name` (commas allowed), or `default` when it is unset or not a number.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().replace(',', "").parse().unwrap_or_else(|_| {
            eprintln!("ignoring {name}={v:?}: not a number");
            default
        }),
        Err(_) => default,
    }
}
