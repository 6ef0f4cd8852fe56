//! The login throttle: failed attempts allowed per account and per
//! address in a window.

use std::time::Duration;

use super::env::Env;
use super::ConfigError;

/// Failed logins (and wrong current passwords) allowed per window.
#[derive(Clone, Debug)]
pub struct ThrottleSettings {
    pub login_failures_per_account: u32,
    pub login_failures_per_ip: u32,
    pub login_failure_window: Duration,
}

impl ThrottleSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let settings = ThrottleSettings {
            login_failures_per_account: env.parse("LOGIN_FAILURES_PER_ACCOUNT", 5)?,
            login_failures_per_ip: env.parse("LOGIN_FAILURES_PER_IP", 100)?,
            login_failure_window: env.secs("LOGIN_FAILURE_WINDOW_SECS", 900)?,
        };
        if settings.login_failure_window.is_zero()
            || settings.login_failures_per_account == 0
            || settings.login_failures_per_ip == 0
        {
            return Err(ConfigError("LOGIN_FAILURE_WINDOW_SECS, LOGIN_FAILURES_PER_ACCOUNT and LOGIN_FAILURES_PER_IP must be positive".into()));
        }
        Ok(settings)
    }
}
