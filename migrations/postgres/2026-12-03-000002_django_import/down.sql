ALTER INDEX IF EXISTS users_email_trgm RESET (fastupdate);
ALTER INDEX IF EXISTS users_username_trgm RESET (fastupdate);
DROP TABLE django_imports;
