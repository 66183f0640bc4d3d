//! Integration tests of the engine: real test subgraphs on loopback, the router over HTTP.

mod auth;
mod authorization;
mod config;
mod cost;
mod defer;
mod federation;
mod http;
mod layering;
mod persisted;
mod rate_limit;
mod robustness;
mod subgraphs;
mod support;
