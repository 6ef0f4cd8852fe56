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
            cores: std::thread::available_parallelism().map_or(2, |n| n.get().min(1024)),
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

    /// A number of seconds, at most ten years (a longer one would overflow
    /// date arithmetic, and nothing here should last that long).
    pub fn secs(&self, name: &str, default: u64) -> Result<Duration, ConfigError> {
        const TEN_YEARS: u64 = 10 * 366 * 24 * 60 * 60;
        let secs = self.parse(name, default)?;
        if secs > TEN_YEARS {
            return Err(ConfigError(format!(
                "{name}={secs} is more than ten years ({TEN_YEARS} seconds)"
            )));
        }
        Ok(Duration::from_secs(secs))
    }

    /// A count of things run at once (threads, permits): 1 to 1024.
    pub fn concurrency(&self, name: &str, default: usize) -> Result<usize, ConfigError> {
        let n = self.parse(name, default)?;
        if !(1..=1024).contains(&n) {
            return Err(ConfigError(format!("{name}={n} must be from 1 to 1024")));
        }
        Ok(n)
    }
}
