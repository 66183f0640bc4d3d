//! End-to-end tests: each starts the real stack on loopback and speaks HTTP to it.

mod accounts;
mod catalog;
mod inventory;
mod orders;
mod reviews;
