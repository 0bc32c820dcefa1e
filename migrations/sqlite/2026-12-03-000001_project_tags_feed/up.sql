-- Project tags join the change feed: the node caches whole project views (project + tags).
CREATE TRIGGER project_tags_changed_insert AFTER INSERT ON project_tags
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER project_tags_changed_delete AFTER DELETE ON project_tags
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER project_tags_changed_update AFTER UPDATE ON project_tags
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
