-- Domain settings (issue 12): every user of the domain must use MFA unless exempt
-- (OS-PCU:mfa_required), and users may log in with their email address as user name
-- (OS-PCU:login_by_email; emails are then unique per domain, case-insensitively).
-- A migration of its own: 2026-12-02-000004_mfa had already run on databases without them.
ALTER TABLE domains ADD COLUMN mfa_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE domains ADD COLUMN login_by_email BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX users_domain_email ON users (domain_id, lower(email));
