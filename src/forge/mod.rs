//! Forges Orion acts on: GitHub ([`github`]), and the effect [`journal`] that keeps every
//! externally visible write to one, however often a job runs.

pub mod github;
pub mod journal;
pub mod linear;

pub use github::{ForgeError, GitHub};
pub use journal::{EffectRef, Journal};
