//! Integration tests: every test runs the real server, on SQLite and on PostgreSQL.

mod fixtures;
mod helpers;
#[path = "../support/smtp.rs"]
mod smtp;

mod access_keys;
mod account_mail;
mod app_cred_secrets;
mod auth;
mod auth_rules;
mod bad_input;
mod bound_users;
mod cache;
mod concurrency;
mod credential_keys;
mod db_failures;
mod ec2tokens;
mod foundation;
mod hashing;
mod inactivity;
mod invitations;
mod links;
mod lists;
mod mail;
mod management;
mod metrics;
mod mfa;
mod mfa_page;
mod operator;
mod passwords;
mod policy;
mod realm;
mod revocation;
mod settings;
mod totp;
mod web;
