//! Who is calling: passwords, sessions (cookie or Bearer, one store), CSRF,
//! and throttling of logins, registrations and reset requests.

pub mod address_limit;
mod argon2_work;
pub mod current;
pub mod django_hashes;
pub mod hash_pool;
pub mod login_floor;
pub mod mfa_logins;
pub mod passwords;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod transport;
