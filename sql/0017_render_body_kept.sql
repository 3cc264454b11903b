-- 0017_render_body_kept.sql - a render spec on a ticket leaves its text to
-- the ticket's outbound message.
--
-- Every mail queued on a ticket also gets its outbound message row
-- (messages, direction 'out', the same Message-ID) with the mail's text as
-- body_text.  The render spec in outbox.render held that text a second time;
-- for a notice, which quotes the customer's whole mail, that doubled what
-- the ingest wrote per mail.  Specs written from this version on have no
-- "body" when the mail is on a ticket: the sender reads the text from the
-- outbound message when it claims the row.  Rows queued before keep their
-- body and are sent as they are.  The schema version moves so that a
-- postdesk that expects the body in every spec refuses to run against a
-- database where such rows may be queued.
COMMENT ON COLUMN outbox.render IS
	'what the sender renders the mail from when raw is NULL (JSON): the headers and text fixed'
	' when it was queued, and the messages.id (and what of it: HTML, files) a notice carries;'
	' no "body" on a ticket''s mail: the text is the body_text of the ticket''s outbound message'
	' with the same message_id';
