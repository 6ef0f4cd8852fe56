DROP INDEX IF EXISTS users_username_trgm;
DROP INDEX IF EXISTS users_email_trgm;
DROP INDEX password_reset_requests_email;
DROP INDEX profiles_profile_pic;
DROP INDEX outbox_user_id;
ALTER TABLE outbox DROP COLUMN user_id;
ALTER TABLE users DROP COLUMN session_generation;
