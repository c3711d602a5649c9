-- The audit trail's defences beyond the hash chain: one record per event, and a record of
-- every Kafka offset range the consumer could not account for.

-- Idempotent by event id as well as by Kafka coordinates: a producer that publishes the same
-- event again (a re-emitted outcome, a re-sent dead letter) gets new coordinates but the same
-- eventId, and is still one event. Per topic: the topic fixes what kind of event the id names.
CREATE UNIQUE INDEX trail_event ON audit.trail (topic, event_id);

-- Offsets of an audited partition that were neither delivered nor explained by Kafka itself
-- (transaction markers, aborted transactions, compaction): records the trail never saw.
-- Written in the consumer's transaction, append-only like the trail, reported by /v1/verify.
CREATE TABLE audit.skipped_offsets (
  topic text NOT NULL,
  partition int NOT NULL CHECK (partition >= 0),
  from_offset bigint NOT NULL CHECK (from_offset >= 0),
  to_offset bigint NOT NULL CHECK (to_offset >= from_offset),
  detected_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, from_offset)
);

CREATE TRIGGER skipped_offsets_append_only BEFORE UPDATE OR DELETE ON audit.skipped_offsets
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER skipped_offsets_no_truncate BEFORE TRUNCATE ON audit.skipped_offsets
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

GRANT SELECT, INSERT ON audit.skipped_offsets TO audit_app;
GRANT SELECT ON audit.skipped_offsets TO audit_reader;
