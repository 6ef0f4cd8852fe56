//! Password hashing: Argon2id's parameters and how many hashes run at once.

use super::env::Env;
use super::ConfigError;

/// The costliest Argon2 a hash may ask for, ours or one moved from
/// Django: 256 MiB and 16 passes take seconds, as the other formats'
/// bounds do (`auth::django_hashes`). Django's own default (100 MiB, 2
/// passes, 8 lanes) is well within.
pub const ARGON2_MAX_MEMORY_KIB: u32 = 256 * 1024;
pub const ARGON2_MAX_ITERATIONS: u32 = 16;
pub const ARGON2_MAX_PARALLELISM: u32 = 64;

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
        // Never below OWASP's minimum; never above what an imported
        // `argon2$` hash may ask for (the same bounds, `ARGON2_MAX_*`).
        let settings = PasswordSettings {
            argon2_memory_kib: env.int(
                "ARGON2_MEMORY_KIB",
                19_456,
                19_456..=ARGON2_MAX_MEMORY_KIB,
            )?,
            argon2_iterations: env.int("ARGON2_ITERATIONS", 2, 2..=ARGON2_MAX_ITERATIONS)?,
            argon2_parallelism: env.int("ARGON2_PARALLELISM", 1, 1..=ARGON2_MAX_PARALLELISM)?,
            hash_concurrency: env.concurrency("PASSWORD_HASH_CONCURRENCY", env.cores)?,
        };
        Ok(settings)
    }
}
