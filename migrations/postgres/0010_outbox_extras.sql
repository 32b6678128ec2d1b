-- forewarn store: what a mail carries beyond subject and text (the customer's language, the
-- survey's buttons and unsubscribe link, whether a person wrote it), as JSON. Rows queued
-- before read as '{}': a text-only, automatic mail, as they were sent until now.
ALTER TABLE outbox ADD COLUMN extras JSONB NOT NULL DEFAULT '{}'::jsonb;
