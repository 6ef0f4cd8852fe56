//! Builds the whole service from `Settings`: pool and migrations, session
//! store, password hasher, and the HTTP server. `main` and the integration
//! tests both go through `Application::build`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_identity::IdentityMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use secrecy::ExposeSecret;

use crate::accounts::{Accounts, Stores};
use crate::api::json::JsonLimit;
use crate::api::{fallback, routes, AppState};
use crate::auth::address_limit::{AddressLimit, Limited};
use crate::auth::current::SessionPolicy;
use crate::auth::mfa_logins::MfaLogins;
use crate::auth::passwords::Passwords;
use crate::auth::sessions::{DbStore, Lifetimes, RedisStore, Sessions};
use crate::auth::throttle::LoginThrottle;
use crate::auth::transport::{session_cookie_name, session_transport, CookieKey};
use crate::background::{spawn_media_sweeper, spawn_purger, MailWorker};
use crate::config::{SameSite as SameSiteSetting, Settings};
use crate::db::Db;
use crate::mail::sender::Sender;
use crate::mail::transport::Transport;
use crate::mail::Mailer;
use crate::media::MediaStore;
use crate::metrics::Metrics;
use crate::redis_pool::RedisPool;
use crate::telemetry::{spawn_blocking_in_span, trace_requests};

pub struct Application {
    port: u16,
    server: Server,
    mail: MailWorker,
}

/// The long-lived stores every instance of the app shares (the media
/// directory is opened by the server alone).
async fn stores(settings: &Settings, metrics: &Metrics) -> anyhow::Result<Stores> {
    let db = Db::new(settings)?.with_latency_metric(metrics.database());
    let applied = db.migrate().await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "applied database migrations");
    }
    let attempts = settings.mfa.code_attempts;
    let (sessions, throttle, registrations, resets, mfa_logins) = match &settings.stores.redis_url {
        Some(url) => {
            let redis = RedisPool::connect(url.expose_secret()).await?;
            (
                Sessions::redis(
                    RedisStore::new(
                        redis.clone(),
                        &settings.stores.redis_key_prefix,
                        Lifetimes::new(&settings.sessions),
                        settings.sessions.user_cache_ttl,
                        settings.sessions.max_per_user,
                    ),
                    metrics.clone(),
                ),
                LoginThrottle::redis(redis.clone(), settings),
                AddressLimit::redis(redis.clone(), settings, Limited::Registration),
                AddressLimit::redis(redis.clone(), settings, Limited::PasswordReset),
                MfaLogins::redis(redis, &settings.stores.redis_key_prefix, attempts),
            )
        }
        None => (
            Sessions::database(
                DbStore::new(
                    db.clone(),
                    Lifetimes::new(&settings.sessions),
                    // Only SQLite has a single writer (see load_cache).
                    (!settings.is_postgres()).then_some(settings.sessions.load_cache_ttl),
                    settings.sessions.max_per_user,
                ),
                metrics.clone(),
            ),
            LoginThrottle::database(db.clone(), settings),
            AddressLimit::database(db.clone(), settings, Limited::Registration),
            AddressLimit::database(db.clone(), settings, Limited::PasswordReset),
            MfaLogins::database(db.clone(), attempts),
        ),
    };
    let hasher_settings = settings.clone();
    let passwords = spawn_blocking_in_span(move || Passwords::new(&hasher_settings))
        .await
        .map_err(|_| anyhow::anyhow!("the blocking pool is shut down"))??;
    Ok(Stores {
        mailer: Mailer::new(&settings.mail)?,
        db,
        passwords,
        throttle,
        registrations,
        resets,
        sessions,
        media: None,
        metrics: metrics.clone(),
        mfa_logins,
    })
}

/// The account use cases alone, for the command-line tools.
pub async fn accounts_for_cli(settings: &Settings) -> anyhow::Result<Accounts> {
    let settings = Arc::new(settings.clone());
    let mut stores = stores(&settings, &Metrics::new()?).await?;
    // Deleting a user removes their picture too; a media directory that
    // cannot be opened leaves that to the server's media sweep.
    stores.media = match MediaStore::open(&settings.stores.media_root) {
        Ok(store) => Some(store),
        Err(e) => {
            tracing::warn!(error = %e, "no media directory: pictures of deleted users are left to the media sweep");
            None
        }
    };
    Ok(Accounts::new(stores, settings))
}

