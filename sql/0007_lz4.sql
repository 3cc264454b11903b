-- 0007_lz4.sql - compress the large columns with lz4 instead of pglz.
--
-- Every mail's raw bytes and text, and every outbound mail, are compressed
-- when PostgreSQL stores them out of line; with pglz that compression was a
-- fifth of the server's time during ingest.  lz4 compresses about as well on
-- mail and several times faster.  Only new values are affected; a server
-- built without lz4 keeps pglz (the statements are skipped, nothing fails).
DO $$
DECLARE
	col text;
BEGIN
	FOREACH col IN ARRAY ARRAY['message_raw.raw', 'messages.body_text',
	                           'blobs.data', 'outbox.raw', 'outbox.body']
	LOOP
		IF EXISTS (SELECT 1 FROM information_schema.columns
		            WHERE table_schema = current_schema()
		              AND table_name = split_part(col, '.', 1)
		              AND column_name = split_part(col, '.', 2)) THEN
			BEGIN
				EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4',
				               split_part(col, '.', 1), split_part(col, '.', 2));
			EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
				RAISE NOTICE 'lz4 is not available on this server; % keeps pglz', col;
			END;
		END IF;
	END LOOP;
END $$;
