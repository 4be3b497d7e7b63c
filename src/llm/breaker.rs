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
    /// Cooldown over; one probe is in flight and everyone else still waits.
    Probing,
}

#[derive(Debug, Default)]
pub struct Breakers {
    states: Mutex<HashMap<String, State>>,
}

/// What [`Breakers::state`] reports, for `orion models` and routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open { retry_in: Duration },
    Probing,
}

impl Breakers {
    /// May a call to `model` go ahead now? `Err(retry_in)` while the circuit is open. The first
    /// caller after the cooldown becomes the probe.
    pub fn admit(&self, model: &str) -> Result<(), Duration> {
        let mut states = self.states.lock().expect("breaker lock");
        let now = Instant::now();
        match states.get(model).copied() {
            None | Some(State::Closed { .. }) => Ok(()),
            Some(State::Open { until }) if now >= until => {
                states.insert(model.to_owned(), State::Probing);
                Ok(())
            }
            Some(State::Open { until }) => Err(until - now),
            // A probe that never reported (its task was cancelled) must not wedge the model:
            // let another through.
            Some(State::Probing) => Ok(()),
        }
    }

    /// Routing asks without becoming the probe.
    pub fn state(&self, model: &str) -> CircuitState {
        let states = self.states.lock().expect("breaker lock");
        match states.get(model).copied() {
            None | Some(State::Closed { .. }) => CircuitState::Closed,
            Some(State::Open { until }) => {
                let now = Instant::now();
                if now >= until {
                    CircuitState::Probing
                } else {
                    CircuitState::Open {
                        retry_in: until - now,
                    }
                }
            }
            Some(State::Probing) => CircuitState::Probing,
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
            Some(State::Probing) => open,
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
        assert!(b.admit("m").is_ok());
        assert!(b.failure("m", 3, cool), "third failure opens");
        assert!(b.admit("m").is_err());
        assert!(matches!(b.state("m"), CircuitState::Open { .. }));
        assert!(b.admit("other").is_ok(), "breakers are per model");
        std::thread::sleep(cool + Duration::from_millis(10));
        assert!(b.admit("m").is_ok(), "one probe after the cooldown");
        assert!(b.failure("m", 3, cool), "a failed probe re-opens at once");
        assert!(b.admit("m").is_err());
        std::thread::sleep(cool + Duration::from_millis(10));
        assert!(b.admit("m").is_ok());
        b.success("m");
        assert_eq!(b.state("m"), CircuitState::Closed);
        assert!(!b.failure("m", 3, cool), "success reset the count");
    }
}
