//! The dev agent: the model working inside a task's worktree, and the tools it works with.

pub mod dev;
pub mod tools;
