-- A user may be bound to one project of its domain (issue 11): it can hold roles only there.
-- Deleting the project deletes its bound users (done by the code, with their credentials and
-- tokens); the reference keeps a bind from landing on a project deleted at the same moment.
ALTER TABLE users ADD COLUMN bound_project_id TEXT REFERENCES projects (id);
CREATE INDEX users_bound_project ON users (bound_project_id);
