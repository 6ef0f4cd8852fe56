//! Who is calling: passwords, sessions (cookie or Bearer, one store), CSRF,
//! and login throttling.

pub mod current;
pub mod hash_pool;
pub mod passwords;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod transport;
