//! The staff's admin API: `/admin/users...`. Every operation needs a
//! session of a staff user; the rules of who may act on whom are in
//! `accounts::staff`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::admin_schemas::{
    user_id, AdminUserList, AdminUserPatch, AdminUserResponse, UserListParams,
};
use super::current_user::Staff;
use super::json::ApiJson;
use super::responses::{NotAuthenticated, NotFound};
use super::schemas::{Accepted, SessionsResponse};
use super::AppState;
use crate::error::{ApiError, Problem};

/// Not staff, or not allowed on this user (the description says which).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 403,
    description = "`permission_denied`: the user is not staff, or acts on another staff user or a superuser, or changes `is_staff`, without being a superuser; `csrf_failed`",
    content_type = "application/problem+json"
)]
#[allow(dead_code)]
pub struct Forbidden(Problem);

/// List users
///
/// **Staff only.** Users ordered by id, a page at a time, narrowed by a
/// search (a case-insensitive substring of email or username, no
/// wildcards) and by `is_active` / `is_staff`.
#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    params(UserListParams),
    responses(
        (status = 200, description = "One page of users and the total count", body = AdminUserList),
        (status = 400, description = "`validation_failed`: `page` or `page_size` under 1, a boolean that is not `true` or `false`, an unknown parameter", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        Forbidden,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    _staff: Staff,
) -> Result<HttpResponse, ApiError> {
    let query = UserListParams::parse(req.query_string())?;
    let page = state.accounts.list_users(query).await?;
    Ok(HttpResponse::Ok().json(AdminUserList::from(page)))
}

/// Read a user
///
/// **Staff only.**
#[utoipa::path(
    get, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user", body = AdminUserResponse),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_user(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.get_user(&staff.actor, user_id(&id)?).await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse { user: user.into() }))
}

/// Edit a user
///
/// **Staff only**; `is_staff`, and any change to another staff user, need
/// a superuser. Only the fields present change. `is_active: false` ends
/// every session of the user, on every instance, before the answer. Nobody
/// may deactivate or demote themselves here.
#[utoipa::path(
    patch, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    request_body = AdminUserPatch,
    responses(
        (status = 200, description = "The updated user", body = AdminUserResponse),
        (status = 400, description = "`validation_failed` (a bad or taken username, deactivating or demoting oneself) or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn patch_user(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: ApiJson<AdminUserPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = user_id(&id)?;
    let user = state
        .accounts
        .edit_user(&staff.actor, id, body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(AdminUserResponse { user: user.into() }))
}

/// Delete a user
///
/// **Staff only** (a superuser for another staff user). Everything of the
/// account goes, as with `DELETE /accounts/me`, and a notice is mailed.
/// Nobody may delete themselves here.
#[utoipa::path(
    delete, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 204, description = "The account is deleted"),
        (status = 400, description = "`validation_failed`: deleting oneself", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn delete_user(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .admin_delete(&staff.actor, user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's sessions
///
/// **Staff only** (a superuser for another staff user). `current` is
/// always false.
#[utoipa::path(
    get, path = "/admin/users/{id}/sessions", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user's newest live sessions (at most `SESSION_LIST_LIMIT`), newest first, and `count`, the number of live sessions", body = SessionsResponse),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn list_user_sessions(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sessions = state
        .accounts
        .user_sessions(&staff.actor, user_id(&id)?)
        .await?;
    Ok(HttpResponse::Ok().json(SessionsResponse::from(sessions)))
}

/// End a user's sessions
///
/// **Staff only** (a superuser for another staff user). Every session of
/// the user ends at once, on every instance, cookies and tokens alike.
#[utoipa::path(
    delete, path = "/admin/users/{id}/sessions", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Every session of the user has ended"),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn end_user_sessions(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .end_user_sessions(&staff.actor, user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a user a reset link
///
/// **Staff only** (a superuser for another staff user). The user gets a
/// password-reset message, as if they had asked (at most one a
/// `EMAIL_RESEND_INTERVAL_SECS`). Staff never see or set passwords.
#[utoipa::path(
    post, path = "/admin/users/{id}/password-reset", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 202, description = "The message is on its way", body = Accepted),
        (status = 400, description = "`validation_failed`: the account is inactive", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn send_password_reset(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .send_user_reset(&staff.actor, user_id(&id)?)
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted::new(
        "A password reset message is on its way to the user.",
    )))
}

/// Remove a user's second factor
///
/// **Staff only** (a superuser for another staff user). The user's TOTP
/// and recovery codes are removed (204 also when there were none), and the
/// next login asks for the password only. Not one's own: that is `DELETE
/// /accounts/mfa/totp`, which needs a recent authentication.
#[utoipa::path(
    delete, path = "/admin/users/{id}/mfa", tag = "admin",
    params(("id" = i32, Path, description = "The user's id")),
    responses(
        (status = 204, description = "The user has no second factor"),
        (status = 400, description = "`validation_failed`: `errors.id`, one's own second factor", body = Problem, content_type = "application/problem+json"),
        NotAuthenticated,
        Forbidden,
        NotFound,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn remove_mfa(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state
        .accounts
        .remove_user_mfa(&staff.actor, user_id(&id)?)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
