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
