-- Project tags join the change feed: nodes now cache whole project views (project + tags) for
-- reads, served only while the feed vouches that nothing changed since they were read.
CREATE CONSTRAINT TRIGGER project_tags_changed AFTER INSERT OR UPDATE OR DELETE ON project_tags
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ironstone_note_change();
