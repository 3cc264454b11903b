-- 0008_reasons_plpgsql.sql - postdesk_priority_reasons() in PL/pgSQL.
--
-- As a LANGUAGE sql function with subqueries it could not be inlined, so
-- every call parsed and planned its query again: half a millisecond for
-- each SLA notice.  PL/pgSQL keeps the plan for the session.  Same result.
CREATE OR REPLACE FUNCTION postdesk_priority_reasons(ticket bigint) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN coalesce(
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
		'');
END
$$;
