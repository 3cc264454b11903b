-- 0002_outbound.sql - what sending mail needs: rate limits per recipient,
-- suppression after permanent failures, satisfaction ratings.

-- The main recipient of each outbound mail and whether it was automatic, so
-- that rate limits are one indexed count shared by every instance.
ALTER TABLE outbox ADD COLUMN to_address text;
ALTER TABLE outbox ADD COLUMN automatic boolean NOT NULL DEFAULT false;
CREATE INDEX outbox_auto_rcpt_idx ON outbox (to_address, created_at) WHERE automatic;

-- Addresses no automatic mail goes to for a while (a permanent failure).
CREATE TABLE suppressions (
	address    text PRIMARY KEY,       -- lower case addr-spec
	until      timestamptz NOT NULL,
	reason     text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tickets ADD COLUMN rating smallint CHECK (rating BETWEEN 1 AND 5);
ALTER TABLE tickets ADD COLUMN rated_at timestamptz;
