-- Outbox records Kafka refused for good (larger than the topic's max.message.bytes, or
-- failing the broker's record validation). The relay moves such a record here with the
-- broker's error, in one transaction with its removal from the outbox, and keeps publishing
-- the rest: one record the broker will never accept must not hold back every payment after it.
-- An operator fixes the cause (raises the topic's limit) and moves the row back to the outbox.
CREATE TABLE reconciliation.outbox_parked (
  id bigint PRIMARY KEY, -- the outbox id it had: the order it was written in
  topic text NOT NULL,
  key bytea NOT NULL,
  value bytea NOT NULL,
  headers jsonb,
  created_at timestamptz NOT NULL,
  parked_at timestamptz NOT NULL DEFAULT now(),
  error text NOT NULL CHECK (char_length(error) <= 2000)
);
GRANT SELECT, INSERT ON reconciliation.outbox_parked TO reconciliation_app;
