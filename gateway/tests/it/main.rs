//! Integration tests of the engine: real test subgraphs on loopback, the router over HTTP.

mod federation;
mod http;
mod robustness;
mod subgraphs;
mod support;
