-- User lists (issue 13) cache what a user shows, `OS-PCU:status` included, which tells whether a
-- password is set: whether users.password_hash is NULL. The hash itself stays out of the change
-- feed (a rehash on login writes it alone, see 2026-12-03-000003_rehash_quiet); a hash that
-- appears or goes now counts as a change by itself.
-- Every column of users but failed_auth_count, failed_auth_at, last_active_at and password_hash
-- (whose presence counts). A migration that adds a column to users must add it here.
DROP TRIGGER users_changed_update;
CREATE TRIGGER users_changed_update AFTER UPDATE ON users
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.domain_id IS NOT NEW.domain_id OR OLD.enabled IS NOT NEW.enabled OR OLD.default_project_id IS NOT NEW.default_project_id OR OLD.email IS NOT NEW.email OR OLD.description IS NOT NEW.description OR OLD.extra IS NOT NEW.extra OR OLD.password_created_at IS NOT NEW.password_created_at OR OLD.password_expires_at IS NOT NEW.password_expires_at OR OLD.created_at IS NOT NEW.created_at OR OLD.phone IS NOT NEW.phone OR OLD.password_self_service IS NOT NEW.password_self_service OR OLD.bound_project_id IS NOT NEW.bound_project_id OR (OLD.password_hash IS NULL) IS NOT (NEW.password_hash IS NULL)
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
