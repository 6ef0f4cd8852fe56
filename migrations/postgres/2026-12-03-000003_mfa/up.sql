-- A user's TOTP secret, encrypted (see src/auth/totp.rs). `confirmed_at`
-- NULL: a setup not confirmed yet (nothing is on). `last_step` is the
-- last time step whose code was accepted: a code is accepted only for a
-- later step, by an UPDATE that checks it, so two instances cannot both
-- accept one code.
CREATE TABLE totp_devices (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    confirmed_at TIMESTAMP,
    last_step BIGINT NOT NULL DEFAULT -1,
    created_at TIMESTAMP NOT NULL
);

-- Recovery codes, as SHA-256 hashes; a used one keeps its row.
CREATE TABLE recovery_codes (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX recovery_codes_user_id ON recovery_codes (user_id);

-- Logins waiting for their second step, when Redis is not configured
-- (with Redis they live there). `id` is a hash of the mfa_token.
CREATE TABLE mfa_logins (
    id TEXT PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX mfa_logins_expires_at ON mfa_logins (expires_at);
CREATE INDEX mfa_logins_user_id ON mfa_logins (user_id);
