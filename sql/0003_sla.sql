-- 0003_sla.sql - urgency, routing and SLA clocks.
--
-- Both clocks of a ticket (first response, resolution) run on the calendar of
-- its priority's sla section and pause together while the ticket waits for
-- the customer (pending) or is resolved.  The clock state is
--   sla_used   business seconds consumed before sla_since,
--   sla_since  when the clock last started running (NULL while paused),
-- so a due time is "target - sla_used business seconds after sla_since".
-- The due and warning instants are computed by postdesk (calendar
-- arithmetic) and stored, so finding what is due is one indexed query.

ALTER TABLE tickets ADD COLUMN sla_calendar text;          -- calendar the clocks use; NULL = no SLA
ALTER TABLE tickets ADD COLUMN sla_since timestamptz;      -- running since; NULL = paused or no SLA
ALTER TABLE tickets ADD COLUMN sla_used bigint NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN first_response_target bigint;  -- seconds (business), NULL = none
ALTER TABLE tickets ADD COLUMN resolution_target bigint;
ALTER TABLE tickets ADD COLUMN first_response_warn timestamptz;
ALTER TABLE tickets ADD COLUMN resolution_warn timestamptz;
-- business seconds the clock had used when the first response / resolution came
ALTER TABLE tickets ADD COLUMN first_response_secs bigint;
ALTER TABLE tickets ADD COLUMN resolution_secs bigint;
-- the due time each notice was sent for: a notice is due again only when the
-- due time moves (priority changed, clock paused and resumed)
ALTER TABLE tickets ADD COLUMN first_response_warned timestamptz;
ALTER TABLE tickets ADD COLUMN first_response_breached timestamptz;
ALTER TABLE tickets ADD COLUMN resolution_warned timestamptz;
ALTER TABLE tickets ADD COLUMN resolution_breached timestamptz;

-- The next instant the SLA scan has something to do for this ticket.
ALTER TABLE tickets ADD COLUMN next_sla_at timestamptz GENERATED ALWAYS AS (
	CASE WHEN sla_since IS NULL THEN NULL ELSE least(
		CASE WHEN first_response_at IS NULL AND first_response_due IS NOT NULL
		      AND first_response_breached IS DISTINCT FROM first_response_due THEN
			CASE WHEN first_response_warn IS NOT NULL
			      AND first_response_warned IS DISTINCT FROM first_response_due
			     THEN least(first_response_warn, first_response_due)
			     ELSE first_response_due END
		END,
		CASE WHEN resolution_due IS NOT NULL
		      AND resolution_breached IS DISTINCT FROM resolution_due THEN
			CASE WHEN resolution_warn IS NOT NULL
			      AND resolution_warned IS DISTINCT FROM resolution_due
			     THEN least(resolution_warn, resolution_due)
			     ELSE resolution_due END
		END)
	END) STORED;
CREATE INDEX tickets_next_sla_idx ON tickets (next_sla_at) WHERE next_sla_at IS NOT NULL;
CREATE INDEX tickets_created_idx ON tickets (created_at);
CREATE INDEX tickets_resolved_idx ON tickets (resolved_at) WHERE resolved_at IS NOT NULL;

-- Every SLA notice sent: at most one per ticket, clock, kind and due time,
-- however many instances scan.  Also what the report counts.
CREATE TABLE sla_notices (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	ticket_id  bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
	clock      text NOT NULL CHECK (clock IN ('first_response', 'resolution')),
	kind       text NOT NULL CHECK (kind IN ('warning', 'breach', 'escalation')),
	due_at     timestamptz NOT NULL,
	priority   text NOT NULL,
	line       integer NOT NULL,       -- the line told (escalation: the new line)
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (ticket_id, clock, kind, due_at)
);
CREATE INDEX sla_notices_created_idx ON sla_notices (created_at);

-- Why a ticket has its priority, in one line for people: who set it last,
-- else the classification's reasons ("keyword rule "outage": "не работает"
-- in subject (decided); ...").  Used by notices and `postdesk show`.
CREATE FUNCTION postdesk_priority_reasons(ticket bigint) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(
		(SELECT format('set to %s by %s', e.detail->>'to', e.actor) FROM events e
		  WHERE e.ticket_id = ticket AND e.kind = 'priority.changed'
		  ORDER BY e.id DESC LIMIT 1),
		(SELECT string_agg(CASE r.source
		            WHEN 'default' THEN 'no rule matched'
		            WHEN 'header' THEN format('header %s: %s', r.rule, r.matched)
		            ELSE format('%s rule "%s": "%s"%s', r.source, r.rule, r.matched,
		                        CASE WHEN r.field <> '' THEN ' in ' || r.field ELSE '' END) END
		        || CASE WHEN r.decided AND r.n > 1 THEN ' (decided)' ELSE '' END,
		        '; ' ORDER BY r.decided DESC, r.i)
		   FROM (SELECT x->>'source' AS source, x->>'rule' AS rule, x->>'matched' AS matched,
		                coalesce(x->>'field', '') AS field,
		                coalesce((x->>'decided')::boolean, false) AS decided, i,
		                count(*) OVER () AS n
		           FROM events e,
		                jsonb_array_elements(e.detail->'reasons') WITH ORDINALITY AS a(x, i)
		          WHERE e.ticket_id = ticket AND e.kind = 'ticket.classified'
		            AND x->>'what' = 'priority') r),
		'')
$$;
