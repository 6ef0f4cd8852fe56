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

/// The newest of the user's sessions, and how many are live.
pub struct SessionList {
    /// Newest first, at most `SESSION_LIST_LIMIT`.
    pub sessions: Vec<SessionListing>,
    pub count: u64,
}

impl Accounts {
    /// The user's newest live sessions (at most `SESSION_LIST_LIMIT`),
    /// browsers and apps alike, and how many there are; `current` is the
    /// public id of the session asking.
    pub async fn list_sessions(
        &self,
        user_id: i32,
        current: Option<&str>,
    ) -> Result<SessionList, ApiError> {
        let page = self
            .sessions
            .list(user_id, self.settings.sessions.list_limit)
            .await?;
        Ok(SessionList {
            sessions: page
                .sessions
                .into_iter()
                .map(|info| SessionListing {
                    current: current == Some(info.id.as_str()),
                    info,
                })
                .collect(),
            count: page.count,
        })
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
