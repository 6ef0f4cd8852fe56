//! The logged-in user: `GET` and `PATCH /accounts/me`.

use actix_web::{web, HttpResponse};

use super::current_user::CurrentUser;
use super::json::ApiJson;
use super::responses::{CsrfFailed, NotAuthenticated};
use super::schemas::{UpdateMeRequest, UserResponse};
use super::AppState;
use crate::error::{ApiError, Problem};

/// Who am I
#[utoipa::path(
    get, path = "/accounts/me", tag = "me",
    responses(
        (status = 200, description = "The logged-in user", body = UserResponse),
        NotAuthenticated,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn get_me(me: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(UserResponse {
        user: (&me.user).into(),
    })
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
        NotAuthenticated,
        CsrfFailed,
    ),
    security(("session_cookie" = []), ("bearer" = []))
)]
pub async fn patch_me(
    state: web::Data<AppState>,
    me: CurrentUser,
    body: ApiJson<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = state.accounts.update_me(me.user.id, body.0.into()).await?;
    Ok(HttpResponse::Ok().json(UserResponse {
        user: (&user).into(),
    }))
}
