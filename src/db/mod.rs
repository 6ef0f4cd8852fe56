//! The database: one connection type over SQLite and PostgreSQL, an r2d2
//! pool, embedded migrations, and `Db::run`, the only way handlers reach a
//! connection (always on the blocking pool, never on the async executor).

/// Runs the same diesel query on the concrete connection of either
/// backend. Through the two-backend connection type diesel cannot cache
/// prepared statements (every call re-parses the SQL); the hot queries use
/// this instead.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

pub mod address_keys;
mod batches;
pub mod django_imports;
pub mod email_tokens;
pub mod legacy_hashes;
pub mod login_failures;
pub mod mfa;
pub mod models;
pub mod outbox;
pub mod profiles;
pub mod reset_requests;
pub mod schema;
pub mod sessions;
pub mod user_search;
pub mod users;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Semaphore;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use secrecy::ExposeSecret;

use crate::config::Settings;
use crate::error::ApiError;
use crate::telemetry::spawn_blocking_in_span;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A session-level advisory lock held while migrating PostgreSQL (the key
/// is arbitrary, the same for every instance).
const MIGRATION_LOCK: &str = "SELECT pg_advisory_lock(7458291604)";
const MIGRATION_UNLOCK: &str = "SELECT pg_advisory_unlock(7458291604)";

/// One type for both backends: queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone)]
enum Backend {
    Postgres(String),
    Sqlite(String),
}

/// A pooled connection, and whether a query on it found it dead.
///
/// The pool does not test connections when lending them (that would cost a
/// round trip per request); instead a connection that fails with a lost
/// connection is marked here and dropped by the pool when returned.
pub struct Managed {
    conn: DbConnection,
    broken: bool,
    /// The outage count when this connection was last known good.
    epoch: u64,
}

/// Connects with the concrete type, so a failure reports the real reason
/// (the derive's own `establish` says only "invalid connection url").
#[derive(Debug)]
struct Manager {
    backend: Backend,
    /// Counts lost connections seen: after one, every idle connection is
    /// suspect (the database likely restarted under all of them) and is
    /// pinged once before use.
    outages: Arc<AtomicU64>,
}

impl ManageConnection for Manager {
    type Connection = Managed;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Managed, Self::Error> {
        match &self.backend {
            Backend::Postgres(url) => PgConnection::establish(url).map(DbConnection::Postgresql),
            Backend::Sqlite(path) => SqliteConnection::establish(path).map(DbConnection::Sqlite),
        }
        .map(|conn| Managed {
            conn,
            broken: false,
            epoch: self.outages.load(Ordering::Relaxed),
        })
        .map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, managed: &mut Managed) -> Result<(), Self::Error> {
        managed.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, managed: &mut Managed) -> bool {
        managed.broken || managed.conn.is_broken()
    }
}

/// SQLite needs WAL and a busy timeout, or concurrent writers fail with
/// "database is locked"; foreign keys are off unless asked for.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Managed, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, managed: &mut Managed) -> Result<(), diesel::r2d2::Error> {
        if let DbConnection::Sqlite(_) = managed.conn {
            managed
                .conn
                .batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(())
    }
}

/// The pool, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    outages: Arc<AtomicU64>,
    /// One permit a pooled connection: requests beyond the pool's size wait
    /// here, on the async side, instead of parking blocking threads on the
    /// pool's lock (which costs a context switch each on a small machine).
    permits: Arc<Semaphore>,
    latency: Option<prometheus::Histogram>,
}

