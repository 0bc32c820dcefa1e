DROP TABLE totp_steps;
