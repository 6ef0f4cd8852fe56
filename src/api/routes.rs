//! The one route table. Each path is one resource, so a known path with an
//! unknown method is 405 (with the `Allow` header RFC 9110 requires) and an
//! unknown path is 404, both as problem+json. Every GET route answers HEAD
//! too (the documentation's own routes, `/openapi.json` and `/docs/`,
//! included). Every other route here has its `#[utoipa::path]` in
//! `openapi.rs`; a test checks that the two agree.

use actix_web::http::Method;
use actix_web::{web, FromRequest, Handler, Resource, Responder};

use super::{
    account_deletion, accounts, admin, docs, email_change, email_verification, fallback, health,
    me, media, mfa, password, password_reset, profile, reauthentication, sessions,
};

/// One path's methods, collected so that the 405 can name them.
struct Endpoint {
    resource: Resource,
    allow: Vec<String>,
}

fn endpoint(path: &str) -> Endpoint {
    Endpoint {
        resource: web::resource(path),
        allow: Vec::new(),
    }
}

impl Endpoint {
    fn on<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allow.push(method.as_str().to_owned());
        self.resource = self.resource.route(web::method(method).to(handler));
        self
    }

    /// GET, and HEAD with the same handler (actix sends a HEAD answer's
    /// headers without its body).
    fn get<F, Args>(self, handler: F) -> Self
    where
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.on(Method::GET, handler.clone())
            .on(Method::HEAD, handler)
    }

    fn done(self) -> Resource {
        let allow = self.allow.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { fallback::method_not_allowed(&allow) }
        }))
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let endpoints = [
        endpoint("/accounts/csrf").get(accounts::get_csrf),
        endpoint("/accounts/register").on(Method::POST, accounts::register),
        endpoint("/accounts/login").on(Method::POST, accounts::login),
        endpoint("/accounts/login/mfa").on(Method::POST, mfa::login_mfa),
        endpoint("/accounts/logout").on(Method::POST, accounts::logout),
        endpoint("/accounts/reauthenticate").on(Method::POST, reauthentication::reauthenticate),
        endpoint("/accounts/me")
            .get(me::get_me)
            .on(Method::PATCH, me::patch_me)
            .on(Method::DELETE, account_deletion::delete_me),
        endpoint("/accounts/me/profile")
            .get(profile::get_profile)
            .on(Method::PATCH, profile::patch_profile),
        endpoint("/accounts/me/profile/picture")
            .on(Method::PUT, profile::put_picture)
            .on(Method::DELETE, profile::delete_picture),
        endpoint("/accounts/password/change").on(Method::POST, password::change_password),
        endpoint("/accounts/password/reset").on(Method::POST, password_reset::request_reset),
        endpoint("/accounts/password/reset/confirm")
            .on(Method::POST, password_reset::confirm_reset),
        endpoint("/accounts/email/verification")
            .on(Method::POST, email_verification::send_verification),
        endpoint("/accounts/email/verify").on(Method::POST, email_verification::verify),
        endpoint("/accounts/email/change").on(Method::POST, email_change::request_change),
        endpoint("/accounts/email/change/confirm").on(Method::POST, email_change::confirm_change),
        endpoint("/accounts/mfa").get(mfa::get_mfa),
        endpoint("/accounts/mfa/totp/setup").on(Method::POST, mfa::setup_totp),
        endpoint("/accounts/mfa/totp/confirm").on(Method::POST, mfa::confirm_totp),
        endpoint("/accounts/mfa/totp").on(Method::DELETE, mfa::disable_totp),
        endpoint("/accounts/mfa/recovery-codes").on(Method::POST, mfa::regenerate_recovery_codes),
        endpoint("/accounts/sessions").get(sessions::list_sessions),
        endpoint("/accounts/sessions/{id}").on(Method::DELETE, sessions::revoke_session),
        endpoint("/admin/users").get(admin::list_users),
        endpoint("/admin/users/{id}")
            .get(admin::get_user)
            .on(Method::PATCH, admin::patch_user)
            .on(Method::DELETE, admin::delete_user),
        endpoint("/admin/users/{id}/sessions")
            .get(admin::list_user_sessions)
            .on(Method::DELETE, admin::end_user_sessions),
        endpoint("/admin/users/{id}/password-reset").on(Method::POST, admin::send_password_reset),
        endpoint("/admin/users/{id}/mfa").on(Method::DELETE, admin::remove_mfa),
        endpoint("/healthz").get(health::healthz),
        endpoint("/readyz").get(health::readyz),
        endpoint("/metrics").get(health::metrics),
        endpoint("/media/{path:.*}").get(media::get_media),
        endpoint("/openapi.json").get(docs::openapi_json),
        // Before Swagger UI's own file of that name, so this one wins.
        endpoint("/docs/swagger-initializer.js").get(docs::swagger_initializer),
        endpoint("/docs/{tail:.*}").get(docs::swagger_ui),
    ];
    for endpoint in endpoints {
        cfg.service(endpoint.done());
    }
}
