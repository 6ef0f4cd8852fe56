DROP INDEX users_is_staff_id;
DROP INDEX users_is_active_id;
