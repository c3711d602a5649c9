// Facts from the ledger's and the processor's events, stored in the consumer's transaction: the
// independent record the checks compare the ledger with.
import type { Queryable } from '@ledgerline/platform/db';
import type {
  LedgerOutcomeFact,
  PaymentRequestFact,
  PaymentStatusFact,
  PostingCommandFact,
} from '../domain/facts.js';
import {
  insertLedgerOutcomes,
  insertPaymentRequests,
  insertPostingCommands,
  upsertPaymentStatus,
} from '../store/facts-store.js';

export interface BatchFacts {
  readonly commands: readonly PostingCommandFact[];
  readonly requests: readonly PaymentRequestFact[];
  readonly outcomes: readonly LedgerOutcomeFact[];
}

export async function recordFacts(client: Queryable, facts: BatchFacts): Promise<void> {
  await insertPostingCommands(client, facts.commands);
  await insertPaymentRequests(client, facts.requests);
  await insertLedgerOutcomes(client, facts.outcomes);
}

/** A payment's latest status, in offset order with the batch's other facts. */
export function recordPaymentStatus(client: Queryable, status: PaymentStatusFact): Promise<void> {
  return upsertPaymentStatus(client, status);
}
