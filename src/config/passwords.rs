//! Password hashing: Argon2id's parameters and how many hashes run at once.

use super::env::Env;
use super::ConfigError;

#[derive(Clone, Debug)]
pub struct PasswordSettings {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How many hashes may run at once; more wait their turn.
    pub hash_concurrency: usize,
}

impl PasswordSettings {
    pub(super) fn read(env: &Env) -> Result<Self, ConfigError> {
        let settings = PasswordSettings {
            argon2_memory_kib: env.parse("ARGON2_MEMORY_KIB", 19_456)?,
            argon2_iterations: env.parse("ARGON2_ITERATIONS", 2)?,
            argon2_parallelism: env.parse("ARGON2_PARALLELISM", 1)?,
            hash_concurrency: env.concurrency("PASSWORD_HASH_CONCURRENCY", env.cores)?,
        };
        if settings.argon2_memory_kib < 19_456
            || settings.argon2_iterations < 2
            || settings.argon2_parallelism < 1
        {
            return Err(ConfigError("Argon2 parameters must be at least OWASP's: ARGON2_MEMORY_KIB>=19456, ARGON2_ITERATIONS>=2, ARGON2_PARALLELISM>=1".into()));
        }
        Ok(settings)
    }
}
