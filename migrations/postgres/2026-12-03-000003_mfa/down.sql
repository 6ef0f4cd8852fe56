DROP TABLE mfa_logins;
DROP TABLE recovery_codes;
DROP TABLE totp_devices;
