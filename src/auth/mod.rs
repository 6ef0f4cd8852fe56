//! Who is calling: passwords, sessions (cookie or Bearer, one store), CSRF,
//! and throttling of logins and registrations.

pub mod current;
pub mod hash_pool;
pub mod passwords;
pub mod registration_limit;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod transport;
