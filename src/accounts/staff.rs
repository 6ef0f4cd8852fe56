//! Who may do what to whom in the admin API: the one place the permission
//! rules live. Every admin use case asks `Accounts::permit` first.
//!
//! - Every admin operation needs an active staff user (403
//!   `permission_denied` otherwise); the command line (`accounts users
//!   ...`, run by whoever runs the server) is the operator and passes.
//! - Reading (the list, one user) is for any staff user.
//! - Acting on another staff user or a superuser, and changing anyone's
//!   `is_staff`, is for superusers only.
//! - Nobody deactivates, demotes or deletes themselves here (400): that
//!   would lock the last administrator out; `DELETE /accounts/me` exists
//!   for leaving.

use super::Accounts;
use crate::db::models::User;
use crate::db::users::{self, StaffChanges};
use crate::error::ApiError;

/// Who asks.
#[derive(Debug, Clone)]
pub enum Actor {
    Staff {
        id: i32,
        is_superuser: bool,
    },
    /// The command line.
    Operator,
}

impl Actor {
    /// For the audit log: the staff user's id, or "operator".
    pub fn name(&self) -> String {
        match self {
            Actor::Staff { id, .. } => format!("user:{id}"),
            Actor::Operator => "operator".into(),
        }
    }

    fn is_superuser(&self) -> bool {
        matches!(
            self,
            Actor::Operator
                | Actor::Staff {
                    is_superuser: true,
                    ..
                }
        )
    }

    fn is(&self, user: &User) -> bool {
        matches!(self, Actor::Staff { id, .. } if *id == user.id)
    }
}

/// What the actor wants to do to the target.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Read,
    Edit(&'a StaffChanges),
    Delete,
    /// List or end sessions, send a reset.
    Act,
    /// Remove the second factor.
    RemoveMfa,
}

/// The rules, on users already loaded.
pub fn check(actor: &Actor, target: &User, action: Action<'_>) -> Result<(), ApiError> {
    if matches!(action, Action::Read) {
        return Ok(());
    }
    if actor.is(target) {
        let refuse = |field: &str, message: &str| Err(ApiError::field(field, message));
        match action {
            Action::Delete => {
                return refuse(
                    "id",
                    "You cannot delete your own account here; use DELETE /accounts/me.",
                )
            }
            Action::Edit(changes) if changes.is_active == Some(false) => {
                return refuse("is_active", "You cannot deactivate your own account.")
            }
            Action::Edit(changes) if changes.is_staff == Some(false) => {
                return refuse("is_staff", "You cannot remove your own staff status.")
            }
            // One's own second factor goes through DELETE /accounts/mfa/totp,
            // which needs a recent authentication: a stolen staff session
            // must not shed it here.
            Action::RemoveMfa => {
                return refuse(
                    "id",
                    "You cannot remove your own second factor here; use DELETE /accounts/mfa/totp.",
                )
            }
            _ => {}
        }
    } else if (target.is_staff || target.is_superuser) && !actor.is_superuser() {
        return Err(ApiError::PermissionDenied);
    }
    if let Action::Edit(changes) = action {
        if changes.is_staff.is_some() && !actor.is_superuser() {
            return Err(ApiError::PermissionDenied);
        }
    }
    Ok(())
}

impl Accounts {
    /// The staff user behind a session, as an actor (fresh from the
    /// database: a demotion counts at once). 403 for anyone else.
    pub async fn staff_actor(&self, user_id: i32) -> Result<Actor, ApiError> {
        let user = self.active_user(user_id).await?;
        match user {
            Some(user) if user.is_staff => Ok(Actor::Staff {
                id: user.id,
                is_superuser: user.is_superuser,
            }),
            Some(_) => Err(ApiError::PermissionDenied),
            None => Err(ApiError::NotAuthenticated),
        }
    }

    /// Loads the target and checks the rules: 404 when there is no such
    /// user (for any staff user, so ids can be read but not probed by
    /// others: the 403 has come first).
    pub(super) async fn permit(
        &self,
        actor: &Actor,
        target_id: i32,
        action: Action<'_>,
    ) -> Result<User, ApiError> {
        let target = self
            .db
            .run(move |conn| users::find(conn, target_id))
            .await?
            .ok_or(ApiError::NotFound)?;
        check(actor, &target, action)?;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32, is_staff: bool, is_superuser: bool) -> User {
        User {
            id,
            email: format!("u{id}@example.com"),
            email_canonical: format!("u{id}@example.com"),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: String::new(),
            is_active: true,
            is_staff,
            is_superuser,
            date_joined: chrono::NaiveDateTime::default(),
            last_login: None,
            email_verified: false,
            session_generation: 0,
        }
    }

    #[test]
    fn the_rules() {
        let staff = Actor::Staff {
            id: 1,
            is_superuser: false,
        };
        let superuser = Actor::Staff {
            id: 2,
            is_superuser: true,
        };
        let plain = user(3, false, false);
        let other_staff = user(4, true, false);
        let promote = StaffChanges {
            is_staff: Some(true),
            ..Default::default()
        };
        let deactivate = StaffChanges {
            is_active: Some(false),
            ..Default::default()
        };
        let code = |r: Result<(), ApiError>| r.err().map(|e| e.code());
        assert_eq!(code(check(&staff, &plain, Action::Delete)), None);
        assert_eq!(code(check(&staff, &other_staff, Action::Read)), None);
        for action in [
            Action::Act,
            Action::Delete,
            Action::RemoveMfa,
            Action::Edit(&deactivate),
        ] {
            assert_eq!(
                code(check(&staff, &other_staff, action)),
                Some("permission_denied")
            );
            assert_eq!(code(check(&superuser, &other_staff, action)), None);
            assert_eq!(code(check(&Actor::Operator, &other_staff, action)), None);
        }
        assert_eq!(
            code(check(&staff, &plain, Action::Edit(&promote))),
            Some("permission_denied")
        );
        assert_eq!(
            code(check(&superuser, &plain, Action::Edit(&promote))),
            None
        );
        let me = user(2, true, true);
        for action in [Action::Delete, Action::RemoveMfa, Action::Edit(&deactivate)] {
            assert_eq!(
                code(check(&superuser, &me, action)),
                Some("validation_failed")
            );
        }
        let demote = StaffChanges {
            is_staff: Some(false),
            ..Default::default()
        };
        assert_eq!(
            code(check(&superuser, &me, Action::Edit(&demote))),
            Some("validation_failed")
        );
        assert_eq!(code(check(&superuser, &me, Action::Act)), None);
    }
}
