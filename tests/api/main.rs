//! Integration tests: every test runs the real server, on SQLite and on PostgreSQL.

mod fixtures;
mod helpers;

mod access_keys;
mod auth;
mod auth_rules;
mod credential_keys;
mod foundation;
mod hashing;
mod management;
mod policy;
mod revocation;
