//! Redis connections: one multiplexed connection per thread that uses it.
//!
//! A single `ConnectionManager` shared by the whole server runs its socket
//! I/O on the thread that created it (the main thread), so every command
//! from an actix worker took two extra thread hops: worker → main → Redis →
//! main → worker. Each hop is a wake-up the scheduler may serve late, and
//! under a login flood (Argon2 on every core) that lateness showed up as
//! milliseconds of GET /accounts/me p99. Here each worker thread gets its
//! own connection, driven on its own runtime, created on first use.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;

thread_local! {
    /// This thread's connection for each pool (by pool id), with the
    /// outage count it was last checked at. Tests run many apps in one
    /// process; each app is its own pool.
    static CONNECTIONS: RefCell<HashMap<u64, (ConnectionManager, u64)>> = RefCell::new(HashMap::new());
}

/// Connection failures seen by any thread. A connection not used since
/// the last one may be dead (Redis restarted) without knowing it yet, so
/// it is pinged once before its next use (as the database pool does).
static OUTAGES: AtomicU64 = AtomicU64::new(0);

/// Counts a failure that may have left other threads' connections dead.
pub fn note_error(error: &RedisError) {
    if error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
    {
        OUTAGES.fetch_add(1, Ordering::Relaxed);
    }
}

static NEXT_POOL: AtomicU64 = AtomicU64::new(0);

/// Cheap to clone: every clone is the same pool.
#[derive(Clone)]
pub struct RedisPool(Arc<Pool>);

struct Pool {
    id: u64,
    client: redis::Client,
    config: ConnectionManagerConfig,
}

impl RedisPool {
    /// Checks the URL and that Redis answers (start-up fails otherwise).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| anyhow::anyhow!("REDIS_URL is invalid: {e}"))?;
        // Bounded waits: while Redis is down a request gets a 503 in about a
        // second instead of hanging; each manager reconnects by itself later.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1))
            .set_number_of_retries(1)
            .set_max_delay(500);
        let pool = RedisPool(Arc::new(Pool {
            id: NEXT_POOL.fetch_add(1, Ordering::Relaxed),
            client,
            config,
        }));
        pool.get()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to Redis at REDIS_URL: {e}"))?;
        Ok(pool)
    }

    /// This thread's connection, made on first use. A failed connect is
    /// not remembered: the next call tries again.
    pub async fn get(&self) -> Result<ConnectionManager, RedisError> {
        let pool = &self.0;
        let outages = OUTAGES.load(Ordering::Relaxed);
        let cached = CONNECTIONS.with(|c| c.borrow().get(&pool.id).cloned());
        if let Some((mut conn, checked)) = cached {
            if checked == outages {
                return Ok(conn);
            }
            // A failure was seen since this one was checked: is it alive?
            if redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
            {
                CONNECTIONS.with(|c| c.borrow_mut().insert(pool.id, (conn.clone(), outages)));
                return Ok(conn);
            }
            CONNECTIONS.with(|c| c.borrow_mut().remove(&pool.id));
        }
        let conn = ConnectionManager::new_with_config(pool.client.clone(), pool.config.clone())
            .await
            .inspect_err(note_error)?;
        // Another task of this thread may have connected meanwhile: keep one.
        Ok(CONNECTIONS.with(|c| {
            c.borrow_mut()
                .entry(pool.id)
                .or_insert((conn, outages))
                .0
                .clone()
        }))
    }
}
