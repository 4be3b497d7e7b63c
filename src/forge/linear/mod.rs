//! Linear through its GraphQL API: one client ([`Linear`]) with typed operations, one request
//! path with timeouts, retries and rate-limit waits ([`transport`]), and the status comment that
//! must exist once per issue however often a job runs ([`Linear::sticky_comment`]).
//!
//! Linear has one endpoint (`POST {api_url}/graphql`); every operation Orion sends is a named
//! document in [`documents`], so logs, errors and the test fake all speak of `CommentCreate`
//! rather than of "a request".

mod client;
mod documents;
mod error;
mod sticky;
mod transport;

pub use client::{
    Comment, Issue, Label, Linear, LinearAuth, ProjectRef, StateTarget, TeamRef, User,
    WorkflowState,
};
pub use error::LinearError;
pub use sticky::{marker, with_marker};

/// The environment variable that points Orion at another Linear API root (a test server); it
/// wins over `linear.api_url`.
pub const API_URL_ENV: &str = "ORION_LINEAR_API_URL";
