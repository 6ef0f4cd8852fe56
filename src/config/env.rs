//! Reading variables: one source (the process environment, or a map in
//! tests), with blank values taken as unset and every parse failure
//! naming its variable.
//!
//! Every number goes through `int` or `secs`, each with its own range:
//! nothing larger than its upper bound reaches code that adds to it or
//! multiplies it. Each bounded variable is recorded, so a test can try
//! every one of them just past its bound and README can be checked
//! against them.

use std::cell::{Cell, RefCell};
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

/// One numeric setting and its range, as read (seconds for durations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bound {
    pub name: String,
    pub min: u64,
    pub max: u64,
}

pub(super) struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    /// Whether `BIND_ADDRESS` is a loopback address: a development machine,
    /// where some defaults are friendlier.
    pub loopback: Cell<bool>,
    /// Whether `DATABASE_URL` is the embedded SQLite: with the loopback
    /// address, the only setup the development `SECRET_KEY` is for.
    pub embedded_database: Cell<bool>,
    pub cores: usize,
    pub bounds: RefCell<Vec<Bound>>,
}

/// Durations in seconds: at most ten years (a longer one would overflow
/// date arithmetic, and nothing here should last that long).
pub(super) const TEN_YEARS: u64 = 10 * 366 * 24 * 60 * 60;
pub(super) const DAY: u64 = 24 * 60 * 60;

impl<'a> Env<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env {
            get,
            loopback: Cell::new(true),
            embedded_database: Cell::new(true),
            cores: std::thread::available_parallelism().map_or(2, |n| n.get().min(1024)),
            bounds: RefCell::new(Vec::new()),
        }
    }

    /// The value, unless unset or blank.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// A non-numeric value (a flag), parsed.
    pub fn parse<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        match self.var(name) {
            None => Ok(default),
            Some(raw) => raw.trim().parse().map_err(|_| {
                ConfigError(format!(
                    "{name}={raw:?} is not a valid {}",
                    std::any::type_name::<T>()
                ))
            }),
        }
    }

    /// A whole number within `range`. A value too large for the type at
    /// all (`18446744073709551616`) is out of range too, not "invalid".
    pub fn int<T>(&self, name: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + Display + Copy + TryInto<u64>,
    {
        let (min, max) = (*range.start(), *range.end());
        self.bounds.borrow_mut().push(Bound {
            name: name.to_owned(),
            min: min.try_into().unwrap_or(0),
            max: max.try_into().unwrap_or(u64::MAX),
        });
        let out_of_range = || ConfigError(format!("{name} must be from {min} to {max}"));
        let Some(raw) = self.var(name) else {
            return Ok(default);
        };
        let raw = raw.trim();
        match raw.parse::<T>() {
            Ok(n) if range.contains(&n) => Ok(n),
            Ok(_) => Err(out_of_range()),
            // All digits but unparsable: too large for the type.
            Err(_)
                if !raw.is_empty()
                    && raw
                        .trim_start_matches(['-', '+'])
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
            {
                Err(out_of_range())
            }
            Err(_) => Err(ConfigError(format!(
                "{name}={raw:?} is not a whole number (from {min} to {max})"
            ))),
        }
    }

    /// A number of seconds within `range`.
    pub fn secs(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        debug_assert!(*range.end() <= TEN_YEARS);
        self.int(name, default, range).map(Duration::from_secs)
    }

    /// A count of things run at once (threads, permits): 1 to 1024.
    pub fn concurrency(&self, name: &str, default: usize) -> Result<usize, ConfigError> {
        self.int(name, default, 1..=1024)
    }
}
