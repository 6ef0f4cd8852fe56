//! The second factor: the issuer authenticator apps show, and how long and
//! how many codes a login waiting for its second step gets.

use std::time::Duration;

use super::env::Env;
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct MfaSettings {
    /// The `issuer` of the `otpauth://` URL (the name apps list).
    pub issuer: String,
    /// An `mfa_token` lives this long.
    pub login_ttl: Duration,
    /// Wrong codes an `mfa_token` survives (it dies at this many).
    pub code_attempts: i32,
}

impl MfaSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let settings = MfaSettings {
            issuer: env.var("MFA_ISSUER").unwrap_or_else(|| "accounts".into()),
            login_ttl: env.secs("MFA_LOGIN_TTL_SECS", 300, 1..=3600)?,
            code_attempts: env.int("MFA_CODE_ATTEMPTS", 5, 1..=20)?,
        };
        // The otpauth label is `issuer:email`: a colon would split it.
        if settings.issuer.trim().is_empty() || settings.issuer.contains(':') {
            return Err(ConfigError(
                "MFA_ISSUER must be a non-empty name without ':'".into(),
            ));
        }
        Ok(settings)
    }
}
