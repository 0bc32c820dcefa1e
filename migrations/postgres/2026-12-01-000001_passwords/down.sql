DROP INDEX users_domain_phone;
ALTER TABLE users DROP COLUMN password_self_service;
ALTER TABLE users DROP COLUMN phone;
