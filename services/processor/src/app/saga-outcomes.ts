// The saga advanced by the ledger's outcomes, inside the consumer's batch transaction: one
// locked read of every payment concerned, the transitions in memory in offset order (a payment
// that appears twice sees its first outcome applied), then one statement for the sagas and one
// for their outputs — a handful of statements per batch, not three per outcome.
import type { Queryable } from '@ledgerline/platform/db';
import type { RawMessage } from '@ledgerline/platform/events/typed';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import type { Logger } from '@ledgerline/platform/log';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import { transition, type StepOutcome } from '../domain/index.js';
import { PROCESSOR_SCHEMA } from '../database.js';
import {
  findPayments,
  updateSagas,
  type PaymentRecord,
  type SagaUpdate,
} from '../store/payments.js';
import type { ProcessorMetrics } from './metrics.js';
import { prepareTransition, type SagaMessages } from './saga-transitions.js';

/** A ledger outcome as the saga reads it, with what the outputs need to cite it. */
export interface LedgerOutcome {
  readonly input: StepOutcome;
  readonly eventId: string;
  readonly detail: string | null;
  /** The original bytes: an outcome that breaks a saga invariant is dead-lettered with them. */
  readonly raw: RawMessage;
}

/** Dead-letters one outcome in the batch's transaction (the consumer context's deadLetter). */
export type DeadLetterOutcome = (message: RawMessage, reason: string) => void;

export interface SagaOutcomeDependencies {
  readonly log: Logger;
  readonly metrics: ProcessorMetrics;
  readonly messages: SagaMessages;
}

/** The dead letter's reason for an outcome that breaks a saga invariant. */
export function sagaInvariantReason(kind: string, message: string): string {
  return `saga invariant broken (${kind}): ${message}`;
}

/** Applies a batch of outcomes in offset order and stores the sagas and their outputs. */
export async function applyOutcomes(
  deps: SagaOutcomeDependencies,
  client: Queryable,
  outcomes: readonly LedgerOutcome[],
  deadLetter: DeadLetterOutcome,
): Promise<void> {
  if (outcomes.length === 0) return;
  const paymentIds = [...new Set(outcomes.map((o) => o.input.paymentId))].sort();
  const current = await findPayments(client, paymentIds, { forUpdate: true });
  const readVersion = new Map([...current].map(([id, record]) => [id, record.saga.version]));
  const outputs: EncodedMessage[] = [];
  const now = new Date();
  for (const outcome of outcomes) {
    const record = current.get(outcome.input.paymentId);
    const advanced = await applyOutcome(deps, record, outcome, now, deadLetter);
    if (advanced === undefined) continue;
    outputs.push(...advanced.messages);
    current.set(outcome.input.paymentId, advanced.record);
  }
  await updateSagas(client, changedSagas(current, readVersion));
  await appendToOutbox(client, PROCESSOR_SCHEMA, outputs);
}

/** One outcome against the payment as the batch has it so far; undefined when nothing changes. */
async function applyOutcome(
  deps: SagaOutcomeDependencies,
  record: PaymentRecord | undefined,
  outcome: LedgerOutcome,
  now: Date,
  deadLetter: DeadLetterOutcome,
): Promise<{ record: PaymentRecord; messages: readonly EncodedMessage[] } | undefined> {
  const { input } = outcome;
  const log = deps.log.child({ paymentId: input.paymentId, eventId: outcome.eventId });
  if (record === undefined) {
    deps.metrics.anomaly('PAYMENT_UNKNOWN', 'WARNING');
    log.warn({ step: input.step, sequence: input.sequence }, 'outcome for an unknown payment');
    return undefined;
  }
  const result = transition(record.saga, input);
  if (result.anomaly !== null) {
    deps.metrics.anomaly(result.anomaly.kind, result.anomaly.severity);
    const fields = { anomaly: result.anomaly, state: record.saga.state };
    if (result.anomaly.severity === 'CRITICAL') log.error(fields, result.anomaly.message);
    else log.warn(fields, result.anomaly.message);
    // An outcome refused with a CRITICAL anomaly contradicts what the saga already decided
    // (the ledger said two different things about one step): skipping it silently would
    // leave no trace an operator can replay, so it goes to the dead letter with the reason,
    // in this batch's transaction. COMPENSATION_REJECTED is APPLIED (recorded), not here.
    if (result.disposition === 'IGNORED' && result.anomaly.severity === 'CRITICAL') {
      deadLetter(outcome.raw, sagaInvariantReason(result.anomaly.kind, result.anomaly.message));
    }
  }
  if (result.disposition !== 'APPLIED') {
    log.debug({ disposition: result.disposition }, 'outcome changes nothing');
    return undefined;
  }
  const prepared = await prepareTransition(
    deps.messages,
    record,
    result,
    { causationId: outcome.eventId, correlationId: record.correlationId, occurredAt: now },
    outcome.detail,
  );
  for (const change of result.statusChanges) deps.metrics.sagaTransition(change.to);
  log.info(
    {
      step: input.step,
      sequence: input.sequence,
      outcome: input.kind,
      from: record.saga.state,
      to: result.saga.state,
      commandIds: prepared.commandIds,
    },
    'saga advanced',
  );
  return {
    record: { ...record, saga: result.saga, statusVersion: prepared.statusVersion, updatedAt: now },
    messages: prepared.messages,
  };
}

/** The sagas the batch changed, each with the version it was read at (optimistic check). */
function changedSagas(
  current: ReadonlyMap<string, PaymentRecord>,
  readVersion: ReadonlyMap<string, number>,
): SagaUpdate[] {
  const updates: SagaUpdate[] = [];
  for (const [paymentId, record] of current) {
    const previousVersion = readVersion.get(paymentId);
    if (previousVersion === undefined || record.saga.version === previousVersion) continue;
    updates.push({
      saga: record.saga,
      previousVersion,
      statusVersion: record.statusVersion,
      updatedAt: record.updatedAt,
    });
  }
  return updates;
}
