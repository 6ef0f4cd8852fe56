-- Which Django users `accounts import-django` has brought in, and as
-- which account. A rerun skips them; an imported account deleted since
-- keeps its row (user_id NULL), so it is not brought back. `source` names
-- the Django database (its user table and the time its first migration
-- ran), the same for a copy or a restored backup of it.
CREATE TABLE django_imports (
    source TEXT NOT NULL,
    django_id BIGINT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    imported_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source, django_id)
);
CREATE INDEX django_imports_user_id ON django_imports (user_id);

-- The trigram indexes of the staff search take inserts into a pending
-- list that every search then reads in full until a vacuum merges it: a
-- bulk import (100,000 users) left searches and look-ups seconds slow.
-- Without it each insert updates the index at once (a little more work
-- per registration, which Argon2 dwarfs).
ALTER INDEX IF EXISTS users_email_trgm SET (fastupdate = off);
ALTER INDEX IF EXISTS users_username_trgm SET (fastupdate = off);
