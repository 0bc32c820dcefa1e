-- Facts about this cloud that are decided once and looked up by id, never by a name anyone can
-- change: which project is the operator's realm, and whether bootstrap has ever run.
CREATE TABLE system_facts (
    name VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL
);

-- A store bootstrapped before this table existed: its admin project is the Default domain's
-- project on which the global `admin` role is granted, preferring the one named "admin".
INSERT INTO system_facts (name, value)
SELECT 'admin_project_id', p.id
FROM projects p
JOIN role_assignments a ON a.target_type = 'project' AND a.target_id = p.id AND a.inherited = FALSE
JOIN roles r ON r.id = a.role_id AND r.name = 'admin' AND r.domain_id IS NULL
WHERE p.domain_id = 'default'
ORDER BY CASE WHEN p.name = 'admin' THEN 0 ELSE 1 END, p.created_at
LIMIT 1;

-- Its administrator: the Default-domain user holding `admin` there, preferring the one named
-- "admin". Bootstrap adopts no other existing user afterwards.
INSERT INTO system_facts (name, value)
SELECT 'admin_user_id', u.id
FROM users u
JOIN role_assignments a ON a.actor_type = 'user' AND a.actor_id = u.id
    AND a.target_type = 'project' AND a.inherited = FALSE
JOIN roles r ON r.id = a.role_id AND r.name = 'admin' AND r.domain_id IS NULL
JOIN system_facts f ON f.name = 'admin_project_id' AND f.value = a.target_id
WHERE u.domain_id = 'default'
ORDER BY CASE WHEN u.name = 'admin' THEN 0 ELSE 1 END, u.created_at
LIMIT 1;

INSERT INTO system_facts (name, value)
SELECT 'bootstrapped_at', 'before-migration' FROM domains WHERE id = 'default';
