-- Bumped when every session of the user must end (deactivation, staff
-- ending them). A session records the value it was started under and is
-- refused once they differ: a login racing the change cannot leave a
-- session behind, and reactivation does not bring old sessions back.
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;

-- Whose mail a message is, so that deleting an account deletes it. NULL
-- for the deletion notice itself, which outlives the account.
ALTER TABLE outbox ADD COLUMN user_id INTEGER;
CREATE INDEX outbox_user_id ON outbox (user_id);

-- Serving a picture checks that a profile points at it, and the media
-- sweep looks files up by name.
CREATE INDEX profiles_profile_pic ON profiles (profile_pic);

-- The staff search (`GET /admin/users?search=`): a case-insensitive
-- substring of email or username. An FTS5 trigram index answers a phrase
-- of three or more characters from the index (shorter ones scan users).
-- It holds only the two columns and follows `users` through triggers.
CREATE VIRTUAL TABLE users_search USING fts5(
    email, username, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, email, username) VALUES (new.id, new.email, new.username);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email, username)
        VALUES ('delete', old.id, old.email, old.username);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF email, username ON users BEGIN
    INSERT INTO users_search (users_search, rowid, email, username)
        VALUES ('delete', old.id, old.email, old.username);
    INSERT INTO users_search (rowid, email, username) VALUES (new.id, new.email, new.username);
END;

-- Deleting an account deletes its pending reset requests.
CREATE INDEX password_reset_requests_email ON password_reset_requests (email_canonical);

-- Mail written before this migration belongs to whoever has its address
-- (a canonical email is the lower-cased address).
UPDATE outbox SET user_id = (
    SELECT users.id FROM users WHERE users.email_canonical = lower(outbox.recipient)
);
