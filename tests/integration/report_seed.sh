#!/bin/bash
# tests/integration/report_seed.sh - the seeded database of the report tests
# (report.sh checks the numbers, report_html.sh draws them), sourced after
# lib.sh.  Times are relative to now().
#
# #  priority line status   created  first response        resolution            rating
# 1  critical 1    resolved 2d ago   600 s  (target 1800)  7200 s (target 14400) 5, 1d ago
# 2  critical 2    closed   3d ago   3600 s (missed)       20000 s (missed)      2, 2d ago
# 3  critical 1    open     1d ago   none, due 23.5h ago   none, due in 1h       -
# 4  high     1    new      5h ago   no SLA                no SLA                -
# 5  normal   1    resolved 10d ago  1200 s (target 28800) 300000 s (missed)     4, 8d ago
# 6  normal   2    new      20m ago  none, due in 8h       none, due in 3d       -
# 7  low      1    pending  40d ago  500 s, 39d ago        no SLA                1, 38d ago
# 8  normal   1    resolved 40d ago  900 s, 39d ago        50000 s, 5d ago       3, 4d ago
# 9  critical 1    open     30m ago  1800 s (= target)     none, due in 3.5h     4, 10m ago
# 10 normal   3    pending  6d ago   7200 s                none, due 1d ago      -
#
# Request types: #1 #2 #3 #9 incident, #4 question, #5 refund, #6 access,
# #10 complaint, #7 #8 suggestion.  Plans: #1 #2 gold, #10 basic, the rest
# none (the default plan).  ticket.classified events with keyword reasons:
# #1 "Не работает", #2 "не работает" and "Ошибка", #3 "DOWN" and "не работает"
# twice (once per ticket counts), #9 "down", #7 "не работает" (40 days ago);
# #4 only a sender reason (not a keyword).

