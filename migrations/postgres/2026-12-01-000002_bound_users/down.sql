DROP INDEX users_bound_project;
ALTER TABLE users DROP COLUMN bound_project_id;
