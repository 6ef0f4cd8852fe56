DROP TABLE email_rekey_pending;
DROP INDEX email_tokens_canonical_purpose;
CREATE INDEX email_tokens_email_purpose ON email_tokens (email, purpose, created_at);
ALTER TABLE email_tokens DROP COLUMN email_canonical;
