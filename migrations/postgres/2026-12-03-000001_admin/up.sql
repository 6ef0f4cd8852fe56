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

-- Deleting an account deletes its pending reset requests.
CREATE INDEX password_reset_requests_email ON password_reset_requests (email_canonical);

-- The staff search (`GET /admin/users?search=`): a case-insensitive
-- substring of email or username, `ILIKE '%...%'`, which trigram GIN
-- indexes (pg_trgm, a trusted extension since PostgreSQL 13) answer.
-- The extension goes to `public` when there is one, so that a database
-- used through several schemas has one copy; the operator class is named
-- with its schema, whatever the search path. Without the right to create
-- the extension, the search still works, by scanning.
DO $$
DECLARE
    ext_schema text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
                CREATE EXTENSION pg_trgm SCHEMA public;
            ELSE
                CREATE EXTENSION pg_trgm;
            END IF;
        EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
            RAISE WARNING 'pg_trgm is not available (%): the staff search will scan users', SQLERRM;
            RETURN;
        END;
    END IF;
    SELECT n.nspname INTO ext_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (email %I.gin_trgm_ops)', ext_schema);
    EXECUTE format('CREATE INDEX users_username_trgm ON users USING gin (username %I.gin_trgm_ops)', ext_schema);
END
$$;

-- Mail written before this migration belongs to whoever has its address
-- (a canonical email is the lower-cased address).
UPDATE outbox SET user_id = (
    SELECT users.id FROM users WHERE users.email_canonical = lower(outbox.recipient)
);
