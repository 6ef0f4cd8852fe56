-- Whether the user proved the address is theirs (a verification or an
-- email-change token spent). Accounts from before v2 have not.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- One-time tokens mailed to a user: password reset, email verification,
-- email change. Only a SHA-256 of the token is kept. `email` is the address
-- the token was sent to (the new one for a change): a token for an address
-- the account no longer has proves nothing.
CREATE TABLE email_tokens (
    id SERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX email_tokens_user_purpose ON email_tokens (user_id, purpose);
-- The resend interval: the latest token of a purpose sent to an address.
CREATE INDEX email_tokens_email_purpose ON email_tokens (email, purpose, created_at);
CREATE INDEX email_tokens_expires_at ON email_tokens (expires_at);

-- Mail to send, written in the same transaction as the change that needs
-- it and delivered by the sender (src/mail/sender.rs). A row is claimed
-- by one instance until `claimed_until`; `sent_at` or `failed_at` ends it,
-- and then its body is cleared (a reset link is not kept once sent).
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- When the link in the message expires: undelivered by then, it is
    -- given up (a dead link is no help). NULL for notices.
    expires_at TIMESTAMP,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    sent_at TIMESTAMP,
    failed_at TIMESTAMP
);
CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
-- One sign-up-attempt notice per address and interval.
CREATE INDEX outbox_recipient_kind ON outbox (recipient, kind, created_at);

-- Password-reset requests as received, known email or not: the request
-- answers after one insert either way, and the sender decides later
-- whether an account exists (no timing or error difference to observe).
CREATE TABLE password_reset_requests (
    id BIGSERIAL PRIMARY KEY,
    email_canonical TEXT NOT NULL,
    requested_at TIMESTAMP NOT NULL
);
