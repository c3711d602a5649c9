// The facts the checks need from the events, written by the consumer inside the batch's
// transaction (exactly once with the consumer position). Idempotent by primary key anyway.
// Slonik tokens through queryIn; batch columns bound as the platform's array literals.
import { queryIn, sql, type PgQueryable } from '@ledgerline/platform/database/slonik';
import { arrayLiteral } from '@ledgerline/platform/sql-array';
import type {
  PaymentStatusFact,
  PostingCommandFact,
  LedgerOutcomeFact,
  PaymentRequestFact,
} from '../domain/facts.js';
import { isTerminalStatus } from '../domain/saga-checks.js';

export async function insertPostingCommands(
  db: PgQueryable,
  commands: readonly PostingCommandFact[],
): Promise<void> {
  if (commands.length === 0) return;
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.posting_commands
       (command_id, step_key, payment_id, step, sequence, account_id, amount_minor, currency, seen_at)
     SELECT * FROM unnest(
       ${arrayLiteral(commands.map((c) => c.commandId))}::uuid[],
       ${arrayLiteral(commands.map((c) => c.stepKey))}::text[],
       ${arrayLiteral(commands.map((c) => c.paymentId))}::uuid[],
       ${arrayLiteral(commands.map((c) => c.step))}::text[],
       ${arrayLiteral(commands.map((c) => c.sequence))}::int[],
       ${arrayLiteral(commands.map((c) => c.accountId))}::uuid[],
       ${arrayLiteral(commands.map((c) => c.amountMinor))}::bigint[],
       ${arrayLiteral(commands.map((c) => c.currency))}::text[],
       ${arrayLiteral(commands.map((c) => c.seenAt))}::timestamptz[])
     ON CONFLICT (command_id) DO NOTHING`,
  );
}

export async function insertPaymentRequests(
  db: PgQueryable,
  requests: readonly PaymentRequestFact[],
): Promise<void> {
  if (requests.length === 0) return;
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.payment_requests
       (payment_id, payer_account_id, payee_account_id, amount_minor, currency, requested_at)
     SELECT * FROM unnest(
       ${arrayLiteral(requests.map((r) => r.paymentId))}::uuid[],
       ${arrayLiteral(requests.map((r) => r.payerAccountId))}::uuid[],
       ${arrayLiteral(requests.map((r) => r.payeeAccountId))}::uuid[],
       ${arrayLiteral(requests.map((r) => r.amountMinor))}::bigint[],
       ${arrayLiteral(requests.map((r) => r.currency))}::text[],
       ${arrayLiteral(requests.map((r) => r.requestedAt))}::timestamptz[])
     ON CONFLICT (payment_id) DO NOTHING`,
  );
}

export async function insertLedgerOutcomes(
  db: PgQueryable,
  outcomes: readonly LedgerOutcomeFact[],
): Promise<void> {
  if (outcomes.length === 0) return;
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.ledger_outcomes
       (event_id, outcome, step_key, causation_id, payment_id, step, sequence, transaction_id,
        account_id, amount_minor, currency, entries, reason, posted_at)
     SELECT * FROM unnest(
       ${arrayLiteral(outcomes.map((o) => o.eventId))}::uuid[],
       ${arrayLiteral(outcomes.map((o) => o.outcome))}::text[],
       ${arrayLiteral(outcomes.map((o) => o.stepKey))}::text[],
       ${arrayLiteral(outcomes.map((o) => o.causationId))}::uuid[],
       ${arrayLiteral(outcomes.map((o) => o.paymentId))}::uuid[],
       ${arrayLiteral(outcomes.map((o) => o.step))}::text[],
       ${arrayLiteral(outcomes.map((o) => o.sequence))}::int[],
       ${arrayLiteral(outcomes.map((o) => o.transactionId))}::uuid[],
       ${arrayLiteral(outcomes.map((o) => o.accountId))}::text[],
       ${arrayLiteral(outcomes.map((o) => o.amountMinor))}::bigint[],
       ${arrayLiteral(outcomes.map((o) => o.currency))}::text[],
       ${arrayLiteral(outcomes.map((o) => (o.entries === null ? null : JSON.stringify(o.entries))))}::jsonb[],
       ${arrayLiteral(outcomes.map((o) => o.reason))}::text[],
       ${arrayLiteral(outcomes.map((o) => o.postedAt))}::timestamptz[])
     ON CONFLICT (event_id) DO NOTHING`,
  );
}

/** Latest version wins; every terminal state ever reported is remembered. */
export async function upsertPaymentStatus(db: PgQueryable, s: PaymentStatusFact): Promise<void> {
  const terminal = isTerminalStatus(s.status) ? [s.status] : [];
  await queryIn(
    db,
    sql.unsafe`INSERT INTO reconciliation.payment_statuses
       (payment_id, version, status, amount_minor, currency, refunded_minor, terminal_statuses, changed_at)
     VALUES (${s.paymentId}, ${s.version}, ${s.status}, ${s.amountMinor}, ${s.currency},
             ${s.refundedMinor}, ${sql.array(terminal, 'text')}, ${sql.timestamp(s.changedAt)})
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
  );
}
