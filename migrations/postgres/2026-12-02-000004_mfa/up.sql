-- TOTP (issue 12): the last time step a TOTP credential's passcode was accepted for, so that a
-- passcode is accepted once across every node (replay refused). A step is claimed by an UPDATE
-- that only moves it forward, or by the INSERT of the first one: each a single atomic statement.
CREATE TABLE totp_steps (
    credential_id VARCHAR(64) PRIMARY KEY REFERENCES credentials(id) ON DELETE CASCADE,
    last_step BIGINT NOT NULL
);
