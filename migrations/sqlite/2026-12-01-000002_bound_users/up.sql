-- A user may be bound to one project of its domain (issue 11): it can hold roles only there.
-- Deleting the project deletes its bound users (done by the code, with their credentials and
-- tokens). No REFERENCES here, unlike PostgreSQL: SQLite could not drop the column again, and
-- its write transactions are serialized, so a bind cannot race the project's deletion.
ALTER TABLE users ADD COLUMN bound_project_id TEXT;
CREATE INDEX users_bound_project ON users (bound_project_id);
