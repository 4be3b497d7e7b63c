//! Pull request review, the pure part: everything between GitHub's diff and the model's answer
//! that needs neither the network nor a model.

pub mod diff;

#[cfg(test)]
pub(crate) mod testing;
