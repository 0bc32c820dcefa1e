//! Ironstone: an OpenStack Keystone v3-compatible identity provider.
//!
//! Layers: `api` (HTTP only) calls the domain modules (`auth`, `token`, `resource`, `assignment`,
//! `catalog`, `policy`, `bootstrap`), which reach the database only through `store`.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod app;
pub mod assignment;
pub mod auth;
pub mod bootstrap;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod context;
pub mod credential;
pub mod error;
pub mod identity;
pub mod ids;
pub mod mail;
pub mod patch;
pub mod policy;
pub mod realm;
pub mod resource;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod token;
pub mod web;