# pd_report_seed DB: fill DB (migrated, empty); dies on failure.
pd_report_seed() {
	psql -X -q -v ON_ERROR_STOP=1 -U postdesk -d "$1" >"$T/seed.log" 2>&1 <<'EOF' ||
INSERT INTO tickets (id, requester_address, subject, status, priority, line, created_at,
	first_response_at, resolved_at, first_response_target, resolution_target,
	first_response_secs, resolution_secs, first_response_due, resolution_due, rating, rated_at)
VALUES
 (1, 'c1@example.com', 'one', 'resolved', 'critical', 1, now() - '2d'::interval,
  now() - '2d'::interval + '10m', now() - '1d'::interval, 1800, 14400, 600, 7200,
  now() - '2d'::interval + '30m', now() - '2d'::interval + '4h', 5, now() - '1d'::interval),
 (2, 'c2@example.com', 'two', 'closed', 'critical', 2, now() - '3d'::interval,
  now() - '3d'::interval + '1h', now() - '2d'::interval, 1800, 14400, 3600, 20000,
  now() - '3d'::interval + '30m', now() - '3d'::interval + '4h', 2, now() - '2d'::interval),
 (3, 'c3@example.com', 'three', 'open', 'critical', 1, now() - '1d'::interval,
  NULL, NULL, 1800, 14400, NULL, NULL,
  now() - '1d'::interval + '30m', now() + '1h'::interval, NULL, NULL),
 (4, 'c4@example.com', 'four', 'new', 'high', 1, now() - '5h'::interval,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (5, 'c5@example.com', 'five', 'resolved', 'normal', 1, now() - '10d'::interval,
  now() - '10d'::interval + '20m', now() - '8d'::interval, 28800, 259200, 1200, 300000,
  now() - '9d'::interval, now() - '7d'::interval, 4, now() - '8d'::interval),
 (6, 'c6@example.com', 'six', 'new', 'normal', 2, now() - '20m'::interval,
  NULL, NULL, 28800, 259200, NULL, NULL, now() + '8h'::interval, now() + '3d'::interval, NULL, NULL),
 (7, 'c7@example.com', 'seven', 'pending', 'low', 1, now() - '40d'::interval,
  now() - '39d'::interval, NULL, NULL, NULL, 500, NULL, NULL, NULL, 1, now() - '38d'::interval),
 (8, 'c8@example.com', 'eight', 'resolved', 'normal', 1, now() - '40d'::interval,
  now() - '39d'::interval, now() - '5d'::interval, 28800, 259200, 900, 50000,
  now() - '39d'::interval, now() - '30d'::interval, 3, now() - '4d'::interval),
 (9, 'c9@example.com', 'nine', 'open', 'critical', 1, now() - '30m'::interval,
  now() - '20m'::interval, NULL, 1800, 14400, 1800, NULL,
  now(), now() + '3h30m'::interval, 4, now() - '10m'::interval),
 (10, 'c10@example.com', 'ten', 'pending', 'normal', 3, now() - '6d'::interval,
  now() - '6d'::interval + '2h', NULL, 28800, 259200, 7200, NULL,
  now() - '5d'::interval, now() - '1d'::interval, NULL, NULL);

INSERT INTO sla_notices (ticket_id, clock, kind, due_at, priority, line, created_at) VALUES
 (2, 'first_response', 'breach', now() - '3d'::interval + '30m', 'critical', 1, now() - '3d'::interval + '31m'),
 (2, 'first_response', 'escalation', now() - '3d'::interval + '30m', 'critical', 2, now() - '3d'::interval + '31m'),
 (2, 'resolution', 'breach', now() - '3d'::interval + '4h', 'critical', 2, now() - '3d'::interval + '4h'),
 (3, 'first_response', 'warning', now() - '1d'::interval + '30m', 'critical', 1, now() - '1d'::interval + '24m'),
 (3, 'first_response', 'breach', now() - '1d'::interval + '30m', 'critical', 1, now() - '1d'::interval + '31m'),
 (5, 'resolution', 'breach', now() - '7d'::interval, 'normal', 1, now() - '7d'::interval),
 (10, 'resolution', 'warning', now() - '1d'::interval, 'normal', 3, now() - '2d'::interval),
 (10, 'resolution', 'breach', now() - '1d'::interval, 'normal', 3, now() - '1d'::interval),
 (10, 'resolution', 'escalation', now() - '1d'::interval, 'normal', 3, now() - '1d'::interval),
 (7, 'first_response', 'breach', now() - '39d'::interval, 'low', 1, now() - '35d'::interval),
 (9, 'first_response', 'warning', now(), 'critical', 1, now() - '5m'::interval);

UPDATE tickets SET type = CASE WHEN id IN (1, 2, 3, 9) THEN 'incident' WHEN id = 5 THEN 'refund'
	WHEN id = 6 THEN 'access' WHEN id = 10 THEN 'complaint' WHEN id IN (7, 8) THEN 'suggestion'
	ELSE 'question' END,
	plan = CASE WHEN id IN (1, 2) THEN 'gold' WHEN id = 10 THEN 'basic' END;

INSERT INTO events (ticket_id, actor, kind, detail, created_at)
SELECT t.id, 'mailbox:support', 'ticket.classified',
	jsonb_build_object('priority', t.priority, 'queue', 'default', 'line', 1,
		'reasons', r.reasons::jsonb), t.created_at
  FROM tickets t JOIN (VALUES
   (1, '[{"what": "priority", "source": "keyword", "rule": "outage", "matched": "Не работает", "field": "subject", "value": "critical", "decided": true}, {"what": "queue", "source": "default", "rule": "", "matched": "", "field": "", "value": "default", "decided": true}]'),
   (2, '[{"what": "priority", "source": "keyword", "rule": "outage", "matched": "не работает", "field": "body", "value": "critical", "decided": true}, {"what": "type", "source": "keyword", "rule": "incident", "matched": "Ошибка", "field": "subject", "value": "incident", "decided": true}]'),
   (3, '[{"what": "priority", "source": "keyword", "rule": "outage", "matched": "DOWN", "field": "subject", "value": "critical", "decided": true}, {"what": "priority", "source": "keyword", "rule": "outage", "matched": "не работает", "field": "body", "value": "critical", "decided": false}, {"what": "type", "source": "keyword", "rule": "incident", "matched": "Не работает", "field": "body", "value": "incident", "decided": true}]'),
   (4, '[{"what": "priority", "source": "sender", "rule": "vip", "matched": "c4@example.com", "field": "from", "value": "high", "decided": true}]'),
   (7, '[{"what": "priority", "source": "keyword", "rule": "outage", "matched": "не работает", "field": "subject", "value": "low", "decided": true}]'),
   (9, '[{"what": "priority", "source": "keyword", "rule": "outage", "matched": "down", "field": "subject", "value": "critical", "decided": true}]')
  ) r(id, reasons) ON r.id = t.id;
EOF
		pd_die "seeding failed: $(cat "$T/seed.log")"
}
