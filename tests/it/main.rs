//! Orion's integration tests, in one crate so they link once.

mod corpus;
mod dashboard;
mod edge;
mod fake_github;
mod fake_linear;
mod fake_model;
mod fake_slack;
mod forge;
mod git;
mod heartbeat;
mod implement;
mod implement_process;
mod linear;
mod linear_tasks;
mod llm_providers;
mod llm_routing;
mod process;
mod queue;
mod report;
mod review;
mod sandbox;
mod support;
