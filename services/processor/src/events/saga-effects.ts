// Storing one applied saga transition: the new saga, the ledger commands it asks for and one
// payments.status-changed event per state change, all inside the caller's transaction. The
// API (refunds) and the saga consumer (ledger outcomes) both come through here, so a saga is
// never stored without its outputs, nor an output published without its saga.
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { Queryable } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import { invariant, type TransitionResult } from '../domain/index.js';
import { updateSaga, type PaymentRecord } from '../store/payments.js';
import type { Cause, ProcessorMessages } from './messages.js';

export interface StoredTransition {
  readonly commandIds: readonly string[];
  readonly statusVersion: number;
}

export async function storeTransition(
  db: Queryable,
  messages: ProcessorMessages,
  record: PaymentRecord,
  result: TransitionResult,
  cause: Cause,
  // The ledger's words for a rejection, kept on the status-changed event.
  rejectionDetail: string | null,
): Promise<StoredTransition> {
  invariant(result.disposition === 'APPLIED', 'only applied transitions are stored');
  const { saga } = result;
  const encoded: EncodedMessage[] = [];
  const commandIds: string[] = [];
  for (const command of result.commands) {
    const message = await messages.encodeCommand(saga, command, cause, record);
    commandIds.push(message.commandId);
    encoded.push(message);
  }
  let statusVersion = record.statusVersion;
  for (const change of result.statusChanges) {
    statusVersion += 1;
    encoded.push(
      await messages.encodeStatusChange(
        saga,
        {
          version: statusVersion,
          from: change.from,
          to: change.to,
          reason:
            change.rejectionReason === null ? change.reason : (rejectionDetail ?? change.reason),
          rejectionReason: change.rejectionReason,
        },
        cause,
      ),
    );
  }
  await updateSaga(db, saga, record.saga.version, statusVersion, new Date());
  await appendToOutbox(db, 'processor', encoded);
  return { commandIds, statusVersion };
}
