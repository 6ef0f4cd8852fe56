//! The HTTP layer: thin handlers, the JSON extractor, error fallbacks and
//! the one route table.

pub mod account_deletion;
pub mod accounts;
pub mod admin;
pub mod admin_schemas;
pub mod current_user;
pub mod docs;
pub mod email_change;
pub mod email_verification;
pub mod fallback;
pub mod health;
pub mod json;
pub mod me;
pub mod media;
pub mod mfa;
pub mod multipart;
pub mod password;
pub mod password_reset;
pub mod profile;
pub mod reauthentication;
pub mod responses;
pub mod routes;
pub mod schemas;
pub mod sessions;

use std::sync::Arc;

use actix_web::HttpRequest;

use crate::accounts::Accounts;
use crate::config::Settings;

/// What every handler may use, built once at start-up: the use cases, and
/// the settings that shape HTTP (cookies, limits on bodies, proxies).
pub struct AppState {
    pub accounts: Accounts,
    pub settings: Arc<Settings>,
}

impl AppState {
    /// The client's address: the socket's, or `X-Forwarded-For`'s when the
    /// operator says a trusted proxy sets it.
    pub fn client_ip(&self, req: &HttpRequest) -> String {
        let peer = || req.peer_addr().map(|a| a.ip().to_string());
        let addr = if self.settings.http.trust_forwarded_for {
            // The last entry is the one the trusted proxy added; those
            // before it are whatever the client chose to send.
            req.headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .last()
                .map(str::to_owned)
                .or_else(peer)
        } else {
            peer()
        };
        addr.unwrap_or_else(|| "unknown".into())
    }
}

#[cfg(test)]
mod tests {
    /// Handlers reach the stores only through a use case. `Accounts` keeps
    /// its stores private, so the compiler already refuses most of this;
    /// the check catches a store built or imported here directly.
    #[test]
    fn handlers_reach_no_store_directly() {
        const STORES: [&str; 10] = [
            ".run(",
            "crate::db::Db",
            "crate::db::users",
            "crate::db::profiles",
            "MediaStore",
            "Sessions",
            "DbStore",
            "RedisStore",
            "LoginThrottle",
            "Passwords",
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).expect("src/api") {
            let path = entry.expect("an entry").path();
            let text = std::fs::read_to_string(&path).expect("a source file");
            // Not the tests (this one names the stores to look for them).
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for store in STORES {
                if mentions(code, store) {
                    found.push(format!("{}: {store}", path.display()));
                }
            }
        }
        assert!(found.is_empty(), "handlers touching stores: {found:?}");
    }

    /// `name` as a whole word (`Sessions`, not `SessionsResponse`).
    fn mentions(code: &str, name: &str) -> bool {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        code.match_indices(name).any(|(at, _)| {
            let after = code[at + name.len()..].chars().next();
            !after.is_some_and(ident) || !name.ends_with(ident)
        })
    }
}
