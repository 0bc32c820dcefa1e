DROP TRIGGER users_updated ON users;
CREATE CONSTRAINT TRIGGER users_updated AFTER UPDATE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash') IS DISTINCT FROM (to_jsonb(NEW) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at' - 'password_hash'))
    EXECUTE FUNCTION ironstone_note_change();
