//! The `CurrentUser` extractor: the live session of the request and its
//! user, who may still use the service. A session whose account is gone or
//! deactivated ends here, with 401.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::AppState;
use crate::accounts::Actor;
use crate::auth::current::Authenticated;
use crate::auth::sessions::SessionUser;
use crate::error::ApiError;

pub struct CurrentUser {
    pub user: SessionUser,
    pub auth: Authenticated,
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let auth = Authenticated::from_request(req, payload).into_inner();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let mut auth = auth?;
            let state = state.ok_or_else(|| ApiError::internal("app state not configured"))?;
            let loaded = auth.user.take();
            match state
                .accounts
                .current_user(auth.user_id, auth.generation, loaded)
                .await?
            {
                Some(user) => Ok(CurrentUser { user, auth }),
                None => {
                    auth.end();
                    Err(ApiError::NotAuthenticated)
                }
            }
        })
    }
}

/// A `CurrentUser` who is staff, as the admin use cases' actor: 401
/// without a session, 403 `permission_denied` for a user who is not staff
/// (read fresh from the database, so a demotion counts at once).
pub struct Staff {
    pub actor: Actor,
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let current = CurrentUser::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let me = current.await?;
            let state = state.ok_or_else(|| ApiError::internal("app state not configured"))?;
            let actor = state.accounts.staff_actor(me.user.id).await?;
            Ok(Staff { actor })
        })
    }
}
