// The facts the checks need from the events, written by the consumer inside the batch's
// transaction (exactly once with the consumer position). Idempotent by primary key anyway.
import type { Queryable } from '@ledgerline/platform/db';
import type {
  PaymentStatusFact,
  PostingCommandFact,
  LedgerOutcomeFact,
  PaymentRequestFact,
} from '../domain/facts.js';
import { isTerminalStatus } from '../domain/saga-checks.js';

export async function insertPostingCommands(
  db: Queryable,
  commands: readonly PostingCommandFact[],
): Promise<void> {
  if (commands.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation.posting_commands
       (command_id, step_key, payment_id, step, sequence, account_id, amount_minor, currency, seen_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::int[], $6::uuid[],
                          $7::bigint[], $8::text[], $9::timestamptz[])
     ON CONFLICT (command_id) DO NOTHING`,
    [
      commands.map((c) => c.commandId),
      commands.map((c) => c.stepKey),
      commands.map((c) => c.paymentId),
      commands.map((c) => c.step),
      commands.map((c) => c.sequence),
      commands.map((c) => c.accountId),
      commands.map((c) => c.amountMinor),
      commands.map((c) => c.currency),
      commands.map((c) => c.seenAt),
    ],
  );
}

export async function insertPaymentRequests(
  db: Queryable,
  requests: readonly PaymentRequestFact[],
): Promise<void> {
  if (requests.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation.payment_requests
       (payment_id, payer_account_id, payee_account_id, amount_minor, currency, requested_at)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::timestamptz[])
     ON CONFLICT (payment_id) DO NOTHING`,
    [
      requests.map((r) => r.paymentId),
      requests.map((r) => r.payerAccountId),
      requests.map((r) => r.payeeAccountId),
      requests.map((r) => r.amountMinor),
      requests.map((r) => r.currency),
      requests.map((r) => r.requestedAt),
    ],
  );
}

export async function insertLedgerOutcomes(
  db: Queryable,
  outcomes: readonly LedgerOutcomeFact[],
): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query(
    `INSERT INTO reconciliation.ledger_outcomes
       (event_id, outcome, step_key, causation_id, payment_id, step, sequence, transaction_id,
        account_id, amount_minor, currency, entries, reason, posted_at)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::uuid[], $6::text[],
                          $7::int[], $8::uuid[], $9::text[], $10::bigint[], $11::text[],
                          $12::jsonb[], $13::text[], $14::timestamptz[])
     ON CONFLICT (event_id) DO NOTHING`,
    [
      outcomes.map((o) => o.eventId),
      outcomes.map((o) => o.outcome),
      outcomes.map((o) => o.stepKey),
      outcomes.map((o) => o.causationId),
      outcomes.map((o) => o.paymentId),
      outcomes.map((o) => o.step),
      outcomes.map((o) => o.sequence),
      outcomes.map((o) => o.transactionId),
      outcomes.map((o) => o.accountId),
      outcomes.map((o) => o.amountMinor),
      outcomes.map((o) => o.currency),
      outcomes.map((o) => (o.entries === null ? null : JSON.stringify(o.entries))),
      outcomes.map((o) => o.reason),
      outcomes.map((o) => o.postedAt),
    ],
  );
}

/** Latest version wins; every terminal state ever reported is remembered. */
export async function upsertPaymentStatus(db: Queryable, s: PaymentStatusFact): Promise<void> {
  const terminal = isTerminalStatus(s.status) ? [s.status] : [];
  await db.query(
    `INSERT INTO reconciliation.payment_statuses
       (payment_id, version, status, amount_minor, currency, refunded_minor, terminal_statuses, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8)
     ON CONFLICT (payment_id) DO UPDATE SET
       version = GREATEST(payment_statuses.version, EXCLUDED.version),
       status = CASE WHEN EXCLUDED.version > payment_statuses.version
                     THEN EXCLUDED.status ELSE payment_statuses.status END,
       refunded_minor = CASE WHEN EXCLUDED.version > payment_statuses.version
                     THEN EXCLUDED.refunded_minor ELSE payment_statuses.refunded_minor END,
       changed_at = CASE WHEN EXCLUDED.version > payment_statuses.version
                     THEN EXCLUDED.changed_at ELSE payment_statuses.changed_at END,
       terminal_statuses = ARRAY(SELECT DISTINCT unnest(payment_statuses.terminal_statuses
                                                        || EXCLUDED.terminal_statuses) ORDER BY 1)`,
    [
      s.paymentId,
      s.version,
      s.status,
      s.amountMinor,
      s.currency,
      s.refundedMinor,
      terminal,
      s.changedAt,
    ],
  );
}
