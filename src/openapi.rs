//! The OpenAPI document, generated from the handlers' annotations, and the
//! Swagger UI that serves it (vendored assets: no CDN, no download).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;
use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "accounts",
        description = "User accounts as a service: register, log in, read and edit \"me\", log out.\n\n\
            Browser clients use the session cookie (`__Host-sessionid` with `COOKIE_SECURE=true`, `sessionid` over plain HTTP) and must send `X-CSRFToken` (from `GET /accounts/csrf`) \
            on unsafe methods; app clients log in with `\"client\": \"app\"` and send `Authorization: Bearer <token>`. \
            A browser session's cookie ends with the browser, and the session after `SESSION_IDLE_TIMEOUT_SECS` idle \
            (30 minutes) or `SESSION_ABSOLUTE_TIMEOUT_SECS` (8 hours); with `\"remember\": true` at login or register it \
            lasts `REMEMBER_ME_TIMEOUT_SECS` (two weeks) in a persistent cookie. App sessions last \
            `APP_SESSION_IDLE_TIMEOUT_SECS` idle (30 days) and `APP_SESSION_ABSOLUTE_TIMEOUT_SECS` in all (90 days).\n\n\
            Every error is `application/problem+json` with a machine-readable `code`; beyond those listed per \
            operation, a method a path does not have is 405 `method_not_allowed` (its `Allow` header lists the methods \
            the path has) and an unknown path 404 `not_found`. Every GET operation also answers HEAD.\n\n\
            A `validation_failed` names its problems under `errors`, field by field: every missing required member \
            and every rule broken, at once (a value of the wrong type is reported beside the missing members); \
            no string member may hold U+0000.",
        license(name = "MIT")
    ),
    paths(
        api::accounts::get_csrf,
        api::accounts::register,
        api::accounts::login,
        api::mfa::login_mfa,
        api::accounts::logout,
        api::reauthentication::reauthenticate,
        api::me::get_me,
        api::me::patch_me,
        api::account_deletion::delete_me,
        api::profile::get_profile,
        api::profile::patch_profile,
        api::profile::put_picture,
        api::profile::delete_picture,
        api::media::get_media,
        api::password::change_password,
        api::password_reset::request_reset,
        api::password_reset::confirm_reset,
        api::email_verification::send_verification,
        api::email_verification::verify,
        api::email_change::request_change,
        api::email_change::confirm_change,
        api::mfa::get_mfa,
        api::mfa::setup_totp,
        api::mfa::confirm_totp,
        api::mfa::disable_totp,
        api::mfa::regenerate_recovery_codes,
        api::sessions::list_sessions,
        api::sessions::revoke_session,
        api::admin::list_users,
        api::admin::get_user,
        api::admin::patch_user,
        api::admin::delete_user,
        api::admin::list_user_sessions,
        api::admin::end_user_sessions,
        api::admin::send_password_reset,
        api::admin::remove_mfa,
        api::health::healthz,
        api::health::readyz,
        api::health::metrics,
    ),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes, &CommonResponses),
    tags(
        (name = "accounts", description = "Registration, login and logout"),
        (name = "me", description = "The logged-in user"),
        (name = "profile", description = "The user's profile and picture"),
        (name = "password reset", description = "Forgot the password: a link by mail, then a new password"),
        (name = "email", description = "Proving the address, and changing it"),
        (name = "sessions", description = "The user's sessions, browsers and apps alike"),
        (name = "mfa", description = "Two-factor login (TOTP, RFC 6238) and recovery codes: set up, confirm, turn off, new codes"),
        (name = "admin", description = "Staff only: find users, edit, deactivate or delete them, end their sessions, mail them a reset link, remove their second factor. Every operation needs a session of a user with `is_staff` (403 `permission_denied` otherwise); acting on another staff user, or changing `is_staff`, needs a superuser. `accounts createsuperuser` makes the first one."),
        (name = "operations", description = "Probes for orchestrators"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionid",
                "Browser session cookie, set by login and register: `sessionid` over plain HTTP, `__Host-sessionid` with `COOKIE_SECURE=true`. Unsafe methods also need the X-CSRFToken header.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token from login or register with \"client\": \"app\".",
                    ))
                    .build(),
            ),
        );
    }
}

/// Answers any operation can give, added to each so the document lists
/// them where clients look: 503 when a backing service is down, 413 where
/// there is a body. (A method a path does not have is 405
/// `method_not_allowed`, and an unknown path 404 `not_found`, anywhere.)
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if operation.request_body.is_some() && !responses.contains_key("413") {
                    responses.insert(
                        "413".into(),
                        problem("`payload_too_large`: the body is over its limit").into(),
                    );
                }
                if path != "/healthz" && path != "/metrics" && !responses.contains_key("503") {
                    responses.insert(
                        "503".into(),
                        problem("`service_unavailable`: the database or the session store is down; retry").into(),
                    );
                }
            }
        }
    }
}

/// The document as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        + "\n"
}
