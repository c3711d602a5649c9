-- The audit trail: every Kafka record of every topic, append-only and hash-chained, plus
-- periodic checkpoints of the chain head. Runs as the schema owner, after the platform
-- migration (the audit_app writer role, outbox, consumer positions).

-- The HTTP API's role: it can read the trail and nothing else.
-- Roles are cluster-wide: parallel migrations of two databases may race to create it.
-- The password is set only at creation (see the platform migration for why).
DO $$
BEGIN
  CREATE ROLE audit_reader LOGIN PASSWORD ${PASSWORD:audit_reader};
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

CREATE TABLE audit.trail (
  -- Position in the chain: 1, 2, 3... without gaps, assigned by the single chain writer.
  sequence bigint PRIMARY KEY CHECK (sequence >= 1),
  record_id uuid NOT NULL UNIQUE,
  topic text NOT NULL,
  partition int NOT NULL CHECK (partition >= 0),
  "offset" bigint NOT NULL CHECK ("offset" >= 0),
  event_type text NOT NULL,
  event_id uuid NOT NULL,
  correlation_id uuid NOT NULL,
  payment_id uuid,
  account_id uuid,
  transaction_id uuid,
  producer text NOT NULL,
  payload jsonb NOT NULL,
  recorded_at timestamptz NOT NULL,
  previous_hash char(64) NOT NULL CHECK (previous_hash ~ '^[0-9a-f]{64}$'),
  hash char(64) NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  -- Idempotent by Kafka coordinates: a re-delivered record is never recorded twice.
  UNIQUE (topic, partition, "offset")
);
CREATE INDEX trail_payment ON audit.trail (payment_id, sequence) WHERE payment_id IS NOT NULL;
CREATE INDEX trail_account ON audit.trail (account_id, sequence) WHERE account_id IS NOT NULL;
CREATE INDEX trail_transaction ON audit.trail (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX trail_recorded_at ON audit.trail (recorded_at, sequence);

-- Every N records the head of the chain, so a rewrite of a whole suffix is still caught.
CREATE TABLE audit.chain_checkpoints (
  sequence bigint PRIMARY KEY REFERENCES audit.trail (sequence),
  hash char(64) NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  at timestamptz NOT NULL
);

-- Append-only, enforced by PostgreSQL itself, for every role including the owner.
CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER trail_append_only BEFORE UPDATE OR DELETE ON audit.trail
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER trail_no_truncate BEFORE TRUNCATE ON audit.trail
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON audit.chain_checkpoints
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON audit.chain_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- Every new record links to the record before it (or to the genesis hash): a gap or a
-- dangling previous_hash is refused at write time, not only found later by verification.
-- Statement-level, so a batch pays once: links inside the batch are checked with lag(), and
-- only the batch's first record is looked up in the trail (by primary key).
CREATE FUNCTION audit.assert_new_records_linked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  offending bigint;
BEGIN
  WITH ordered AS (
    SELECT sequence, previous_hash,
           lag(sequence) OVER w AS prior_sequence, lag(hash) OVER w AS prior_hash
    FROM new_records WINDOW w AS (ORDER BY sequence)
  )
  SELECT o.sequence INTO offending
  FROM ordered o
  WHERE (o.prior_sequence IS NOT NULL
         AND (o.sequence <> o.prior_sequence + 1 OR o.previous_hash <> o.prior_hash))
     OR (o.prior_sequence IS NULL AND o.sequence = 1 AND o.previous_hash <> repeat('0', 64))
     OR (o.prior_sequence IS NULL AND o.sequence > 1 AND NOT EXISTS (
           SELECT 1 FROM audit.trail p
           WHERE p.sequence = o.sequence - 1 AND p.hash = o.previous_hash))
  ORDER BY o.sequence
  LIMIT 1;
  IF offending IS NOT NULL THEN
    RAISE EXCEPTION 'audit record % does not link to the record before it', offending
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER trail_linked AFTER INSERT ON audit.trail
  REFERENCING NEW TABLE AS new_records
  FOR EACH STATEMENT EXECUTE FUNCTION audit.assert_new_records_linked();

-- Least privilege: the consumer appends, the API reads, nobody rewrites.
GRANT USAGE ON SCHEMA audit TO audit_app, audit_reader;
GRANT SELECT, INSERT ON audit.trail, audit.chain_checkpoints TO audit_app;
GRANT SELECT ON audit.trail, audit.chain_checkpoints TO audit_reader;
