//! Integration tests: every test runs the real server, on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod foundation;
mod revocation;
