//! The `CurrentUser` extractor: the live session of the request and its
//! user, who may still use the service. A session whose account is gone or
//! deactivated ends here, with 401.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::AppState;
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
            match state.accounts.current_user(auth.user_id, loaded).await? {
                Some(user) => Ok(CurrentUser { user, auth }),
                None => {
                    auth.end();
                    Err(ApiError::NotAuthenticated)
                }
            }
        })
    }
}
