-- TOTP (issue 12): the last time step a TOTP credential's passcode was accepted for, so that a
-- passcode is accepted once across every node (replay refused). A step is claimed by an UPDATE
-- that only moves it forward, or by the INSERT of the first one: each a single atomic statement.
CREATE TABLE totp_steps (
    credential_id VARCHAR(64) PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
    last_step BIGINT NOT NULL
);

-- Domain settings (issue 12): every user of the domain must use MFA unless exempt
-- (OS-PCU:mfa_required), and users may log in with their email address as user name
-- (OS-PCU:login_by_email; emails are then unique per domain, case-insensitively).
ALTER TABLE domains ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE domains ADD COLUMN login_by_email BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX users_domain_email ON users (domain_id, lower(email));
