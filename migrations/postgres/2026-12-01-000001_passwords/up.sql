-- Users get a phone number beside their email (the password policy refuses passwords that
-- contain either), and each password records whether the user chose it (Keystone's
-- `self_service`): the minimum password age binds only passwords users chose themselves.
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN password_self_service BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX users_domain_phone ON users (domain_id, phone);
