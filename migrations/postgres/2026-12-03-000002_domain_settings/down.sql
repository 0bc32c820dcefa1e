DROP INDEX users_domain_email;
ALTER TABLE domains DROP COLUMN login_by_email;
ALTER TABLE domains DROP COLUMN mfa_required;
