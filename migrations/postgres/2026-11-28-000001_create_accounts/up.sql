CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    -- Lower-cased email: the unique key ("A@X.com" and "a@x.com" are one account).
    email_canonical TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL DEFAULT '',
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    date_joined TIMESTAMP NOT NULL,
    last_login TIMESTAMP
);
-- Usernames are optional, but unique when set.
CREATE UNIQUE INDEX users_username_unique ON users (username) WHERE username <> '';

CREATE TABLE profiles (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    portfolio_site TEXT NOT NULL DEFAULT '',
    bio TEXT NOT NULL DEFAULT '',
    profile_pic TEXT
);

-- The embedded session store. `id` is a hash of the session key: a copy of
-- this table does not hand out live sessions.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Failed-login counters (fixed windows) when Redis is not configured.
CREATE TABLE login_failures (
    scope_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_ends_at TIMESTAMP NOT NULL
);
