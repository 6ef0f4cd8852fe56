DROP INDEX password_reset_requests_email;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
DROP INDEX profiles_profile_pic;
DROP INDEX outbox_user_id;
ALTER TABLE outbox DROP COLUMN user_id;
ALTER TABLE users DROP COLUMN session_generation;
