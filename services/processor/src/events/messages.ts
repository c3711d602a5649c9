// What the processor publishes, built from the saga's outputs and encoded with the generated
// producers for the outbox: LedgerCommand on ledger.commands (keyed by the one customer
// account the step touches) and PaymentStatusChanged on payments.status-changed (keyed by
// the payment). Encoding only: the outbox relay does the sending.
import { invariant } from '@ledgerline/platform/invariant';
import { randomUUID } from 'node:crypto';
import type { EventSerde } from '@ledgerline/platform/events/serde';
import type { EncodedMessage } from '@ledgerline/platform/events/typed';
import type { TopicProducer } from '@ledgerline/platform/events/typed';
import {
  ledgerCommandsProducer,
  paymentsStatusChangedProducer,
  type LedgerCommandsTopic,
  type PaymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import type {
  LedgerCommandInput,
  PaymentStatusChangedInput,
} from '@ledgerline/generated/avro/types';
import type { EncodedCommand, SagaMessages, StatusChangeOutput } from '../app/saga-transitions.js';
import { findStep, type Cause, type Saga, type StepCommand } from '../domain/index.js';

export class ProcessorMessages implements SagaMessages {
  private readonly commands: TopicProducer<LedgerCommandsTopic>;
  private readonly statusChanges: TopicProducer<PaymentsStatusChangedTopic>;

  constructor(serde: EventSerde, topicPrefix: string) {
    this.commands = ledgerCommandsProducer(serde, { topicPrefix });
    this.statusChanges = paymentsStatusChangedProducer(serde, { topicPrefix });
  }

  get commandsTopic(): string {
    return this.commands.topic.name;
  }

  get statusChangedTopic(): string {
    return this.statusChanges.topic.name;
  }

  async encodeCommand(
    saga: Saga,
    command: StepCommand,
    cause: Cause,
    details: { description: string | null; metadata: Readonly<Record<string, string>> },
  ): Promise<EncodedCommand> {
    const value = ledgerCommand(saga, command, cause, details);
    const encoded = await this.commands.encode(command.accountId, value);
    return { ...encoded, commandId: value.commandId };
  }

  async encodeStatusChange(
    saga: Saga,
    change: StatusChangeOutput,
    cause: Cause,
  ): Promise<EncodedMessage> {
    invariant(Number.isSafeInteger(change.version) && change.version >= 1, 'versions count from 1');
    invariant((change.version === 1) === (change.from === null), 'only the first has no from');
    const value: PaymentStatusChangedInput = {
      eventId: randomUUID(),
      correlationId: cause.correlationId,
      causationId: cause.causationId,
      occurredAt: cause.occurredAt,
      paymentId: saga.paymentId,
      version: change.version,
      from: change.from,
      to: change.to,
      reason: change.reason,
      rejectionReason: change.rejectionReason,
      payerAccountId: saga.payerAccountId,
      payeeAccountId: saga.payeeAccountId,
      amountMinor: saga.amountMinor,
      currency: saga.currency,
      refundedMinor: saga.refundedMinor,
    };
    return this.statusChanges.encode(saga.paymentId, value);
  }
}

/** The envelope and the command record for one saga step. */
export function ledgerCommand(
  saga: Saga,
  command: StepCommand,
  cause: Cause,
  details: { description: string | null; metadata: Readonly<Record<string, string>> },
): LedgerCommandInput {
  const envelope = {
    commandId: randomUUID(),
    correlationId: cause.correlationId,
    causationId: cause.causationId,
    occurredAt: cause.occurredAt,
    accountId: command.accountId,
  };
  const money = { amountMinor: command.amountMinor, currency: command.currency };
  switch (command.step) {
    case 'DEBIT':
      invariant(command.accountId === command.payerAccountId, 'DEBIT touches the payer');
      return {
        ...envelope,
        command: {
          'ledgerline.payments.v1.PaymentRequested': {
            paymentId: command.paymentId,
            payerAccountId: command.payerAccountId,
            payeeAccountId: command.payeeAccountId,
            ...money,
            description: details.description,
            metadata: { ...details.metadata },
          },
        },
      };
    case 'CREDIT':
      invariant(command.accountId === command.payeeAccountId, 'CREDIT touches the payee');
      return {
        ...envelope,
        command: {
          'ledgerline.payments.v1.CreditStepRequested': {
            paymentId: command.paymentId,
            payeeAccountId: command.payeeAccountId,
            ...money,
            debitTransactionId: postedTransactionId(saga, 'DEBIT', 0),
          },
        },
      };
    case 'COMPENSATION':
      invariant(command.accountId === command.payerAccountId, 'COMPENSATION touches the payer');
      invariant(command.compensatesTransactionId !== null, 'a compensation names its debit');
      return {
        ...envelope,
        command: {
          'ledgerline.payments.v1.CompensationRequested': {
            paymentId: command.paymentId,
            payerAccountId: command.payerAccountId,
            ...money,
            debitTransactionId: command.compensatesTransactionId,
          },
        },
      };
    case 'REFUND_DEBIT':
    case 'REFUND_CREDIT':
    case 'REFUND_COMPENSATION': {
      invariant(command.refundId !== null, 'a refund step names its refund');
      // REFUND_DEBIT follows the payment's CREDIT; the later refund steps follow REFUND_DEBIT.
      const referencesTransactionId =
        command.step === 'REFUND_DEBIT'
          ? postedTransactionId(saga, 'CREDIT', 0)
          : postedTransactionId(saga, 'REFUND_DEBIT', command.sequence);
      return {
        ...envelope,
        command: {
          'ledgerline.payments.v1.RefundRequested': {
            paymentId: command.paymentId,
            refundId: command.refundId,
            sequence: command.sequence,
            step: command.step,
            payerAccountId: command.payerAccountId,
            payeeAccountId: command.payeeAccountId,
            ...money,
            referencesTransactionId,
          },
        },
      };
    }
  }
}

function postedTransactionId(saga: Saga, step: StepCommand['step'], sequence: number): string {
  const transactionId = findStep(saga, step, sequence)?.transactionId ?? null;
  invariant(transactionId !== null, `${step}:${sequence} is posted before its successor`);
  return transactionId;
}
