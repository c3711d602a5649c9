// Avro LedgerCommand (ledger.commands) -> domain command. The envelope's accountId, the Kafka key
// and the inner command's customer account must be one and the same account: the partition is
// chosen by the key, and a command that would be decided in another account's partition breaks
// deterministic replay. Such a message is not a command the ledger can answer; it is dead-lettered,
// and so is a payment or refund whose payer is its payee.
import type {
  AccountStatus,
  LedgerCommand as AvroLedgerCommand,
} from '@ledgerline/generated/avro/types';
import {
  commandAccountId,
  type AccountStatusAction,
  type CommandMeta,
  type LedgerCommand,
  type MappedCommand,
} from '../domain/commands.js';

export type { CommandMeta, MappedCommand };

export type CommandMapping =
  | { readonly ok: true; readonly mapped: MappedCommand }
  | { readonly ok: false; readonly reason: string };

const ACTION_FOR_STATUS: Readonly<Record<AccountStatus, AccountStatusAction>> = {
  FROZEN: 'FREEZE',
  OPEN: 'UNFREEZE',
  CLOSED: 'CLOSE',
};

function toDomain(envelope: AvroLedgerCommand): LedgerCommand {
  const inner = envelope.command;
  if ('ledgerline.payments.v1.PaymentRequested' in inner) {
    const c = inner['ledgerline.payments.v1.PaymentRequested'];
    return {
      kind: 'DEBIT',
      paymentId: c.paymentId,
      payerAccountId: c.payerAccountId,
      amountMinor: c.amountMinor,
      currency: c.currency,
    };
  }
  if ('ledgerline.payments.v1.CreditStepRequested' in inner) {
    const c = inner['ledgerline.payments.v1.CreditStepRequested'];
    return {
      kind: 'CREDIT',
      paymentId: c.paymentId,
      payeeAccountId: c.payeeAccountId,
      amountMinor: c.amountMinor,
      currency: c.currency,
      debitTransactionId: c.debitTransactionId,
    };
  }
  if ('ledgerline.payments.v1.CompensationRequested' in inner) {
    const c = inner['ledgerline.payments.v1.CompensationRequested'];
    return {
      kind: 'COMPENSATION',
      paymentId: c.paymentId,
      payerAccountId: c.payerAccountId,
      amountMinor: c.amountMinor,
      currency: c.currency,
      debitTransactionId: c.debitTransactionId,
    };
  }
  if ('ledgerline.payments.v1.RefundRequested' in inner) {
    const c = inner['ledgerline.payments.v1.RefundRequested'];
    const common = {
      paymentId: c.paymentId,
      sequence: c.sequence,
      amountMinor: c.amountMinor,
      currency: c.currency,
    };
    switch (c.step) {
      case 'REFUND_DEBIT':
        return { kind: 'REFUND_DEBIT', ...common, payeeAccountId: c.payeeAccountId };
      case 'REFUND_CREDIT':
        return { kind: 'REFUND_CREDIT', ...common, payerAccountId: c.payerAccountId };
      case 'REFUND_COMPENSATION':
        return { kind: 'REFUND_COMPENSATION', ...common, payeeAccountId: c.payeeAccountId };
    }
  }
  if ('ledgerline.ledger.v1.OpenAccountRequested' in inner) {
    const c = inner['ledgerline.ledger.v1.OpenAccountRequested'];
    return {
      kind: 'OPEN_ACCOUNT',
      accountId: c.accountId,
      type: c.type,
      currency: c.currency,
      // Customer accounts default to no overdraft; system accounts are provisioned by the ledger.
      balanceFloorMinor: c.balanceFloorMinor ?? 0,
    };
  }
  if ('ledgerline.ledger.v1.AccountStatusChangeRequested' in inner) {
    const c = inner['ledgerline.ledger.v1.AccountStatusChangeRequested'];
    return {
      kind: 'CHANGE_ACCOUNT_STATUS',
      accountId: c.accountId,
      action: ACTION_FOR_STATUS[c.to],
    };
  }
  const c = inner['ledgerline.ledger.v1.AdjustmentRequested'];
  return {
    kind: 'ADJUSTMENT',
    accountId: c.accountId,
    direction: c.direction,
    amountMinor: c.amountMinor,
    currency: c.currency,
    idempotencyKey: c.adjustmentId,
    reference: c.reference,
    referencesTransactionId: null,
  };
}

function metaOf(envelope: AvroLedgerCommand, timestamp: string): CommandMeta {
  const inner = envelope.command;
  const postedAt = new Date(Number(timestamp));
  const base = {
    commandId: envelope.commandId,
    correlationId: envelope.correlationId,
    postedAt,
    ownerRef: null,
    adjustmentId: null,
    refundId: null,
    reason: null,
  };
  if ('ledgerline.ledger.v1.OpenAccountRequested' in inner) {
    return { ...base, ownerRef: inner['ledgerline.ledger.v1.OpenAccountRequested'].ownerRef };
  }
  if ('ledgerline.ledger.v1.AdjustmentRequested' in inner) {
    const c = inner['ledgerline.ledger.v1.AdjustmentRequested'];
    return { ...base, adjustmentId: c.adjustmentId, reason: c.reason };
  }
  if ('ledgerline.ledger.v1.AccountStatusChangeRequested' in inner) {
    return { ...base, reason: inner['ledgerline.ledger.v1.AccountStatusChangeRequested'].reason };
  }
  if ('ledgerline.payments.v1.RefundRequested' in inner) {
    return { ...base, refundId: inner['ledgerline.payments.v1.RefundRequested'].refundId };
  }
  return base;
}

/**
 * The account a payment or refund names as both payer and payee, if it does. Each step of the
 * saga sees one side only, so only the envelope can tell; the processor refuses such a payment at
 * its API (422 same-account), and a command that names one anyway is not one the ledger posts.
 */
function selfTransferAccount(envelope: AvroLedgerCommand): string | undefined {
  const inner = envelope.command;
  const parties =
    'ledgerline.payments.v1.PaymentRequested' in inner
      ? inner['ledgerline.payments.v1.PaymentRequested']
      : 'ledgerline.payments.v1.RefundRequested' in inner
        ? inner['ledgerline.payments.v1.RefundRequested']
        : undefined;
  return parties !== undefined && parties.payerAccountId === parties.payeeAccountId
    ? parties.payerAccountId
    : undefined;
}

/**
 * Maps a decoded message to a domain command, or says why it cannot be one (dead letter).
 * `timestamp` is the Kafka message timestamp in epoch milliseconds, as kafkajs gives it.
 */
export function mapLedgerCommand(
  key: string,
  envelope: AvroLedgerCommand,
  timestamp: string,
): CommandMapping {
  const postedAtMs = Number(timestamp);
  if (!Number.isSafeInteger(postedAtMs) || postedAtMs <= 0) {
    return { ok: false, reason: `message timestamp ${timestamp} is not an instant` };
  }
  if (envelope.accountId !== key) {
    return {
      ok: false,
      reason: `envelope accountId ${envelope.accountId} differs from the Kafka key ${key}`,
    };
  }
  const selfTransfer = selfTransferAccount(envelope);
  if (selfTransfer !== undefined) {
    return {
      ok: false,
      reason: `payer and payee are the same account ${selfTransfer}: a payment or refund moves money between two accounts`,
    };
  }
  const command = toDomain(envelope);
  const accountId = commandAccountId(command);
  if (accountId !== key) {
    return {
      ok: false,
      reason: `${command.kind} touches account ${accountId} but was keyed by ${key}`,
    };
  }
  return { ok: true, mapped: { command, meta: metaOf(envelope, timestamp) } };
}
