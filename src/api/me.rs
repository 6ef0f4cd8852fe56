//! The logged-in user: `GET` and `PATCH /accounts/me`.

use actix_web::{web, HttpResponse};

use super::json::ApiJson;
use super::schemas::{UpdateMeRequest, UserResponse};
use super::AppState;
use crate::auth::current::Authenticated;
use crate::auth::sessions::SessionUser;
use crate::error::{ApiError, Problem};

/// The session's user, or 401 (ending the session) when the account is gone
/// or deactivated.
pub async fn current_user(
    state: &AppState,
    mut auth: Authenticated,
) -> Result<(SessionUser, Authenticated), ApiError> {
    // Loaded with the session: no further query.
    let user = match auth.user.take() {
        Some(user) => Some(user),
        None => {
            let user = state
                .accounts
                .active_user(auth.user_id)
                .await?
                .map(|u| SessionUser::from(&u));
            if let (Some(user), true) = (&user, state.sessions.caches_users()) {
                state.sessions.cache_user(user).await?;
            }
            user
        }
    };
    match user {
        Some(user) if user.is_active => Ok((user, auth)),
        _ => {
            auth.end();
            Err(ApiError::NotAuthenticated)
        }
    }
}

/// Who am I
#[utoipa::path(
    get, path = "/accounts/me", tag = "me",
    responses(
        (status = 200, description = "The logged-in user", body = UserResponse),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_me(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    Ok(HttpResponse::Ok().json(UserResponse {
        user: (&user).into(),
    }))
}

/// Edit my name and username
///
/// Only the fields present change. The email and password have their own
/// flows.
#[utoipa::path(
    patch, path = "/accounts/me", tag = "me",
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated user", body = UserResponse),
        (status = 400, description = "`validation_failed` (also a username already taken) or `malformed_request`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`not_authenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn patch_me(
    state: web::Data<AppState>,
    auth: Authenticated,
    body: ApiJson<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let (user, _) = current_user(&state, auth).await?;
    let body = body.0;
    let user = state
        .accounts
        .update_user(user.id, body.username, body.first_name, body.last_name)
        .await?;
    // Every session of the user is loaded with the new fields from now on.
    state.sessions.cache_user(&SessionUser::from(&user)).await?;
    Ok(HttpResponse::Ok().json(UserResponse {
        user: (&user).into(),
    }))
}
