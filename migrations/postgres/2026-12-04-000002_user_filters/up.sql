-- The staff list's filters (GET /admin/users?is_active=…&is_staff=…):
-- a page in id order and its count, each one range of an index instead
-- of a walk over every user (issue 18's plan test).
CREATE INDEX users_is_active_id ON users (is_active, id);
CREATE INDEX users_is_staff_id ON users (is_staff, id);