/// Applies migrations and nothing else (`accounts migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<Vec<String>> {
    Db::new(settings)?.migrate().await
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let metrics = Metrics::new()?;
        let mut stores = stores(&settings, &metrics).await?;
        let sessions = stores.sessions.clone();
        // Before the first login: how long the Django hashes still stored
        // take, which every refused login then waits for (`login_floor`).
        let django_hashes = stores.db.run(crate::db::legacy_hashes::costliest).await?;
        stores.passwords.calibrate(django_hashes).await?;

        let listener = TcpListener::bind(&settings.server.bind_address).map_err(|e| {
            anyhow::anyhow!("cannot listen on {}: {e}", settings.server.bind_address)
        })?;
        let port = listener.local_addr()?.port();

        // actix's Key wants 64 bytes; HKDF stretches SECRET_KEY to that.
        let key = Key::derive_from(settings.http.secret_key.expose_secret().as_bytes());
        let policy = SessionPolicy {
            lifetimes: Lifetimes::new(&settings.sessions),
            touch_interval: settings.sessions.touch_interval,
        };
        stores.media = Some(MediaStore::open(&settings.stores.media_root)?);
        let transport = Transport::new(&settings.mail.transport, settings.mail.send_timeout)?;
        let sender = Sender::new(
            stores.db.clone(),
            transport,
            metrics.clone(),
            settings.mail.clone(),
            stores.mailer.wake_handle(),
        );
        let accounts = Accounts::new(stores, settings.clone());
        spawn_purger(&accounts, settings.stores.purge_interval);
        spawn_media_sweeper(
            &accounts,
            settings.stores.media_sweep_interval,
            settings.stores.media_sweep_grace,
        );
        // A send in flight at SIGTERM may take its whole timeout.
        let mail = MailWorker::spawn(
            accounts.clone(),
            sender,
            settings.mail.send_timeout + Duration::from_secs(5),
        );
        let state = web::Data::new(AppState {
            accounts,
            settings: settings.clone(),
        });
        let session_cookie = session_cookie_name(settings.http.cookie_secure);
        let cookie_key = web::Data::new(CookieKey {
            key: key.clone(),
            session_cookie,
        });
        // For the transport middleware, which picks among several session
        // cookies by whether their sessions are live.
        let session_store = web::Data::new(sessions.clone());
        let json_limit = web::Data::new(JsonLimit(settings.limits.max_json_body_bytes));
        let policy = web::Data::new(policy);
        let metrics = web::Data::new(metrics);
        // actix-session hands the stores this TTL; they use each session's
        // own lifetime instead (`Lifetimes`: browser, remembered or app).
        let idle = actix_web::cookie::time::Duration::seconds(
            i64::try_from(settings.sessions.idle_timeout.as_secs()).unwrap_or(i64::MAX),
        );
        let same_site = match settings.http.cookie_same_site {
            SameSiteSetting::Lax => SameSite::Lax,
            SameSiteSetting::Strict => SameSite::Strict,
            SameSiteSetting::None => SameSite::None,
        };
        let cookie_secure = settings.http.cookie_secure;
        let cors_origins = settings.http.cors_allowed_origins.clone();

        let server = HttpServer::new(move || {
            let session_middleware = SessionMiddleware::builder(sessions.clone(), key.clone())
                .cookie_name(session_cookie.to_owned())
                .cookie_path("/".to_owned())
                .cookie_domain(None)
                .cookie_http_only(true)
                .cookie_secure(cookie_secure)
                .cookie_same_site(same_site)
                .cookie_content_security(CookieContentSecurity::Signed)
                .session_lifecycle(BrowserSession::default().state_ttl(idle))
                .build();
            App::new()
                .app_data(state.clone())
                .app_data(cookie_key.clone())
                .app_data(session_store.clone())
                .app_data(json_limit.clone())
                .app_data(policy.clone())
                .app_data(metrics.clone())
                .configure(routes::configure)
                .service(web::redirect("/docs", "/docs/"))
                .default_service(web::to(fallback::not_found))
                // Wrapped inside out: the last one sees the request first.
                .wrap(IdentityMiddleware::default())
                .wrap(session_middleware)
                .wrap(from_fn(session_transport))
                .wrap(cors(&cors_origins))
                .wrap(from_fn(fallback::finish_responses))
                .wrap(from_fn(trace_requests))
        })
        .workers(settings.server.workers)
        .shutdown_timeout(settings.server.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
        Ok(Application { port, server, mail })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests, then
    /// lets the mail sender finish the message it is sending.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.mail.stop().await;
        served
    }
}

/// CORS for single-page apps on other origins: only the listed origins,
/// with credentials (cookies), the CSRF and Authorization headers allowed,
/// and preflights cached for an hour. Other origins get no CORS headers
/// (same-origin callers such as Swagger UI are unaffected).
fn cors(origins: &[String]) -> Cors {
    use actix_web::http::header::{HeaderName, AUTHORIZATION, CONTENT_TYPE};
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            CONTENT_TYPE,
            AUTHORIZATION,
            HeaderName::from_static("x-csrftoken"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .supports_credentials()
        .max_age(3600);
    origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}
