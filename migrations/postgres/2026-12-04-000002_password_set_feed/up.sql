-- User lists (issue 13) cache what a user shows, `OS-PCU:status` included, which tells whether a
-- password is set: whether users.password_hash is NULL. The hash itself stays out of the change
-- feed (a rehash on login writes it alone, see 2026-12-03-000003_rehash_quiet); every change of
-- whether there is one also writes password_created_at today, but the feed no longer relies on
-- that: a hash that appears or goes counts as a change by itself.
DROP TRIGGER users_updated ON users;
CREATE CONSTRAINT TRIGGER users_updated AFTER UPDATE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash') IS DISTINCT FROM (to_jsonb(NEW) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash')
          OR (OLD.password_hash IS NULL) <> (NEW.password_hash IS NULL))
    EXECUTE FUNCTION ironstone_note_change();
