//! Deleting an account: `DELETE /accounts/me` (with the password),
//! `DELETE /admin/users/{id}` and `accounts users delete`.
//!
//! In one transaction: the user row (the profile, mail tokens and embedded
//! sessions go with it by `ON DELETE CASCADE`), the user's mail, pending or
//! sent, and their unhandled reset requests; the deletion notice is
//! written in the same transaction, bound to no user. After the commit:
//! every session in Redis, the cached copy of the user (replaced by a
//! tombstone that no stale copy can overwrite), the account's login
//! counters and the picture file. A crash before the file is removed
//! leaves a file no profile points at: it is never served (`media_file`
//! checks), and the media sweep removes it.

use super::reauthentication::Consent;
use super::staff::{Action, Actor};
use super::{mailing, Accounts};
use crate::auth::sessions::SessionUser;
use crate::db::{outbox, profiles, reset_requests, users};
use crate::error::ApiError;
use crate::foreground;
use crate::mail::Mail;
use crate::telemetry::spawn_blocking_in_span;

/// Who deletes: the user themselves, or an actor of the admin API or CLI.
pub enum Deleter<'a> {
    Owner,
    Admin(&'a Actor),
}

impl Accounts {
    /// The logged-in user leaves, with the password (a wrong one is 400 and
    /// counts toward the login throttle) or a recent authentication.
    pub async fn delete_own_account(&self, user_id: i32, consent: Consent) -> Result<(), ApiError> {
        let _password_work = foreground::PasswordWork::begin();
        let user = self
            .active_user(user_id)
            .await?
            .ok_or(ApiError::NotAuthenticated)?;
        self.require_consent(&user, consent).await?;
        self.erase(user_id, Deleter::Owner).await.map(drop)
    }

    /// Staff or the operator delete an account (the permission rules first).
    pub async fn admin_delete(&self, actor: &Actor, user_id: i32) -> Result<(), ApiError> {
        self.permit(actor, user_id, Action::Delete).await?;
        self.erase(user_id, Deleter::Admin(actor)).await.map(drop)
    }

    /// Deletes everything of the user; false if they were already gone.
    async fn erase(&self, user_id: i32, by: Deleter<'_>) -> Result<bool, ApiError> {
        let mailer = self.mailer.clone();
        let erased = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    users::lock(conn, user_id)?;
                    let Some(user) = users::find(conn, user_id)? else {
                        return Ok(None);
                    };
                    let picture = profiles::find(conn, user_id)
                        .map(|p| p.profile_pic)
                        .or_else(|e| match e {
                            ApiError::NotFound => Ok(None),
                            other => Err(other),
                        })?;
                    outbox::delete_for_user(conn, user_id)?;
                    reset_requests::delete_for(conn, &user.email_canonical)?;
                    users::delete(conn, user_id)?;
                    let now = crate::db::now();
                    mailing::write(
                        conn,
                        &mailer,
                        &user,
                        &user.email,
                        &Mail::AccountDeleted,
                        now,
                    )?;
                    Ok(Some((user, picture)))
                })
            })
            .await?;
        let Some((user, picture)) = erased else {
            return Ok(false);
        };
        self.mailer.wake();
        self.audit_deletion(
            match by {
                Deleter::Owner => None,
                Deleter::Admin(actor) => Some(actor),
            },
            user_id,
        );
        if let Err(e) = self.throttle.clear_account(&user.email_canonical).await {
            tracing::warn!(error = %e, user_id, "could not clear a deleted user's login counters");
        }
        if let (Some(picture), Some(store)) = (picture, self.media.clone()) {
            let removed = spawn_blocking_in_span(move || store.remove(&picture)).await?;
            if let Err(e) = removed {
                tracing::warn!(error = %e, user_id, "could not delete a deleted user's picture; the media sweep will");
            }
        }
        // The account is gone from here on. The stored sessions must go
        // too before the answer: the cached user is replaced by the
        // tombstone first (with it, no session of the user passes even if
        // ending them fails), both retried through a short outage; if the
        // session store stays down, the answer is 503, not a 204 that a
        // session could outlive (`USER_CACHE_TTL_SECS` at most).
        self.end_deleted_sessions(user_id).await?;
        Ok(true)
    }

    /// Writes the tombstone and ends every stored session of a deleted
    /// user, retrying for about two seconds.
    async fn end_deleted_sessions(&self, user_id: i32) -> Result<(), ApiError> {
        let mut wait = std::time::Duration::from_millis(100);
        loop {
            let ended = async {
                self.sessions
                    .cache_user(&SessionUser::deleted(user_id))
                    .await?;
                self.sessions.revoke_all(user_id).await
            }
            .await;
            match ended {
                Ok(()) => return Ok(()),
                Err(e) if wait < std::time::Duration::from_secs(1) => {
                    tracing::warn!(error = %e, user_id, "ending a deleted user's sessions; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                Err(e) => {
                    tracing::error!(error = %e, user_id, "a deleted user's sessions could not be ended");
                    return Err(e);
                }
            }
        }
    }
}
