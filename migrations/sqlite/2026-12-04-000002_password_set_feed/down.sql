DROP TRIGGER users_changed_update;
CREATE TRIGGER users_changed_update AFTER UPDATE ON users
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.domain_id IS NOT NEW.domain_id OR OLD.enabled IS NOT NEW.enabled OR OLD.default_project_id IS NOT NEW.default_project_id OR OLD.email IS NOT NEW.email OR OLD.description IS NOT NEW.description OR OLD.extra IS NOT NEW.extra OR OLD.password_created_at IS NOT NEW.password_created_at OR OLD.password_expires_at IS NOT NEW.password_expires_at OR OLD.created_at IS NOT NEW.created_at OR OLD.phone IS NOT NEW.phone OR OLD.password_self_service IS NOT NEW.password_self_service OR OLD.bound_project_id IS NOT NEW.bound_project_id
BEGIN UPDATE change_counter SET value = value + 1 WHERE id = 1; END;
