//! A short-lived, in-process cache of loaded sessions, for SQLite only.
//!
//! With SQLite there is one process: every write to a session passes
//! through this one, so it can drop the cached copy at once, and a session
//! read again within `SESSION_CACHE_MILLIS` (an SPA opening a page fires
//! several requests together) skips the trip to the blocking pool. A change
//! made outside the service (an operator editing the database) is seen
//! within that time. Never used with PostgreSQL, where other instances
//! write too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{user_id, State};

/// Past this many entries the cache starts again from empty: it only has
/// to hold the sessions active in the last moment.
const MAX_ENTRIES: usize = 50_000;

pub struct LoadCache {
    ttl: Duration,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, (Instant, State)>,
    /// Bumped by every forget: a load that began before one must not
    /// store what it read (it may be the state just changed or ended).
    generation: u64,
}

impl LoadCache {
    pub fn new(ttl: Duration) -> Self {
        LoadCache {
            ttl,
            entries: Mutex::new(Entries::default()),
        }
    }

    pub fn get(&self, id: &str) -> Option<State> {
        let entries = self.entries.lock().ok()?;
        entries
            .map
            .get(id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, state)| state.clone())
    }

    /// To take before reading the table, and give back to `put`.
    pub fn generation(&self) -> u64 {
        self.entries.lock().map_or(u64::MAX, |e| e.generation)
    }

    /// Stores a state read since `generation`, unless something was
    /// forgotten in the meantime.
    pub fn put(&self, id: String, state: State, generation: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.generation != generation {
                return;
            }
            if entries.map.len() >= MAX_ENTRIES {
                entries.map.clear();
            }
            entries.map.insert(id, (Instant::now(), state));
        }
    }

    pub fn forget(&self, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.generation = entries.generation.wrapping_add(1);
            entries.map.remove(id);
        }
    }

    /// Drops every session of the user (but `keep`): after a revoke, or a
    /// change to the user that sessions are loaded with.
    pub fn forget_user(&self, user: i32, keep: Option<&str>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.generation = entries.generation.wrapping_add(1);
            entries
                .map
                .retain(|id, (_, state)| Some(id.as_str()) == keep || user_id(state) != Some(user));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sessions::{new_state, ClientKind};

    #[test]
    fn entries_expire_and_are_forgotten_by_id_and_by_user() {
        let cache = LoadCache::new(Duration::from_millis(50));
        let now = chrono::Utc::now();
        let generation = cache.generation();
        cache.put("a".into(), new_state(1, ClientKind::App, now), generation);
        cache.put(
            "b".into(),
            new_state(1, ClientKind::Browser, now),
            generation,
        );
        cache.put("c".into(), new_state(2, ClientKind::App, now), generation);
        assert!(cache.get("a").is_some());
        cache.forget("a");
        assert!(cache.get("a").is_none());
        cache.forget_user(1, None);
        assert!(cache.get("b").is_none() && cache.get("c").is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(cache.get("c").is_none(), "expired");
        // A load that began before a forget does not store what it read.
        cache.put("d".into(), new_state(3, ClientKind::App, now), generation);
        assert!(cache.get("d").is_none());
    }
}
