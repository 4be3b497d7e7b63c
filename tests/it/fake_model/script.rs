//! The fake's state: who answers what, and what it saw.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use super::{Answer, SeenRequest};

#[derive(Debug, Default)]
pub(super) struct Script {
    pub by_role: HashMap<String, VecDeque<Answer>>,
    /// Keyed by (model, role).
    pub by_model: HashMap<(String, String), VecDeque<Answer>>,
    pub fallbacks: HashMap<String, Answer>,
    pub seen: Vec<SeenRequest>,
    pub misses: Vec<String>,
    pub latency: Duration,
    /// Requests received, of any kind: numbers them for misses and ids.
    received: usize,
}

impl Script {
    /// The number of the request just received.
    pub fn next_number(&mut self) -> usize {
        self.received += 1;
        self.received
    }

    /// The answer for a request: the model's script for the role, then the role's script, then
    /// the role's fallback.
    pub fn answer(&mut self, model: &str, role: &str) -> Option<Answer> {
        let key = (model.to_owned(), role.to_owned());
        self.by_model
            .get_mut(&key)
            .and_then(VecDeque::pop_front)
            .or_else(|| self.by_role.get_mut(role).and_then(VecDeque::pop_front))
            .or_else(|| self.fallbacks.get(role).cloned())
    }
}
