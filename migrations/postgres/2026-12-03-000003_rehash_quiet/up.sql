-- A rehash on login (the hashing parameters changed: the user's next successful login re-computes
-- the hash of the same password, `store::rehash_user_password`) writes users.password_hash alone.
-- It bumped the change counter, so that during a flood of logins after a parameter change every
-- node emptied its caches once per login. No token depends on the hash itself: every real
-- password change (`store::set_user_password`, `store::clear_user_password`) also writes
-- password_created_at (and the expiry), which still count, as does every other column but the
-- login bookkeeping. Only the hash is now left out, like the failure counters and last activity.
DROP TRIGGER users_updated ON users;
CREATE CONSTRAINT TRIGGER users_updated AFTER UPDATE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash') IS DISTINCT FROM (to_jsonb(NEW) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash'))
    EXECUTE FUNCTION ironstone_note_change();
