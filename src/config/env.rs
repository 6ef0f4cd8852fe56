//! Reading variables: one source (the process environment, or a map in
//! tests), with blank values taken as unset and every parse failure
//! naming its variable.

use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

pub(super) struct Env<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    /// Whether `BIND_ADDRESS` is a loopback address: a development machine,
    /// where some defaults are friendlier.
    pub loopback: bool,
    pub cores: usize,
}

impl<'a> Env<'a> {
    pub fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env {
            get,
            loopback: true,
            cores: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }

    /// The value, unless unset or blank.
    pub fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

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

    pub fn secs(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        self.parse(name, default).map(Duration::from_secs)
    }
}