impl Db {
    /// Builds the pool without connecting yet (`build_unchecked`), so the
    /// service starts, and `/readyz` reports, while the database is down.
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let url = settings.stores.database_url.expose_secret();
        let backend = if let Some(path) = url.strip_prefix("sqlite://") {
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        anyhow::anyhow!(
                            "cannot create the database directory {}: {e}",
                            parent.display()
                        )
                    })?;
                }
            }
            Backend::Sqlite(path.to_owned())
        } else {
            Backend::Postgres(without_gssapi(url))
        };
        let outages = Arc::new(AtomicU64::new(0));
        let pool = Pool::builder()
            .max_size(settings.stores.database_pool_size)
            .min_idle(Some(0))
            .connection_timeout(settings.stores.database_connect_timeout)
            .test_on_check_out(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connection_customizer(Box::new(SqlitePragmas))
            .build_unchecked(Manager {
                backend,
                outages: Arc::clone(&outages),
            });
        Ok(Db {
            pool,
            outages,
            permits: Arc::new(Semaphore::new(settings.stores.database_pool_size as usize)),
            latency: None,
        })
    }

    /// Records the latency of every `run` in `histogram`.
    pub fn with_latency_metric(mut self, histogram: prometheus::Histogram) -> Self {
        self.latency = Some(histogram);
        self
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let _timer = self
            .latency
            .as_ref()
            .map(prometheus::Histogram::start_timer);
        let pool = self.pool.clone();
        let outages = Arc::clone(&self.outages);
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::internal("the database pool is closed"))?;
        spawn_blocking_in_span(move || {
            let mut managed = checkout(&pool, &outages)?;
            let result = f(&mut managed.conn);
            // A lost connection (the database restarted, say) is an outage
            // for this request only: the pool drops this connection, and
            // the others are checked before their next use.
            if matches!(result, Err(ApiError::Unavailable(_))) {
                managed.broken = true;
                outages.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
        .await?
    }

    /// Applies pending migrations; the error names the one that failed.
    pub fn migrate_blocking(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
        let migrations = match &conn.conn {
            DbConnection::Postgresql(_) => POSTGRES_MIGRATIONS,
            DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        };
        // Instances starting together take turns (a migration that
        // creates an extension, say, must not run twice at once; nor may
        // two re-key the same addresses).
        if let DbConnection::Postgresql(pg) = &mut conn.conn {
            pg.batch_execute(MIGRATION_LOCK)?;
        }
        let applied = match &mut conn.conn {
            DbConnection::Postgresql(pg) => pg.run_pending_migrations(migrations).map(versions),
            DbConnection::Sqlite(lite) => lite.run_pending_migrations(migrations).map(versions),
        }
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"));
        let rekeyed = match &applied {
            Ok(_) => address_keys::rekey_pending(&mut conn.conn)
                .map_err(|e| anyhow::anyhow!("re-keying stored email addresses failed: {e}")),
            Err(_) => Ok(0),
        };
        if let DbConnection::Postgresql(pg) = &mut conn.conn {
            pg.batch_execute(MIGRATION_UNLOCK)?;
        }
        let rekeyed = rekeyed?;
        if rekeyed > 0 {
            tracing::info!(users = rekeyed, "re-keyed stored email addresses (NFKC)");
        }
        applied
    }

    pub async fn migrate(&self) -> anyhow::Result<Vec<String>> {
        let db = self.clone();
        spawn_blocking_in_span(move || db.migrate_blocking())
            .await
            .map_err(|_| anyhow::anyhow!("the blocking pool is shut down"))?
    }

    /// Cheap liveness probe for `/readyz`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| conn.ping().map_err(ApiError::from)).await
    }
}

/// A pooled connection, pinged first if an outage was seen since it was
/// last known good; dead ones are dropped and the next one tried.
fn checkout(
    pool: &Pool<Manager>,
    outages: &AtomicU64,
) -> Result<diesel::r2d2::PooledConnection<Manager>, ApiError> {
    for _ in 0..=pool.max_size() {
        let mut managed = pool.get()?;
        let epoch = outages.load(Ordering::Relaxed);
        if managed.epoch == epoch {
            return Ok(managed);
        }
        if managed.conn.ping().is_ok() {
            managed.epoch = epoch;
            return Ok(managed);
        }
        managed.broken = true;
    }
    Err(ApiError::Unavailable("database: no live connection".into()))
}

/// libpq tries GSSAPI encryption first by default, and its Kerberos code
/// is not safe when several threads connect at once (seen here as a
/// segfault under the parallel test suite). Nothing here uses GSSAPI, so
/// it is off unless the URL asks for it.
pub(crate) fn without_gssapi(url: &str) -> String {
    if url.contains("gssencmode=") {
        url.to_owned()
    } else {
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}gssencmode=disable")
    }
}

/// Runs `f` in a transaction that may write after it reads. diesel begins
/// SQLite transactions DEFERRED: one that reads, then writes after another
/// connection committed, fails at once with "database is locked" (no busy
/// timeout applies to that upgrade). `BEGIN IMMEDIATE` takes the write
/// lock first, waiting for it within the busy timeout. diesel's own
/// transaction manager issues it, so it knows a transaction is open: a
/// failed commit or a panic leaves a connection the pool drops (it reports
/// itself broken), never one holding the write lock. Even a transaction
/// whose first statement writes needs it: that statement reads a snapshot
/// first, and if another writer commits while it waits for the lock the
/// snapshot is stale and SQLite answers "database is locked" at once
/// (seen as one 500 in twenty racing registrations). Inside a transaction
/// it is a savepoint. PostgreSQL's transactions need nothing of the kind.
pub fn write_transaction<T>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = AnsiTransactionManager;
    let DbConnection::Sqlite(lite) = conn else {
        return conn.transaction(f);
    };
    // Inside a transaction already (which holds the write lock, or will
    // take it as its first statement): a savepoint.
    let depth =
        <Manager as TransactionManager<SqliteConnection>>::transaction_manager_status_mut(lite)
            .transaction_depth()?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    Manager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    // Still the SQLite connection `f` was lent.
    if let DbConnection::Sqlite(lite) = conn {
        match &result {
            Ok(_) => <Manager as TransactionManager<SqliteConnection>>::commit_transaction(lite)?,
            Err(_) => {
                if let Err(e) =
                    <Manager as TransactionManager<SqliteConnection>>::rollback_transaction(lite)
                {
                    tracing::warn!(error = %e, "rollback failed");
                }
            }
        }
    }
    result
}

/// The current time as stored: UTC, to the microsecond (PostgreSQL's
/// precision), so both backends answer with the same timestamps.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}

fn versions(applied: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    applied.iter().map(ToString::to_string).collect()
}
