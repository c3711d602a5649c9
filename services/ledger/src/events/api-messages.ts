// What the API's use cases put in the outbox, encoded with the generated producers: the
// LedgerCommand on ledger.commands (keyed by its account, so it is decided in that account's
// partition order) and the dual-control events on ledger.adjustment-requests.
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import {
  ledgerAdjustmentRequestsProducer,
  ledgerCommandsProducer,
} from '@ledgerline/generated/topics';
import type {
  AdjustmentRequestChangedInput,
  LedgerCommandInput,
} from '@ledgerline/generated/avro/types';
import type { LedgerApiMessages } from '../app/intake.js';

export function ledgerApiMessages(serde: EventSerde, topicPrefix: string): LedgerApiMessages {
  const commands = ledgerCommandsProducer(serde, { topicPrefix });
  const adjustmentEvents = ledgerAdjustmentRequestsProducer(serde, { topicPrefix });
  return {
    encodeCommand: (command: LedgerCommandInput): Promise<EncodedMessage> =>
      commands.encode(command.accountId, command),
    encodeAdjustmentChange: (value: AdjustmentRequestChangedInput): Promise<EncodedMessage> =>
      adjustmentEvents.encode(value.accountId, value),
  };
}
