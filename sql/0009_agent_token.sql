-- 0009_agent_token.sql - the secret behind each ticket's reply address.
--
-- A notice to the agents carries Reply-To support+tNUMBER-HMAC@domain, where
-- HMAC is the first 16 hex digits of HMAC-SHA256(secret, "ticket:NUMBER").
-- A mail addressed there proves that its writer saw the notice, so an agent's
-- answer sent there is relayed to the customer.  The secret is 32 bytes made
-- here once: SHA-256 over two random UUIDs (244 random bits; pgcrypto's
-- gen_random_bytes is not always installed, gen_random_uuid is built in).
-- Replacing the row invalidates every reply address handed out so far (and
-- the daemons, which read it once, must be restarted).
CREATE TABLE postdesk_secret (
	name       text PRIMARY KEY,
	secret     bytea NOT NULL CHECK (length(secret) = 32),
	created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO postdesk_secret (name, secret)
VALUES ('reply-token',
        sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));
