//! Pull request review, the pure part: everything between GitHub's diff and the model's answer
//! that needs neither the network nor a model.

pub mod anchor;
pub mod diff;
pub mod finding;
pub mod fingerprint;
pub mod merge;

#[cfg(test)]
pub(crate) mod testing;
