//! Coming from Django: `accounts import-django` reads a Django project's
//! database (`source`) and imports its users through the use case in
//! `accounts::django_import` (`command` is the command line around it).

pub mod command;
pub mod source;
pub mod tables;
