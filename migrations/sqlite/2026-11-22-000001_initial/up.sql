-- Ironstone initial schema (SQLite). Ids are Keystone-style 32-hex-digit UUIDs (text so that
-- Keystone's special ids such as "default" fit). Times are UTC, stored without a zone.
CREATE TABLE domains (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE projects (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
    parent_id VARCHAR(64) REFERENCES projects(id),
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT projects_domain_name_key UNIQUE (domain_id, name)
);

CREATE TABLE project_tags (
    project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    PRIMARY KEY (project_id, name)
);

CREATE TABLE users (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    default_project_id VARCHAR(64),
    email VARCHAR(255),
    description TEXT,
    extra TEXT NOT NULL DEFAULT '{}',
    password_hash TEXT,
    password_created_at TIMESTAMP,
    password_expires_at TIMESTAMP,
    failed_auth_count INTEGER NOT NULL DEFAULT 0,
    failed_auth_at TIMESTAMP,
    last_active_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT users_domain_name_key UNIQUE (domain_id, name)
);
CREATE INDEX users_email_idx ON users (email);

CREATE TABLE password_history (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, created_at);

CREATE TABLE user_options (
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE groups (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) NOT NULL REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT groups_domain_name_key UNIQUE (domain_id, name)
);

CREATE TABLE user_group_memberships (
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_id VARCHAR(64) NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX user_group_memberships_group_idx ON user_group_memberships (group_id);

CREATE TABLE roles (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    domain_id VARCHAR(64) REFERENCES domains(id),
    description TEXT NOT NULL DEFAULT '',
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
-- Global role names are unique; a domain-specific role's name is unique within its domain.
CREATE UNIQUE INDEX roles_global_name_key ON roles (name) WHERE domain_id IS NULL;
CREATE UNIQUE INDEX roles_domain_name_key ON roles (domain_id, name) WHERE domain_id IS NOT NULL;

CREATE TABLE implied_roles (
    prior_role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    implied_role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (prior_role_id, implied_role_id)
);

-- actor_type/target_type: user|group on project|domain|system. Actor and target are
-- polymorphic, so their cleanup happens in the same transaction as the actor's deletion.
CREATE TABLE role_assignments (
    actor_type VARCHAR(16) NOT NULL,
    actor_id VARCHAR(64) NOT NULL,
    target_type VARCHAR(16) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    inherited BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (actor_type, actor_id, target_type, target_id, role_id, inherited)
);
CREATE INDEX role_assignments_target_idx ON role_assignments (target_type, target_id);
CREATE INDEX role_assignments_actor_idx ON role_assignments (actor_id);

CREATE TABLE application_credentials (
    id VARCHAR(64) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    secret_hash TEXT NOT NULL,
    description TEXT,
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id VARCHAR(64) NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    expires_at TIMESTAMP,
    unrestricted BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    CONSTRAINT application_credentials_user_name_key UNIQUE (user_id, name)
);

CREATE TABLE application_credential_roles (
    application_credential_id VARCHAR(64) NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    PRIMARY KEY (application_credential_id, role_id)
);

CREATE TABLE access_rules (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    service VARCHAR(64) NOT NULL,
    path VARCHAR(255) NOT NULL,
    method VARCHAR(16) NOT NULL,
    CONSTRAINT access_rules_rule_key UNIQUE (user_id, service, path, method)
);

CREATE TABLE application_credential_access_rules (
    application_credential_id VARCHAR(64) NOT NULL REFERENCES application_credentials(id) ON DELETE CASCADE,
    access_rule_id VARCHAR(64) NOT NULL REFERENCES access_rules(id) ON DELETE CASCADE,
    PRIMARY KEY (application_credential_id, access_rule_id)
);

-- EC2-style and other credentials. The blob is encrypted at rest by the application.
CREATE TABLE credentials (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id VARCHAR(64) REFERENCES projects(id) ON DELETE CASCADE,
    type VARCHAR(255) NOT NULL,
    encrypted_blob TEXT NOT NULL,
    key_hash VARCHAR(64) NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX credentials_user_idx ON credentials (user_id);

CREATE TABLE regions (
    id VARCHAR(255) PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    parent_region_id VARCHAR(255) REFERENCES regions(id),
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE services (
    id VARCHAR(64) PRIMARY KEY,
    type VARCHAR(255) NOT NULL,
    name VARCHAR(255) NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    extra TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE endpoints (
    id VARCHAR(64) PRIMARY KEY,
    service_id VARCHAR(64) NOT NULL REFERENCES services(id) ON DELETE CASCADE,
    region_id VARCHAR(255) REFERENCES regions(id),
    interface VARCHAR(8) NOT NULL,
    url TEXT NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    extra TEXT NOT NULL DEFAULT '{}'
);

-- Keystone's revocation model: a token is revoked when every non-null column of some event
-- matches it and it was issued at or before issued_before.
CREATE TABLE revocation_events (
    id VARCHAR(64) PRIMARY KEY,
    user_id VARCHAR(64),
    project_id VARCHAR(64),
    domain_id VARCHAR(64),
    role_id VARCHAR(64),
    audit_id VARCHAR(32),
    audit_chain_id VARCHAR(32),
    application_credential_id VARCHAR(64),
    issued_before TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP NOT NULL
);
CREATE INDEX revocation_events_user_idx ON revocation_events (user_id);
CREATE INDEX revocation_events_project_idx ON revocation_events (project_id);
CREATE INDEX revocation_events_audit_idx ON revocation_events (audit_id);
CREATE INDEX revocation_events_audit_chain_idx ON revocation_events (audit_chain_id);
CREATE INDEX revocation_events_revoked_at_idx ON revocation_events (revoked_at);
