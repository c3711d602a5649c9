// Accepting new payments, several requests per statement: each request's Idempotency-Key is
// claimed, and only for the keys claimed are the payment and its outbox rows inserted. One
// statement per batch instead of three per request: on this kind of machine a round trip to
// PostgreSQL costs more CPU than the rows it carries.
//
// A slonik `sql` token like every store statement, but its columns are bound as the platform's
// array literals (platform/src/sql-array.ts) rather than with sql.unnest: sql.unnest hands
// JavaScript arrays to node-postgres, which serialises them element by element, and this
// statement carries a whole intake batch (README "Database access (slonik)").
import { z } from 'zod';
import { invariant } from '@ledgerline/platform/invariant';
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { outboxColumns } from '@ledgerline/platform/outbox';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import type { IdempotencyRecord } from './idempotency.js';
import type { PaymentRecord } from './payments.js';

/** The idempotency scope of POST /v1/payments. */
export const createPaymentScope = 'createPayment';

/** What one POST /v1/payments writes when its key is new. */
export interface PaymentIntake {
  readonly key: string;
  /**
   * The caller's API key (null for an access token): the statement writes nothing for it unless
   * the key is still live when it runs, since the edge may have taken the caller from a lookup
   * of the last minute (platform/src/auth/authenticator.ts).
   */
  readonly callerKeyId: string | null;
  readonly idempotency: IdempotencyRecord;
  readonly record: PaymentRecord;
  /** In the order they must be published. */
  readonly outbox: readonly EncodedMessage[];
}

/** Which Idempotency-Keys of a batch were claimed, and which callers' API keys were not live. */
export interface AcceptedPayments {
  readonly claimed: ReadonlySet<string>;
  /** Idempotency-Keys of intakes whose caller's API key was revoked or expired: nothing written. */
  readonly keyNotLive: ReadonlySet<string>;
}

/**
 * Writes the intakes whose keys are new, in the caller's transaction; answers the keys it
 * claimed. A key stored before (or held by a concurrent transaction that then commits) is not
 * claimed and nothing of its intake is written; nor is anything of an intake whose caller's API
 * key is no longer live, and its key is not claimed. Keys are claimed in sorted order, so two
 * batches that share keys wait for each other instead of deadlocking. Keys must be distinct.
 */
export async function acceptPayments(
  db: PgQueryable,
  intakes: readonly PaymentIntake[],
): Promise<AcceptedPayments> {
  const keys = intakes.map((i) => i.key);
  invariant(new Set(keys).size === keys.length, 'one intake per key in a batch');
  for (const { record } of intakes) {
    invariant(
      record.saga.version === 0 && record.saga.state === 'PENDING',
      'a new payment starts its saga',
    );
  }
  const owners = intakes.flatMap((i) => i.outbox.map(() => i.key));
  const [outboxTopic, outboxKey, outboxValue, outboxHeaders] = outboxColumns(
    intakes.flatMap((i) => i.outbox),
  );
  const { rows } = await queryIn(
    db,
    sql.type(z.object({ key: z.string(), claimed: z.boolean() }))`WITH callers AS (
       SELECT c.key, c.caller_key_id IS NULL OR auth.key_is_live(c.caller_key_id) AS live
         FROM unnest(${arrayLiteral(keys)}::text[],
                     ${arrayLiteral(intakes.map((i) => i.callerKeyId))}::text[])
           AS c(key, caller_key_id)
     ), claimed AS (
       INSERT INTO processor.idempotency_keys
         (scope, key, request_hash, response_status, response_body, response_location)
       SELECT ${createPaymentScope}, r.key, r.request_hash, r.response_status, r.response_body,
              r.response_location
         FROM unnest(${arrayLiteral(keys)}::text[],
                     ${arrayLiteral(intakes.map((i) => i.idempotency.requestHash))}::text[],
                     ${arrayLiteral(intakes.map((i) => i.idempotency.response.status))}::int[],
                     ${arrayLiteral(intakes.map((i) => JSON.stringify(i.idempotency.response.body)))}::json[],
                     ${arrayLiteral(intakes.map((i) => i.idempotency.response.location))}::text[])
           AS r(key, request_hash, response_status, response_body, response_location)
        WHERE r.key IN (SELECT key FROM callers WHERE live)
        ORDER BY r.key
       ON CONFLICT (scope, key) DO NOTHING
       RETURNING key
     ), payments AS (
       INSERT INTO processor.payments (id, payer_account_id, payee_account_id, amount_minor,
         currency, description, metadata, state, saga, version, status_version, correlation_id,
         created_at, updated_at)
       SELECT p.id, p.payer, p.payee, p.amount_minor, p.currency, p.description, p.metadata,
              p.state, p.saga, p.version, p.status_version, p.correlation_id, p.created_at,
              p.updated_at
         FROM unnest(${arrayLiteral(keys)}::text[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.paymentId))}::uuid[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.payerAccountId))}::uuid[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.payeeAccountId))}::uuid[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.amountMinor))}::bigint[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.currency))}::text[],
                     ${arrayLiteral(intakes.map((i) => i.record.description))}::text[],
                     ${arrayLiteral(intakes.map((i) => JSON.stringify(i.record.metadata)))}::jsonb[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.state))}::text[],
                     ${arrayLiteral(intakes.map((i) => JSON.stringify(i.record.saga)))}::jsonb[],
                     ${arrayLiteral(intakes.map((i) => i.record.saga.version))}::int[],
                     ${arrayLiteral(intakes.map((i) => i.record.statusVersion))}::int[],
                     ${arrayLiteral(intakes.map((i) => i.record.correlationId))}::uuid[],
                     ${arrayLiteral(intakes.map((i) => i.record.createdAt))}::timestamptz[],
                     ${arrayLiteral(intakes.map((i) => i.record.updatedAt))}::timestamptz[])
           AS p(key, id, payer, payee, amount_minor, currency, description, metadata, state, saga,
                version, status_version, correlation_id, created_at, updated_at)
        WHERE p.key IN (SELECT key FROM claimed)
     ), outbox AS (
       -- In array order: the outbox id is the publishing order.
       INSERT INTO processor.outbox (topic, key, value, headers)
       SELECT o.topic, o.message_key, o.value, o.headers
         FROM unnest(${arrayLiteral(owners)}::text[], ${outboxTopic}::text[], ${outboxKey}::bytea[],
                     ${outboxValue}::bytea[], ${outboxHeaders}::jsonb[])
              WITH ORDINALITY AS o(owner, topic, message_key, value, headers, n)
        WHERE o.owner IN (SELECT key FROM claimed)
        ORDER BY o.n
     )
     SELECT key, true AS claimed FROM claimed
     UNION ALL
     SELECT key, false FROM callers WHERE NOT live`,
  );
  return {
    claimed: new Set(rows.filter((r) => r.claimed).map((r) => r.key)),
    keyNotLive: new Set(rows.filter((r) => !r.claimed).map((r) => r.key)),
  };
}
