-- The change feed (issue 13): one counter row, bumped in the same transaction as any change that
-- can affect a token (who a user is, its domain and project, grants, groups, roles and their
-- implications, application credentials and their rules, the catalog, revocation events, the
-- recorded admin project). Each node caches what token validation computes and drops it when the
-- counter moves. Login bookkeeping (failure counters, last activity) does not bump it, so that a
-- flood of logins does not empty every cache; neither do password history, project tags and EC2
-- credential blobs, which no validation reads.
-- Triggers, not application code, bump it: no code path can forget to.
--
-- PostgreSQL: the bump runs in a deferred constraint trigger, i.e. when the transaction commits,
-- once per transaction, so that the counter row is locked only for the commit itself (a writer
-- holding it never waits for another lock: no deadlock with row locks taken earlier). It also
-- sends NOTIFY ironstone_changes '<counter> <commit time in microseconds>', delivered to every
-- listening node when (and only if) the transaction commits.
CREATE TABLE change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);

CREATE FUNCTION ironstone_note_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    counter BIGINT;
BEGIN
    IF current_setting('ironstone.change_noted', true) = txid_current()::text THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('ironstone.change_noted', txid_current()::text, true);
    UPDATE change_counter SET value = value + 1 WHERE id = 1 RETURNING value INTO counter;
    PERFORM pg_notify('ironstone_changes',
        counter::text || ' ' || floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER domains_changed AFTER INSERT OR UPDATE OR DELETE ON domains
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER projects_changed AFTER INSERT OR UPDATE OR DELETE ON projects
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER user_options_changed AFTER INSERT OR UPDATE OR DELETE ON user_options
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER groups_changed AFTER INSERT OR UPDATE OR DELETE ON groups
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER user_group_memberships_changed AFTER INSERT OR UPDATE OR DELETE ON user_group_memberships
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER roles_changed AFTER INSERT OR UPDATE OR DELETE ON roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER implied_roles_changed AFTER INSERT OR UPDATE OR DELETE ON implied_roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER role_assignments_changed AFTER INSERT OR UPDATE OR DELETE ON role_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER application_credentials_changed AFTER INSERT OR UPDATE OR DELETE ON application_credentials
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER application_credential_roles_changed AFTER INSERT OR UPDATE OR DELETE ON application_credential_roles
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER access_rules_changed AFTER INSERT OR UPDATE OR DELETE ON access_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER application_credential_access_rules_changed AFTER INSERT OR UPDATE OR DELETE ON application_credential_access_rules
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER regions_changed AFTER INSERT OR UPDATE OR DELETE ON regions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER services_changed AFTER INSERT OR UPDATE OR DELETE ON services
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER endpoints_changed AFTER INSERT OR UPDATE OR DELETE ON endpoints
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER revocation_events_changed AFTER INSERT OR UPDATE OR DELETE ON revocation_events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER system_facts_changed AFTER INSERT OR UPDATE OR DELETE ON system_facts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
CREATE CONSTRAINT TRIGGER users_changed AFTER INSERT OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
-- Every column but the login bookkeeping: a column added later counts as a change by default.
CREATE CONSTRAINT TRIGGER users_updated AFTER UPDATE ON users
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((to_jsonb(OLD) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at') IS DISTINCT FROM (to_jsonb(NEW) - 'failed_auth_count' - 'failed_auth_at' - 'last_active_at'))
    EXECUTE FUNCTION ironstone_note_change();
