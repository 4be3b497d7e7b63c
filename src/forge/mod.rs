//! Forges Orion acts on: GitHub ([`github`]), and the effect [`journal`] that keeps every
//! externally visible write to one, however often a job runs.

pub mod github;
pub mod journal;
pub mod linear;

pub use github::{ForgeError, GitHub};
pub use journal::{EffectRef, Journal};

/// An error with its sources, each once (`connecting: dns error: no such host`): what a
/// transport failure says in a job's error.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}
