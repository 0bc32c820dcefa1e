DROP TRIGGER project_tags_changed ON project_tags;
