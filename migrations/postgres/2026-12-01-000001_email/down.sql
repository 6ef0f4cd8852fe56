DROP TABLE password_reset_requests;
DROP TABLE outbox;
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified;
