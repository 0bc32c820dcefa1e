-- Invitations and one-time links (issue 11). An invitation names an email, the domain it is for
-- and the roles it grants there; its user is known at once when the email belongs to a user of
-- the domain, else created when the invitation is accepted. Withdrawn invitations are deleted.
CREATE TABLE invitations (
    id VARCHAR(64) PRIMARY KEY,
    email VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    domain_id VARCHAR(64) NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    user_id VARCHAR(64) REFERENCES users(id) ON DELETE CASCADE,
    inviter_id VARCHAR(64),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    sent_to VARCHAR(255),
    sent_at TIMESTAMP,
    delivery_error TEXT
);
CREATE INDEX invitations_domain_email ON invitations (domain_id, email);
CREATE INDEX invitations_user ON invitations (user_id);

-- The grants an invitation carries. The target is a project or the domain (polymorphic, as in
-- role_assignments): a target deleted meanwhile is skipped at acceptance.
CREATE TABLE invitation_roles (
    invitation_id VARCHAR(64) NOT NULL REFERENCES invitations(id) ON DELETE CASCADE,
    role_id VARCHAR(64) NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    target_type VARCHAR(16) NOT NULL,
    target_id VARCHAR(64) NOT NULL,
    PRIMARY KEY (invitation_id, role_id, target_type, target_id)
);

-- One-time links (set a password, accept an invitation). Only the SHA-256 of the 256-bit secret
-- is stored. A resend inserts a new row and marks the previous one replaced.
CREATE TABLE account_links (
    id VARCHAR(64) PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    secret_hash VARCHAR(64) NOT NULL,
    user_id VARCHAR(64) REFERENCES users(id) ON DELETE CASCADE,
    invitation_id VARCHAR(64) REFERENCES invitations(id) ON DELETE CASCADE,
    sent_to VARCHAR(255),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    replaced_at TIMESTAMP
);
CREATE UNIQUE INDEX account_links_secret_hash ON account_links (secret_hash);
CREATE INDEX account_links_user ON account_links (user_id);
CREATE INDEX account_links_invitation ON account_links (invitation_id);
