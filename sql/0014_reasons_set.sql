-- 0014_reasons_set.sql - the reasons for their priority of a set of tickets
-- in one query.
--
-- An SLA scan composes its notices for all the tickets it claimed at once;
-- calling postdesk_priority_reasons(bigint) once per ticket cost an executor
-- start of its two queries per ticket.  postdesk_priority_reasons(bigint[])
-- gives one row per ticket (in no particular order) and, being a plain SQL
-- function, is inlined into the caller's query.  The one-ticket function now
-- reads its answer from it: one definition, same result.
CREATE FUNCTION postdesk_priority_reasons(tickets bigint[])
RETURNS TABLE (ticket bigint, reasons text)
LANGUAGE sql STABLE AS $$
	SELECT t.id, coalesce(pc.r, cl.r, '')
	  FROM unnest(tickets) AS t(id)
	  LEFT JOIN LATERAL (
		SELECT format('set to %s by %s', e.detail->>'to', e.actor) AS r FROM events e
		 WHERE e.ticket_id = t.id AND e.kind = 'priority.changed'
		 ORDER BY e.id DESC LIMIT 1) pc ON true
	  LEFT JOIN LATERAL (
		SELECT string_agg(CASE r.source
		            WHEN 'default' THEN 'no rule matched'
		            WHEN 'header' THEN format('header %s: %s', r.rule, r.matched)
		            ELSE format('%s rule "%s": "%s"%s', r.source, r.rule, r.matched,
		                        CASE WHEN r.field <> '' THEN ' in ' || r.field ELSE '' END) END
		        || CASE WHEN r.decided AND r.n > 1 THEN ' (decided)' ELSE '' END,
		        '; ' ORDER BY r.decided DESC, r.i) AS r
		   FROM (SELECT x->>'source' AS source, x->>'rule' AS rule, x->>'matched' AS matched,
		                coalesce(x->>'field', '') AS field,
		                coalesce((x->>'decided')::boolean, false) AS decided, i,
		                count(*) OVER () AS n
		           FROM events e,
		                jsonb_array_elements(e.detail->'reasons') WITH ORDINALITY AS a(x, i)
		          WHERE e.ticket_id = t.id AND e.kind = 'ticket.classified'
		            AND x->>'what' = 'priority') r) cl ON true
$$;

CREATE OR REPLACE FUNCTION postdesk_priority_reasons(ticket bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT r.reasons FROM postdesk_priority_reasons(ARRAY[$1]) AS r);
END
$$;
