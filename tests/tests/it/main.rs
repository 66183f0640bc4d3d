//! End-to-end tests: each starts the real stack on loopback and speaks HTTP to it.

mod accounts;
mod bff_mobile;
mod bff_web;
mod cache;
mod catalog;
mod engine_replicas;
mod faults;
mod graphiql;
mod inventory;
mod keys;
mod live_orders;
mod node_clients;
mod order_events;
mod order_outbox;
mod orders;
mod own_subgraphs;
mod reviews;
mod session;
mod slow_subscribers;
mod webhooks;
