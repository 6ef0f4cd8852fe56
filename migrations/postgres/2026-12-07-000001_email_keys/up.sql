-- The resend interval compares the case-folded address a token was sent
-- to, so `Victim@x.org` and `vICTIM@x.org` share one interval. Tokens
-- already issued get lower(): they expire within hours, and only the
-- interval reads this column.
ALTER TABLE email_tokens ADD COLUMN email_canonical TEXT NOT NULL DEFAULT '';
UPDATE email_tokens SET email_canonical = lower(email);
DROP INDEX email_tokens_email_purpose;
CREATE INDEX email_tokens_canonical_purpose ON email_tokens (email_canonical, purpose, created_at);

-- Emails are NFKC-normalised and keyed by their case-folded form; the
-- application's folding (src/domain/email.rs) is not PostgreSQL's, and
-- SQLite has neither, so one Rust pass does it for both. Only an address
-- with a character beyond ASCII can change; those users are listed here,
-- and the application re-keys them (src/db/address_keys.rs) right after
-- migrating, emptying the list.
CREATE TABLE email_rekey_pending (
    user_id INTEGER PRIMARY KEY
);
INSERT INTO email_rekey_pending (user_id)
    SELECT id FROM users WHERE octet_length(email) <> char_length(email);
