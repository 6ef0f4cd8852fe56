//! The staff's admin API (`/admin/users...`) and the operator's command
//! line (`accounts users ...`): find users, read and edit one, end their
//! sessions, mail them a reset link, remove their second factor. Deleting
//! is in `deletion`. Each use case asks `permit` (the rules in `staff`)
//! first and leaves an audit event after.

use super::sessions::SessionList;
use super::staff::{Action, Actor};
use super::{push, Accounts};
use crate::auth::sessions::SessionUser;
use crate::db::email_tokens::{self, Purpose};
use crate::db::models::User;
use crate::db::user_search::{self, UserFilter};
use crate::db::users::{self, StaffChanges};
use crate::db::{outbox, reset_requests};
use crate::domain::{parse_name, parse_username};
use crate::error::{ApiError, FieldErrors};
use crate::mail::Mail;

/// `page_size` when the request names none.
pub const DEFAULT_PAGE_SIZE: i64 = 50;
/// The longest search term (the longest email is 254 characters).
const MAX_SEARCH_CHARS: usize = 254;

/// A list request, as received.
#[derive(Debug, Default)]
pub struct UserQuery {
    pub search: Option<String>,
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub page: Option<i64>,
    pub page_size: Option<i64>,
}

/// A user as staff see them.
pub struct AdminView {
    pub user: User,
    pub mfa_enabled: bool,
}

pub struct UserPage {
    pub users: Vec<AdminView>,
    /// Matching users in all pages.
    pub count: i64,
    pub page: i64,
    pub page_size: i64,
}

