//! The HTTP layer: thin handlers, the JSON extractor, error fallbacks and
//! the one route table.

pub mod accounts;
pub mod current_user;
pub mod docs;
pub mod fallback;
pub mod health;
pub mod json;
pub mod me;
pub mod media;
pub mod multipart;
pub mod password;
pub mod profile;
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
        let addr = if self.settings.trust_forwarded_for {
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
