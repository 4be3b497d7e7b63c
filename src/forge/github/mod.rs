//! GitHub through octocrab: App or token auth ([`GitHubCredentials`]), one client ([`GitHub`])
//! with per-installation token caching, one request path with timeouts, retries and rate-limit
//! waits ([`transport`]), repository operations ([`Repo`]), and the writes that must happen
//! exactly once ([`Effects`]).

mod client;
mod conditional;
mod config;
mod credentials;
mod effects;
mod error;
mod repo;
mod transport;

pub use client::{GitHub, Identity, InstallationInfo};
pub use conditional::{ReadCache, ReadCost};
pub use config::{API_URL_ENV, GitHubConfig};
pub use credentials::{
    APP_ID_ENV, APP_PRIVATE_KEY_ENV, GitHubCredentials, GitHubSecrets, TOKEN_ENV,
};
pub use effects::{DryRun, Effects, Outcome, marker, with_marker};
pub use error::ForgeError;
pub use repo::{
    CheckConclusion, CheckOutput, CheckRunApp, CheckRunOutput, CheckRunSummary, CheckRunUpdate,
    CheckStatus, INSTRUCTION_FILES, InlineComment, NewCheckRun, NewPullRequest, NewReview,
    Permission, PullRequestUpdate, ReactionTarget, Repo, ReviewEvent, Side,
};
pub use transport::Api;
