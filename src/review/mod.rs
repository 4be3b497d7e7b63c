//! Pull request review, the pure part: everything between GitHub's diff and the model's answer
//! that needs neither the network nor a model, so it can be tested on real diffs and measured
//! (`cargo bench --bench review`).
//!
//! A review job uses it in this order:
//!
//! 1. [`Diff::parse`] the pull request's diff (or [`Diff::from_pr_files`]);
//!    [`trivial_reason`] says whether the cheap tier will do.
//! 2. [`plan`] it: files skipped by [`SkipRules`] (each with its [`SkipReason`]), the rest cut
//!    into [`Chunk`]s within a token budget ([`ChunkOptions`]), with context from [`HeadFiles`]
//!    and the [`Coverage`] for the summary ([`ReviewPlan::coverage_line`]).
//! 3. Send each chunk's [`Chunk::text`] (explained to the model by [`LINE_FORMAT`]), ask for
//!    [`ChunkFindings::schema`], accept with [`Chunk::check`].
//! 4. [`merge`] the chunks' [`Finding`]s: duplicates and findings already raised dropped, then
//!    [`NoiseControl`]'s severity, confidence and cap.
//! 5. [`Finding::place`] each kept finding ([`Placement`]) and post [`Finding::comment`]s; the
//!    comment carries its [`Fingerprint`], which the next push's review reads back
//!    ([`Fingerprint::find_in`]) to stay silent about what was already said, even after the code
//!    moved ([`AnchoredCode::locate`]).

pub mod anchor;
pub mod chunk;
pub mod config;
pub mod diff;
pub mod finding;
pub mod fingerprint;
pub mod fix;
pub mod job;
pub mod memory;
pub mod merge;
pub mod render;
pub mod skip;
pub mod trigger;
pub mod trivial;

#[cfg(test)]
pub(crate) mod testing;

pub use anchor::{Anchor, Placement};
pub use chunk::{
    Chunk, ChunkOptions, Coverage, HeadFiles, NoContext, Part, ReviewPlan, Section, Skipped,
    estimate_tokens, plan,
};
pub use diff::{Diff, DiffError, FileDiff, FileStatus, Hunk, Line, LineKind, LineRange};
pub use finding::{ChunkFindings, Finding, Severity};
pub use fingerprint::{AnchoredCode, Fingerprint};
pub use merge::{Dropped, Kept, Merged, NoiseControl, merge};
pub use render::LINE_FORMAT;
pub use skip::{SkipReason, SkipRules};
pub use trivial::trivial_reason;
