// An applied saga transition's outputs: the ledger commands it asks for and one
// payments.status-changed event per state change, stored with the new saga inside the caller's
// transaction. The API (refunds, one at a time) and the saga consumer (a batch of ledger
// outcomes at once) both prepare them here, so a saga is never stored without its outputs, nor
// an output published without its saga. A use case (app/): the API and the consumer both call it.
import { invariant } from '@ledgerline/platform/invariant';
import { appendToOutbox } from '@ledgerline/platform/outbox';
import type { Queryable } from '@ledgerline/platform/db';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import type {
  Cause,
  Saga,
  SagaState,
  StatusChange,
  StepCommand,
  TransitionResult,
} from '../domain/index.js';
import { updateSaga, type PaymentRecord } from '../store/payments.js';

export interface EncodedCommand extends EncodedMessage {
  readonly commandId: string;
}

/** One payments.status-changed output of a transition. */
export interface StatusChangeOutput {
  version: number;
  from: SagaState | null;
  to: SagaState;
  reason: string | null;
  rejectionReason: StatusChange['rejectionReason'];
}

/**
 * How the saga's outputs become outbox messages: the generated producers' encoding, which
 * events/messages.ts implements (a Kafka adapter; app/ only depends on this port).
 */
export interface SagaMessages {
  encodeCommand(
    saga: Saga,
    command: StepCommand,
    cause: Cause,
    details: { description: string | null; metadata: Readonly<Record<string, string>> },
  ): Promise<EncodedCommand>;
  encodeStatusChange(saga: Saga, change: StatusChangeOutput, cause: Cause): Promise<EncodedMessage>;
}

export interface StoredTransition {
  readonly commandIds: readonly string[];
  readonly statusVersion: number;
}

/** What one applied transition puts in the outbox, encoded; nothing is written yet. */
export interface PreparedTransition extends StoredTransition {
  readonly messages: readonly EncodedMessage[];
}

export async function prepareTransition(
  messages: SagaMessages,
  record: PaymentRecord,
  result: TransitionResult,
  cause: Cause,
  // The ledger's words for a rejection, kept on the status-changed event.
  rejectionDetail: string | null,
): Promise<PreparedTransition> {
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
  return { messages: encoded, commandIds, statusVersion };
}

/** One transition, stored with its outputs in the caller's transaction (the API's refunds). */
export async function storeTransition(
  db: Queryable,
  messages: SagaMessages,
  record: PaymentRecord,
  result: TransitionResult,
  cause: Cause,
  rejectionDetail: string | null,
): Promise<StoredTransition> {
  const prepared = await prepareTransition(messages, record, result, cause, rejectionDetail);
  await updateSaga(db, result.saga, record.saga.version, prepared.statusVersion, new Date());
  await appendToOutbox(db, 'processor', prepared.messages);
  return { commandIds: prepared.commandIds, statusVersion: prepared.statusVersion };
}
