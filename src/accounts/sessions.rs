//! The user's sessions: `GET /accounts/sessions` and
//! `DELETE /accounts/sessions/{id}`.

use super::Accounts;
use crate::auth::sessions::SessionInfo;
use crate::error::ApiError;

/// One session as its user sees it.
pub struct SessionListing {
    pub info: SessionInfo,
    /// The session making the request.
    pub current: bool,
}

impl Accounts {
    /// Every live session of the user, browsers and apps alike, most
    /// recently seen first; `current` is the public id of the session
    /// asking.
    pub async fn list_sessions(
        &self,
        user_id: i32,
        current: Option<&str>,
    ) -> Result<Vec<SessionListing>, ApiError> {
        let mut sessions = self.sessions.list(user_id).await?;
        sessions.sort_by(|a, b| {
            b.last_seen_at
                .cmp(&a.last_seen_at)
                .then(b.created_at.cmp(&a.created_at))
        });
        Ok(sessions
            .into_iter()
            .map(|info| SessionListing {
                current: current == Some(info.id.as_str()),
                info,
            })
            .collect())
    }

    /// Ends one of the user's sessions by its public id, at once and
    /// everywhere; 404 when the user has no such session (whatever the id
    /// looks like).
    pub async fn revoke_session(&self, user_id: i32, id: &str) -> Result<(), ApiError> {
        let well_formed = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed || !self.sessions.revoke(user_id, id).await? {
            return Err(ApiError::NotFound);
        }
        Ok(())
    }
}
