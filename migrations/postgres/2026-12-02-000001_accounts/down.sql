DROP TABLE account_links;
DROP TABLE invitation_roles;
DROP TABLE invitations;