/// The fields `PATCH /admin/users/{id}` may change, as received.
#[derive(Debug, Default)]
pub struct StaffEdit {
    pub is_active: Option<bool>,
    pub is_staff: Option<bool>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl StaffEdit {
    fn parse(self) -> Result<StaffChanges, ApiError> {
        let mut errors = FieldErrors::new();
        let mut field =
            |name: &str, raw: Option<String>, parse: fn(&str) -> Result<String, String>| {
                raw.and_then(|raw| parse(&raw).map_err(|e| push(&mut errors, name, [e])).ok())
            };
        let changes = StaffChanges {
            is_active: self.is_active,
            is_staff: self.is_staff,
            email_verified: self.email_verified,
            username: field("username", self.username, parse_username),
            first_name: field("first_name", self.first_name, parse_name),
            last_name: field("last_name", self.last_name, parse_name),
        };
        if errors.is_empty() {
            Ok(changes)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// The names of the fields an edit sets, for the audit log.
fn changed_fields(changes: &StaffChanges) -> String {
    [
        ("is_active", changes.is_active.is_some()),
        ("is_staff", changes.is_staff.is_some()),
        ("email_verified", changes.email_verified.is_some()),
        ("username", changes.username.is_some()),
        ("first_name", changes.first_name.is_some()),
        ("last_name", changes.last_name.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect::<Vec<_>>()
    .join(",")
}

impl Accounts {
    /// Each user with whether they have a second factor on.
    async fn views(&self, users: Vec<User>) -> Result<Vec<AdminView>, ApiError> {
        let ids: Vec<i32> = users.iter().map(|u| u.id).collect();
        let on = self
            .db
            .run(move |conn| crate::db::mfa::enabled_among(conn, &ids))
            .await?;
        Ok(users
            .into_iter()
            .map(|user| AdminView {
                mfa_enabled: on.contains(&user.id),
                user,
            })
            .collect())
    }

    async fn view(&self, user: User) -> Result<AdminView, ApiError> {
        let mut views = self.views(vec![user]).await?;
        views
            .pop()
            .ok_or_else(|| ApiError::internal("a user went missing"))
    }

    /// One page of the users matching `query`, by id.
    /// Any staff user may (`staff_actor` made the check).
    pub async fn list_users(&self, query: UserQuery) -> Result<UserPage, ApiError> {
        let mut errors = FieldErrors::new();
        let page = query.page.unwrap_or(1);
        if page < 1 {
            push(
                &mut errors,
                "page",
                ["Ensure this value is at least 1.".to_owned()],
            );
        }
        let page_size = query.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page_size < 1 {
            push(
                &mut errors,
                "page_size",
                ["Ensure this value is at least 1.".to_owned()],
            );
        }
        // NFKC, as stored addresses are: a look-alike term (a fullwidth or
        // KELVIN SIGN letter) finds the plain address; case is ignored by
        // the search itself.
        let search = query
            .search
            .map(|s| crate::domain::email::nfkc(s.trim()).trim().to_owned())
            .filter(|s| !s.is_empty());
        if search
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS)
        {
            push(
                &mut errors,
                "search",
                [format!(
                    "Ensure this field has no more than {MAX_SEARCH_CHARS} characters."
                )],
            );
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let page_size = page_size.min(self.settings.limits.admin_max_page_size);
        let filter = UserFilter {
            search,
            is_active: query.is_active,
            is_staff: query.is_staff,
        };
        // A page past any possible row is empty without asking.
        let offset = (page - 1).checked_mul(page_size);
        let (count, users) = self
            .db
            .run(move |conn| {
                let Some(offset) = offset else {
                    return Ok((user_search::count(conn, &filter)?, Vec::new()));
                };
                let users = user_search::page(conn, &filter, offset, page_size)?;
                // A first page that is not full holds every match: looking
                // one user up (the usual search) costs one query, not two.
                let whole = offset == 0 && (users.len() as i64) < page_size;
                let count = if whole {
                    users.len() as i64
                } else {
                    user_search::count(conn, &filter)?
                };
                Ok((count, users))
            })
            .await?;
        Ok(UserPage {
            users: self.views(users).await?,
            count,
            page,
            page_size,
        })
    }

    pub async fn get_user(&self, actor: &Actor, user_id: i32) -> Result<AdminView, ApiError> {
        let user = self.permit(actor, user_id, Action::Read).await?;
        self.view(user).await
    }

    /// Changes what staff may change. Deactivating ends every session of
    /// the user before it returns: the generation moves on in the same
    /// statement, so even a session a racing login is writing is refused.
    pub async fn edit_user(
        &self,
        actor: &Actor,
        user_id: i32,
        edit: StaffEdit,
    ) -> Result<AdminView, ApiError> {
        let changes = edit.parse()?;
        self.permit(actor, user_id, Action::Edit(&changes)).await?;
        // Any change of `is_active` moves the generation on, whatever the
        // row said when it was read: a deactivation racing a reactivation
        // still ends every session, and no copy cached before the change
        // (of the same generation) can overwrite the one written after it.
        let ends_sessions = changes.is_active.is_some();
        let deactivating = changes.is_active == Some(false);
        let what = changed_fields(&changes);
        let user = self
            .db
            .run(move |conn| {
                crate::db::write_transaction(conn, |conn| {
                    let user = users::staff_update(conn, user_id, &changes, ends_sessions)?;
                    if deactivating {
                        // Links already mailed or on their way are void: a
                        // deactivated account gets no reset, and none works
                        // after a reactivation either.
                        let now = crate::db::now();
                        email_tokens::void(conn, user_id, &Purpose::ALL, now)?;
                        outbox::delete_pending_links(conn, user_id)?;
                    }
                    Ok(user)
                })
            })
            .await?;
        self.after_sessions_change(&user, ends_sessions).await?;
        let action = if deactivating {
            "deactivate_user"
        } else {
            "edit_user"
        };
        self.audit(actor, action, user_id, &what);
        self.view(user).await
    }

    /// The user's live sessions (none is the asker's).
    pub async fn user_sessions(
        &self,
        actor: &Actor,
        user_id: i32,
    ) -> Result<SessionList, ApiError> {
        self.permit(actor, user_id, Action::Act).await?;
        self.list_sessions(user_id, None).await
    }

    /// Ends every session of the user at once, on every instance.
    pub async fn end_user_sessions(&self, actor: &Actor, user_id: i32) -> Result<(), ApiError> {
        self.permit(actor, user_id, Action::Act).await?;
        let none = StaffChanges::default();
        let user = self
            .db
            .run(move |conn| users::staff_update(conn, user_id, &none, true))
            .await?;
        self.after_sessions_change(&user, true).await?;
        self.audit(actor, "end_sessions", user_id, "");
        Ok(())
    }

    /// Mails the user a reset link, as if they had asked (the resend
    /// interval applies). Staff never see or set a password.
    pub async fn send_user_reset(&self, actor: &Actor, user_id: i32) -> Result<(), ApiError> {
        let user = self.permit(actor, user_id, Action::Act).await?;
        if !user.is_active {
            return Err(ApiError::field(
                "is_active",
                "This account is inactive and cannot reset its password; activate it first.",
            ));
        }
        let now = crate::db::now();
        let canonical = user.email_canonical.clone();
        self.db
            .run(move |conn| reset_requests::insert(conn, &canonical, now))
            .await?;
        self.mailer.wake();
        self.audit(actor, "send_password_reset", user_id, "");
        Ok(())
    }

    /// Removes the user's second factor and recovery codes (a user who lost
    /// their device and their codes); a notice goes to their address.
    pub async fn remove_user_mfa(&self, actor: &Actor, user_id: i32) -> Result<(), ApiError> {
        let user = self.permit(actor, user_id, Action::RemoveMfa).await?;
        let removed = self.remove_mfa(user, Mail::MfaRemoved).await?;
        self.audit(
            actor,
            "remove_mfa",
            user_id,
            if removed { "totp" } else { "" },
        );
        Ok(())
    }

    /// After a change to the user: the cached copy follows it, and with
    /// `ended` every stored session goes too (they are already refused by
    /// their generation; this frees the store and empties the list).
    async fn after_sessions_change(&self, user: &User, ended: bool) -> Result<(), ApiError> {
        self.sessions.cache_user(&SessionUser::from(user)).await?;
        if ended {
            self.sessions.revoke_all(user.id).await?;
        }
        Ok(())
    }

    /// The operator's lookup by email (the command line).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, ApiError> {
        let canonical = crate::domain::Email::parse(email)
            .map_err(|e| ApiError::field("email", e))?
            .canonical();
        self.db
            .run(move |conn| users::find_by_email(conn, &canonical))
            .await
    }
}
