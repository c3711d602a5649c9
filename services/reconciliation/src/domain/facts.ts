// The facts reconciliation keeps from the events, and how each event becomes them. Pure: the
// consumer decodes, these functions extract, the store writes.
import type {
  LedgerCommand,
  PaymentStatusChanged,
  PaymentStepPosted,
  PostingRejected,
} from '@ledgerline/generated/avro/types';
import type { EntryRow } from './ledger-checks.js';

export interface PostingCommandFact {
  readonly commandId: string;
  readonly stepKey: string;
  readonly paymentId: string | null;
  readonly step: string;
  readonly sequence: number;
  readonly accountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly seenAt: Date;
}

export interface PaymentRequestFact {
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly requestedAt: Date;
}

export interface LedgerOutcomeFact {
  readonly eventId: string;
  readonly outcome: 'POSTED' | 'REJECTED';
  readonly stepKey: string;
  readonly causationId: string | null;
  readonly paymentId: string | null;
  readonly step: string | null;
  readonly sequence: number;
  readonly transactionId: string | null;
  readonly accountId: string;
  readonly amountMinor: number | null;
  readonly currency: string | null;
  readonly entries: EntryRow[] | null;
  readonly reason: string | null;
  readonly postedAt: Date;
}

export interface PaymentStatusFact {
  readonly paymentId: string;
  readonly version: number;
  readonly status: string;
  readonly amountMinor: number;
  readonly currency: string;
  readonly refundedMinor: number;
  readonly changedAt: Date;
}

/** Same key on both sides: the ledger's step key for payments, the adjustment id otherwise. */
export function stepKeyOf(
  paymentId: string | null,
  step: string,
  sequence: number,
  adjustmentId: string | null,
): string | null {
  if (paymentId !== null) return `${paymentId}:${step}:${sequence}`;
  if (adjustmentId !== null) return `adjustment:${adjustmentId}`;
  return null;
}

type CommandFacts = { command: PostingCommandFact; request: PaymentRequestFact | null };
/** What every posting command fact takes from the envelope. */
type CommandBase = Pick<PostingCommandFact, 'commandId' | 'accountId' | 'seenAt'>;

/** A posting command (and, for PaymentRequested, the payment request); null for account commands. */
export function commandFacts(envelope: LedgerCommand, seenAt: Date): CommandFacts | null {
  const c = envelope.command;
  const base: CommandBase = {
    commandId: envelope.commandId,
    accountId: envelope.accountId,
    seenAt,
  };
  if ('ledgerline.payments.v1.PaymentRequested' in c) {
    const p = c['ledgerline.payments.v1.PaymentRequested'];
    return {
      command: paymentStep(base, p.paymentId, 'DEBIT', 0, p.amountMinor, p.currency),
      request: {
        paymentId: p.paymentId,
        payerAccountId: p.payerAccountId,
        payeeAccountId: p.payeeAccountId,
        amountMinor: p.amountMinor,
        currency: p.currency,
        requestedAt: seenAt,
      },
    };
  }
  if ('ledgerline.payments.v1.CreditStepRequested' in c) {
    const p = c['ledgerline.payments.v1.CreditStepRequested'];
    return stepOnly(paymentStep(base, p.paymentId, 'CREDIT', 0, p.amountMinor, p.currency));
  }
  if ('ledgerline.payments.v1.CompensationRequested' in c) {
    const p = c['ledgerline.payments.v1.CompensationRequested'];
    return stepOnly(paymentStep(base, p.paymentId, 'COMPENSATION', 0, p.amountMinor, p.currency));
  }
  if ('ledgerline.payments.v1.RefundRequested' in c) {
    const p = c['ledgerline.payments.v1.RefundRequested'];
    return stepOnly(paymentStep(base, p.paymentId, p.step, p.sequence, p.amountMinor, p.currency));
  }
  if ('ledgerline.ledger.v1.AdjustmentRequested' in c) {
    const a = c['ledgerline.ledger.v1.AdjustmentRequested'];
    return stepOnly({
      ...base,
      stepKey: `adjustment:${a.adjustmentId}`,
      paymentId: null,
      step: 'ADJUSTMENT',
      sequence: 0,
      amountMinor: a.amountMinor,
      currency: a.currency,
    });
  }
  return null;
}

function stepOnly(command: PostingCommandFact): CommandFacts {
  return { command, request: null };
}

/** A payment's posting step, keyed by payment, step and sequence (a re-sent command is the same step). */
function paymentStep(
  base: CommandBase,
  paymentId: string,
  step: string,
  sequence: number,
  amountMinor: number,
  currency: string,
): PostingCommandFact {
  return {
    ...base,
    stepKey: `${paymentId}:${step}:${sequence}`,
    paymentId,
    step,
    sequence,
    amountMinor,
    currency,
  };
}

export function postedFact(e: PaymentStepPosted): LedgerOutcomeFact | null {
  const stepKey = stepKeyOf(e.paymentId, e.step, e.sequence, e.adjustmentId);
  if (stepKey === null) return null;
  return {
    eventId: e.eventId,
    outcome: 'POSTED',
    stepKey,
    causationId: e.causationId,
    paymentId: e.paymentId,
    step: e.step,
    sequence: e.sequence,
    transactionId: e.transactionId,
    accountId: e.accountId,
    amountMinor: e.amountMinor,
    currency: e.currency,
    entries: e.entries.map((x) => ({
      entryId: x.entryId,
      accountId: x.accountId,
      direction: x.direction,
      amountMinor: x.amountMinor,
      currency: x.currency,
    })),
    reason: null,
    postedAt: e.postedAt,
  };
}

/** Rejections of postings; account-command rejections (no step) are not postings. */
export function rejectedFact(e: PostingRejected): LedgerOutcomeFact | null {
  if (e.step === null) return null;
  const stepKey = stepKeyOf(e.paymentId, e.step, e.sequence, e.adjustmentId);
  if (stepKey === null) return null;
  return {
    eventId: e.eventId,
    outcome: 'REJECTED',
    stepKey,
    causationId: e.causationId,
    paymentId: e.paymentId,
    step: e.step,
    sequence: e.sequence,
    transactionId: e.transactionId,
    accountId: e.accountId,
    amountMinor: null,
    currency: null,
    entries: null,
    reason: e.reason,
    postedAt: e.occurredAt,
  };
}

export function statusFact(e: PaymentStatusChanged): PaymentStatusFact {
  return {
    paymentId: e.paymentId,
    version: e.version,
    status: e.to,
    amountMinor: e.amountMinor,
    currency: e.currency,
    refundedMinor: e.refundedMinor,
    changedAt: e.occurredAt,
  };
}
