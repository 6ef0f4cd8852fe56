-- When each session started, as a column: the session list shows the
-- newest first and a login beyond MAX_SESSIONS_PER_USER ends the oldest,
-- both answered by one index range of the user's sessions.
ALTER TABLE sessions ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
-- Sessions from before: their start is in the state (unix seconds, as a
-- JSON string inside the JSON map).
UPDATE sessions
SET created_at = datetime(CAST(json_extract(state, '$.created_at') AS INTEGER), 'unixepoch')
WHERE json_valid(state) AND json_extract(state, '$.created_at') GLOB '[0-9]*';
DROP INDEX sessions_user_id;
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);

-- The periodic clean-up deletes by these in small batches, and must not
-- read every row to find the few that expired (issue 18's plan test).
CREATE INDEX login_failures_window_ends_at ON login_failures (window_ends_at);
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_failed_at ON outbox (failed_at) WHERE failed_at IS NOT NULL;
