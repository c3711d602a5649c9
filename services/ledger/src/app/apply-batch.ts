// Applying a partition batch of ledger commands, in the consumer's PostgreSQL transaction:
// load the view the batch needs, fold the commands (domain/batch-effects.ts, no I/O), persist
// the effects, put the outcome events in the outbox, then move the system accounts' balances.
import type { PoolClient } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import { LEDGER_SCHEMA } from '../database.js';
import { applyCommands, type BatchCommand, type BatchEffects } from '../domain/batch-effects.js';
import type { OutcomeEvent } from '../domain/outcome-events.js';
import { loadBatch, persistBatch, persistSystemBalanceMoves } from '../store/batch-store.js';

/** An outcome event as an outbox message (the generated producers: events/command-consumer.ts). */
export type OutcomeEncoder = (event: OutcomeEvent) => Promise<EncodedMessage>;

export async function applyCommandBatch(
  client: PoolClient,
  batch: readonly BatchCommand[],
  encodeOutcome: OutcomeEncoder,
): Promise<BatchEffects> {
  const { view, stored } = await loadBatch(
    client,
    batch.map((c) => c.command),
  );
  const effects = applyCommands(view, stored, batch);
  await persistBatch(client, effects, view);
  const encoded = await Promise.all(effects.events.map(encodeOutcome));
  await appendToOutbox(client, LEDGER_SCHEMA, encoded);
  await persistSystemBalanceMoves(client, effects, view);
  return effects;
}
