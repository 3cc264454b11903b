-- 0004_desk.sql - what a support desk needs beyond the clocks: the request
-- type beside the priority, and the customer's plan (which SLA targets and
-- calendar apply).

-- question, incident (something broken), complaint, suggestion,
-- refund (refund or exchange), access (access or account)
ALTER TABLE tickets ADD COLUMN type text NOT NULL DEFAULT 'question'
	CHECK (type IN ('question', 'incident', 'complaint', 'suggestion', 'refund', 'access'));
-- the plan section that matched the requester; NULL = the default targets
ALTER TABLE tickets ADD COLUMN plan text;
CREATE INDEX tickets_type_created_idx ON tickets (type, created_at);
