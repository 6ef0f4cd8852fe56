//! The one route table. Each path is one resource, so a known path with an
//! unknown method is 405 and an unknown path is 404, both as problem+json.
//! Every route here has its `#[utoipa::path]` in `openapi.rs`; a test
//! checks that the two agree.

use actix_web::{web, Resource};

use super::{accounts, fallback, health, me, media, password, profile, sessions};

fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(fallback::method_not_allowed))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/accounts/csrf").route(web::get().to(accounts::get_csrf)))
        .service(resource("/accounts/register").route(web::post().to(accounts::register)))
        .service(resource("/accounts/login").route(web::post().to(accounts::login)))
        .service(resource("/accounts/logout").route(web::post().to(accounts::logout)))
        .service(
            resource("/accounts/me")
                .route(web::get().to(me::get_me))
                .route(web::patch().to(me::patch_me)),
        )
        .service(
            resource("/accounts/me/profile")
                .route(web::get().to(profile::get_profile))
                .route(web::patch().to(profile::patch_profile)),
        )
        .service(
            resource("/accounts/me/profile/picture")
                .route(web::put().to(profile::put_picture))
                .route(web::delete().to(profile::delete_picture)),
        )
        .service(
            resource("/accounts/password/change").route(web::post().to(password::change_password)),
        )
        .service(resource("/accounts/sessions").route(web::get().to(sessions::list_sessions)))
        .service(
            resource("/accounts/sessions/{id}").route(web::delete().to(sessions::revoke_session)),
        )
        .service(resource("/healthz").route(web::get().to(health::healthz)))
        .service(resource("/readyz").route(web::get().to(health::readyz)))
        .service(resource("/metrics").route(web::get().to(health::metrics)))
        .service(resource("/media/{path:.*}").route(web::get().to(media::get_media)));
}
