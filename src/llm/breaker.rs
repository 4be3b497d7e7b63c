//! A circuit breaker per model. After `threshold` consecutive failed calls a model is skipped for
//! `cooldown`; then one probe call is let through, and its result closes or re-opens the circuit.
//! Without it, a provider outage costs every task its full retry budget on the dead model.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// Cooldown over; one probe is in flight since `since` and everyone else waits, for at most
    /// `limit` (the model's timeout): a probe that never reports (its task was cancelled) must
    /// not wedge the model, so after that the next caller becomes the probe.
    Probing {
        since: Instant,
        limit: Duration,
    },
}

#[derive(Debug, Default)]
pub struct Breakers {
    states: Mutex<HashMap<String, State>>,
}

/// What [`Breakers::state`] reports, for `orion models` and routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    /// Refusing calls (cooling down, or a probe is in flight).
    Open {
        retry_in: Duration,
    },
    /// Cooled down: the next call is the probe.
    Probing,
}

impl Breakers {
    /// May a call to `model` go ahead now? `Err(retry_in)` while the circuit is open or another
    /// caller's probe is in flight. The first caller after the cooldown becomes the probe; it
    /// may take up to `probe_limit` before someone else is let through.
    pub fn admit(&self, model: &str, probe_limit: Duration) -> Result<(), Duration> {
        let mut states = self.states.lock().expect("breaker lock");
        let now = Instant::now();
        let probe = State::Probing {
            since: now,
            limit: probe_limit,
        };
        match states.get(model).copied() {
            None | Some(State::Closed { .. }) => Ok(()),
            Some(State::Open { until }) if now >= until => {
                states.insert(model.to_owned(), probe);
                Ok(())
            }
            Some(State::Open { until }) => Err(until - now),
            Some(State::Probing { since, limit }) if now < since + limit => {
                Err(since + limit - now)
            }
            Some(State::Probing { .. }) => {
                states.insert(model.to_owned(), probe);
                Ok(())
            }
        }
    }

    /// Routing asks without becoming the probe.
    pub fn state(&self, model: &str) -> CircuitState {
        let states = self.states.lock().expect("breaker lock");
        let now = Instant::now();
        match states.get(model).copied() {
            None | Some(State::Closed { .. }) => CircuitState::Closed,
            Some(State::Open { until }) if now < until => CircuitState::Open {
                retry_in: until - now,
            },
            Some(State::Probing { since, limit }) if now < since + limit => CircuitState::Open {
                retry_in: since + limit - now,
            },
            Some(State::Open { .. } | State::Probing { .. }) => CircuitState::Probing,
        }
    }

    pub fn success(&self, model: &str) {
        self.states
            .lock()
            .expect("breaker lock")
            .insert(model.to_owned(), State::Closed { failures: 0 });
    }

    /// Records a failure; returns true when this one opened the circuit.
    pub fn failure(&self, model: &str, threshold: u32, cooldown: Duration) -> bool {
        let mut states = self.states.lock().expect("breaker lock");
        let open = State::Open {
            until: Instant::now() + cooldown,
        };
        let next = match states.get(model).copied() {
            None => State::Closed { failures: 1 },
            Some(State::Closed { failures }) => State::Closed {
                failures: failures + 1,
            },
            Some(State::Probing { .. }) => open,
            Some(s @ State::Open { .. }) => s,
        };
        let next = match next {
            State::Closed { failures } if failures >= threshold => open,
            s => s,
        };
        let opened = matches!(next, State::Open { .. })
            && !matches!(states.get(model), Some(State::Open { .. }));
        states.insert(model.to_owned(), next);
        opened
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_cooldown() {
        let b = Breakers::default();
        let cool = Duration::from_millis(40);
        assert!(!b.failure("m", 3, cool));
        assert!(!b.failure("m", 3, cool));
        let probe = Duration::from_millis(30);
        assert!(b.admit("m", probe).is_ok());
        assert!(b.failure("m", 3, cool), "third failure opens");
        assert!(b.admit("m", probe).is_err());
        assert!(matches!(b.state("m"), CircuitState::Open { .. }));
        assert!(b.admit("other", probe).is_ok(), "breakers are per model");
        std::thread::sleep(cool + Duration::from_millis(10));
        assert_eq!(b.state("m"), CircuitState::Probing);
        assert!(b.admit("m", probe).is_ok(), "one probe after the cooldown");
        assert!(b.admit("m", probe).is_err(), "only one");
        assert!(matches!(b.state("m"), CircuitState::Open { .. }));
        assert!(b.failure("m", 3, cool), "a failed probe re-opens at once");
        assert!(b.admit("m", probe).is_err());
        std::thread::sleep(cool + Duration::from_millis(10));
        assert!(b.admit("m", probe).is_ok());
        // A probe that never reports does not wedge the model: after its limit, another goes.
        std::thread::sleep(probe + Duration::from_millis(10));
        assert!(b.admit("m", probe).is_ok());
        b.success("m");
        assert_eq!(b.state("m"), CircuitState::Closed);
        assert!(!b.failure("m", 3, cool), "success reset the count");
    }
}
