DROP INDEX sessions_user_created;
CREATE INDEX sessions_user_id ON sessions (user_id);
ALTER TABLE sessions DROP COLUMN created_at;
