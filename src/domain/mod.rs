//! Pure rules about account data: parsing and validation with no HTTP, no
//! database. Each `parse` returns the normalised value or the messages a
//! client sees under `errors.<field>`.

pub mod email;
pub mod password_policy;
pub mod profile_fields;
pub mod user_fields;

pub use email::Email;
pub use password_policy::check_password;
pub use profile_fields::{parse_bio, parse_portfolio_site};
pub use user_fields::{parse_name, parse_username};
