DROP INDEX outbox_failed_at;
DROP INDEX outbox_sent_at;
DROP INDEX login_failures_window_ends_at;
DROP INDEX sessions_user_created;
CREATE INDEX sessions_user_id ON sessions (user_id);
ALTER TABLE sessions DROP COLUMN created_at;
