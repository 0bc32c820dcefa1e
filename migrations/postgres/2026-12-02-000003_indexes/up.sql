-- Indexes the hot queries need (issue 13). Revocation: a token check looks events up by user,
-- project, audit id, audit chain (indexed since the start), application credential and domain;
-- without the last two, one OR branch on an unindexed column turns the whole check into a scan
-- of every event. Assignments: by role (role deletion, `role.id=` filters). Projects: children
-- of a parent (subtree lists, deletion checks). Application credentials: by project (what a
-- lost assignment or a deleted project removes). Tags: projects by tag (`tags=` filters).
CREATE INDEX revocation_events_app_cred_idx ON revocation_events (application_credential_id);
CREATE INDEX revocation_events_domain_idx ON revocation_events (domain_id);
CREATE INDEX role_assignments_role_idx ON role_assignments (role_id);
CREATE INDEX projects_parent_idx ON projects (parent_id);
CREATE INDEX application_credentials_project_idx ON application_credentials (project_id);
CREATE INDEX application_credential_roles_role_idx ON application_credential_roles (role_id);
CREATE INDEX project_tags_name_idx ON project_tags (name, project_id);
