//! Orion: a self-hosted, git-native AI agent bot for issue trackers and pull requests.
//!
//! The spine: a signed webhook edge ([`webhook`]) turns deliveries into Orion's own
//! [`event::Event`]s and persists them with their jobs ([`store`]); workers run the jobs from a
//! durable queue ([`queue`]); [`app`] wires it together and [`config`] configures it.

pub mod agent;
pub mod app;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod event;
pub mod failpoint;
pub mod forge;
pub mod git;
pub mod heartbeat;
pub mod implement;
pub mod jobs;
pub mod llm;
pub mod locks;
pub mod metrics;
pub mod queue;
pub mod report;
pub mod review;
pub mod sandbox;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod web;
pub mod webhook;
