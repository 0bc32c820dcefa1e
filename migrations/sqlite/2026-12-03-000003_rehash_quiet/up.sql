-- A rehash on login (the hashing parameters changed: the user's next successful login re-computes
-- the hash of the same password, `store::rehash_user_password`) writes users.password_hash alone.
-- It bumped the change counter, so that during a flood of logins after a parameter change the
-- node emptied its caches once per login. No token depends on the hash itself: every real
-- password change (`store::set_user_password`, `store::clear_user_password`) also writes
-- password_created_at (and the expiry), which still count, as does every other column but the
-- login bookkeeping. Only the hash is now left out, like the failure counters and last activity.
-- Every column of users but failed_auth_count, failed_auth_at, last_active_at and password_hash.
-- A migration that adds a column to users must add it here.
DROP TRIGGER users_changed_update;
CREATE TRIGGER users_changed_update AFTER UPDATE ON users
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.domain_id IS NOT NEW.domain_id OR OLD.enabled IS NOT NEW.enabled OR OLD.default_project_id IS NOT NEW.default_project_id OR OLD.email IS NOT NEW.email OR OLD.description IS NOT NEW.description OR OLD.extra IS NOT NEW.extra OR OLD.password_created_at IS NOT NEW.password_created_at OR OLD.password_expires_at IS NOT NEW.password_expires_at OR OLD.created_at IS NOT NEW.created_at OR OLD.phone IS NOT NEW.phone OR OLD.password_self_service IS NOT NEW.password_self_service OR OLD.bound_project_id IS NOT NEW.bound_project_id
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
