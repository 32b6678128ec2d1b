-- The queue, the SLA job and the metrics ask for tickets by status (open ones: new,
-- acknowledged, in progress, waiting); without an index each asks by reading every ticket.
CREATE INDEX tickets_by_status ON tickets (status);

-- A ticket's messages go out in order within their lane: 'mail' (e-mail, and every message
-- written before lanes) and 'hook' (the customer's own webhook). A webhook that keeps failing
-- never holds back the customer's next mail, and a mail server that is down never holds back
-- the webhook.
ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT 'mail' CHECK (lane IN ('mail', 'hook'));
