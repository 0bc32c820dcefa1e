-- The change feed (issue 13): one counter row, bumped in the same transaction as any change that
-- can affect a token (who a user is, its domain and project, grants, groups, roles and their
-- implications, application credentials and their rules, the catalog, revocation events, the
-- recorded admin project). Each node caches what token validation computes and drops it when the
-- counter moves. Login bookkeeping (failure counters, last activity) does not bump it, so that a
-- flood of logins does not empty every cache; neither do password history, project tags and EC2
-- credential blobs, which no validation reads.
-- Triggers, not application code, bump it: no code path can forget to.
--
-- SQLite (one node, one writer at a time): plain row triggers; the node reads the counter after
-- each of its own commits and polls it for changes made by other processes (e.g. the CLI).
CREATE TABLE change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE TRIGGER domains_changed_insert AFTER INSERT ON domains
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER domains_changed_delete AFTER DELETE ON domains
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER domains_changed_update AFTER UPDATE ON domains
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER projects_changed_insert AFTER INSERT ON projects
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER projects_changed_delete AFTER DELETE ON projects
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER projects_changed_update AFTER UPDATE ON projects
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_options_changed_insert AFTER INSERT ON user_options
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_options_changed_delete AFTER DELETE ON user_options
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_options_changed_update AFTER UPDATE ON user_options
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER groups_changed_insert AFTER INSERT ON groups
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER groups_changed_delete AFTER DELETE ON groups
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER groups_changed_update AFTER UPDATE ON groups
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_group_memberships_changed_insert AFTER INSERT ON user_group_memberships
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_group_memberships_changed_delete AFTER DELETE ON user_group_memberships
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER user_group_memberships_changed_update AFTER UPDATE ON user_group_memberships
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER roles_changed_insert AFTER INSERT ON roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER roles_changed_delete AFTER DELETE ON roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER roles_changed_update AFTER UPDATE ON roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER implied_roles_changed_insert AFTER INSERT ON implied_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER implied_roles_changed_delete AFTER DELETE ON implied_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER implied_roles_changed_update AFTER UPDATE ON implied_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER role_assignments_changed_insert AFTER INSERT ON role_assignments
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER role_assignments_changed_delete AFTER DELETE ON role_assignments
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER role_assignments_changed_update AFTER UPDATE ON role_assignments
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credentials_changed_insert AFTER INSERT ON application_credentials
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credentials_changed_delete AFTER DELETE ON application_credentials
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credentials_changed_update AFTER UPDATE ON application_credentials
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_roles_changed_insert AFTER INSERT ON application_credential_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_roles_changed_delete AFTER DELETE ON application_credential_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_roles_changed_update AFTER UPDATE ON application_credential_roles
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_rules_changed_insert AFTER INSERT ON access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_rules_changed_delete AFTER DELETE ON access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_rules_changed_update AFTER UPDATE ON access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_access_rules_changed_insert AFTER INSERT ON application_credential_access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_access_rules_changed_delete AFTER DELETE ON application_credential_access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER application_credential_access_rules_changed_update AFTER UPDATE ON application_credential_access_rules
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER regions_changed_insert AFTER INSERT ON regions
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER regions_changed_delete AFTER DELETE ON regions
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER regions_changed_update AFTER UPDATE ON regions
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER services_changed_insert AFTER INSERT ON services
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER services_changed_delete AFTER DELETE ON services
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER services_changed_update AFTER UPDATE ON services
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_changed_insert AFTER INSERT ON endpoints
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_changed_delete AFTER DELETE ON endpoints
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_changed_update AFTER UPDATE ON endpoints
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER revocation_events_changed_insert AFTER INSERT ON revocation_events
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER revocation_events_changed_delete AFTER DELETE ON revocation_events
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER revocation_events_changed_update AFTER UPDATE ON revocation_events
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER system_facts_changed_insert AFTER INSERT ON system_facts
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER system_facts_changed_delete AFTER DELETE ON system_facts
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER system_facts_changed_update AFTER UPDATE ON system_facts
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_changed_insert AFTER INSERT ON users
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_changed_delete AFTER DELETE ON users
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
-- Every column but the login bookkeeping (failed_auth_count, failed_auth_at, last_active_at).
-- A migration that adds a column to users must add it here.
CREATE TRIGGER users_changed_update AFTER UPDATE ON users
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.domain_id IS NOT NEW.domain_id OR OLD.enabled IS NOT NEW.enabled OR OLD.default_project_id IS NOT NEW.default_project_id OR OLD.email IS NOT NEW.email OR OLD.description IS NOT NEW.description OR OLD.extra IS NOT NEW.extra OR OLD.password_hash IS NOT NEW.password_hash OR OLD.password_created_at IS NOT NEW.password_created_at OR OLD.password_expires_at IS NOT NEW.password_expires_at OR OLD.created_at IS NOT NEW.created_at OR OLD.phone IS NOT NEW.phone OR OLD.password_self_service IS NOT NEW.password_self_service OR OLD.bound_project_id IS NOT NEW.bound_project_id
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
