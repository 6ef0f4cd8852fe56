//! accounts: a JSON REST service for user accounts.

pub mod accounts;
pub mod api;
pub mod auth;
pub mod background;
pub mod config;
pub mod db;
pub mod django;
pub mod domain;
pub mod error;
pub mod foreground;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod openapi;
pub mod operator;
pub mod redis_pool;
pub mod startup;
pub mod telemetry;
