//! Swagger UI's start-up script, replacing the generated one: it adds what
//! "Try it out" needs for cookie sessions (credentials, and the CSRF header
//! on unsafe methods), which the generated configuration cannot express.

use actix_web::HttpResponse;

const INITIALIZER: &str = include_str!("../../static/swagger-initializer.js");

pub async fn swagger_initializer() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(INITIALIZER)
}
