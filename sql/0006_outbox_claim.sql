-- 0006_outbox_claim.sql - which database session claimed an outbox row.
--
-- A row in 'sending' names the PostgreSQL session that claimed it: its
-- backend pid and that backend's start time (a pid alone is reused).  When
-- that session no longer exists (its process died, or the server restarted)
-- nobody is sending the row, and the next claim takes it at once instead of
-- waiting for the lease to run out.  The lease stays as the fallback for a
-- session that lingers on a dead connection.
ALTER TABLE outbox ADD COLUMN claimed_pid integer;
ALTER TABLE outbox ADD COLUMN claimed_backend_start timestamptz;
