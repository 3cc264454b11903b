-- 0015_outbox_render.sql - outbound mail queued as what it is rendered from.
--
-- The ingest used to render every acknowledgement and notice in its own
-- transaction and store the bytes in outbox.raw: for a notice, a second copy
-- of the customer's text, HTML and files, which message_raw already holds.
-- Such a mail is now queued with raw NULL and its render spec here (the
-- headers and text decided when it was queued, and which stored message it
-- carries and what of it); the sender renders it when it sends it.  Rows
-- with raw set (an agent's answer, rows queued before this migration) are
-- sent as they are.
-- The spec is JSON text as postdesk writes and reads it (render::jsonb to
-- query it): text, because the server need not parse what only postdesk
-- reads, and parsing it into jsonb cost the ingest more than the spec saves.
ALTER TABLE outbox ADD COLUMN render text;
COMMENT ON COLUMN outbox.render IS
	'what the sender renders the mail from when raw is NULL (JSON): the headers and text fixed'
	' when it was queued, and the messages.id (and what of it: HTML, files) a notice carries';

-- compressed with lz4 like the other large columns (0007), where the server has it
DO $$
BEGIN
	ALTER TABLE outbox ALTER COLUMN render SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
	RAISE NOTICE 'lz4 is not available on this server; outbox.render keeps pglz';
END $$;
