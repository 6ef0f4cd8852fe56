//! The process: where it listens, how many workers, how it stops, how it
//! logs.

use std::net::SocketAddr;
use std::time::Duration;

use super::env::Env;
use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Debug)]
pub struct ServerSettings {
    pub bind_address: String,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub log_format: LogFormat,
}

impl ServerSettings {
    /// Also says whether the address is a loopback one (a development
    /// machine), which other sections' defaults depend on.
    pub(super) fn read(env: &Env) -> Result<(Self, bool), ConfigError> {
        let bind_address = env
            .var("BIND_ADDRESS")
            .unwrap_or_else(|| "127.0.0.1:8000".into());
        let socket: SocketAddr = bind_address.parse().map_err(|_| {
            ConfigError(format!(
                "BIND_ADDRESS={bind_address:?} is not an address like 127.0.0.1:8000"
            ))
        })?;
        let loopback = socket.ip().is_loopback();
        let log_format = match env.var("LOG_FORMAT").as_deref() {
            None if loopback => LogFormat::Pretty,
            None => LogFormat::Json,
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(other) => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT={other:?} must be json or pretty"
                )))
            }
        };
        let settings = ServerSettings {
            workers: env.concurrency("WORKERS", env.cores)?,
            shutdown_timeout: env.secs("SHUTDOWN_TIMEOUT_SECS", 30, 0..=3600)?,
            log_format,
            bind_address,
        };
        Ok((settings, loopback))
    }
}
