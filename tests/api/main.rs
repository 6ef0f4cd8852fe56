//! Integration tests: the real app over HTTP, on SQLite with the embedded
//! session store, and again on PostgreSQL + Redis when TEST_DATABASE_URL
//! and TEST_REDIS_URL are set.

mod authenticator;
mod helpers;
mod images;
mod smtp;

mod account_deletion;
mod admin;
mod admin_search;
mod admin_sessions;
mod bad_input;
mod browsers;
mod cli;
mod cookie_tossing;
mod csrf;
mod django_import;
mod django_passwords;
mod email_change;
mod email_verification;
mod login;
mod login_floor;
mod logins_in_flight;
mod logout;
mod lookalike_addresses;
mod mail_delivery;
mod mail_greetings;
mod me;
mod mfa;
mod openapi;
mod operations;
mod password_reset;
mod picture_memory;
mod picture_uploads;
mod profile;
mod purge;
mod query_plans;
mod reauthentication;
mod register;
mod registration_limit;
mod requests;
mod security;
mod session_cap;
mod session_lifetimes;
mod sessions;
mod startup_errors;
mod use_cases;
