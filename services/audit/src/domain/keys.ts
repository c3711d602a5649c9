// What the trail indexes about each event: its type, ids, the payment / account / transaction
// it names, and the service that produced it (from contracts/topics.yaml). Pure: decoded
// values in, plain facts out.
import type {
  AccountOpened,
  AccountStatusChanged,
  AdjustmentRequestChanged,
  DeadLetter,
  DiscrepancyDetected,
  LedgerCommand,
  PaymentStatusChanged,
  PaymentStepPosted,
  PostingRejected,
  ReconciliationRunCompleted,
} from '@ledgerline/generated/avro/types';

export interface EventFacts {
  /** Full Avro name; for ledger.commands the inner command's. */
  eventType: string;
  eventId: string;
  correlationId: string;
  paymentId: string | null;
  accountId: string | null;
  transactionId: string | null;
  producer: string;
}

/** Raised when an event lacks what the trail needs (e.g. an eventId that is not a UUID). */
export class UnrecordableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnrecordableEventError';
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** PostgreSQL stores uuid in lower case: normalise first, or verify would see a change. */
function optionalUuid(value: string | null | undefined): string | null {
  if (value === null || value === undefined || !UUID.test(value)) return null;
  return value.toLowerCase();
}

function requiredUuid(value: string, field: string): string {
  if (!UUID.test(value)) throw new UnrecordableEventError(`${field} "${value}" is not a UUID`);
  return value.toLowerCase();
}

const PROCESSOR = 'processor';
const LEDGER = 'ledger';
const RECONCILIATION = 'reconciliation';

/** Base topic names (without test prefixes) the trail knows how to read. */
export const AUDITED_TOPICS = [
  'ledger.commands',
  'ledger.step-posted',
  'ledger.posting-rejected',
  'ledger.account-opened',
  'ledger.account-status-changed',
  'ledger.adjustment-requests',
  'payments.status-changed',
  'reconciliation.run-completed',
  'reconciliation.discrepancy-detected',
  'ledgerline.dead-letter',
] as const;
export type AuditedTopic = (typeof AUDITED_TOPICS)[number];

interface Envelope {
  eventId: string;
  correlationId: string;
}

function envelope(value: Envelope, eventType: string, producer: string): EventFacts {
  return {
    eventType,
    eventId: requiredUuid(value.eventId, 'eventId'),
    correlationId: requiredUuid(value.correlationId, 'correlationId'),
    paymentId: null,
    accountId: null,
    transactionId: null,
    producer,
  };
}

/** Facts of one decoded event of `topic` (a base topic name). */
export function eventFacts(topic: AuditedTopic, value: unknown): EventFacts {
  switch (topic) {
    case 'ledger.commands':
      return commandFacts(value as LedgerCommand);
    case 'ledger.step-posted': {
      const v = value as PaymentStepPosted;
      return {
        ...envelope(v, 'ledgerline.ledger.v1.PaymentStepPosted', LEDGER),
        paymentId: optionalUuid(v.paymentId),
        accountId: optionalUuid(v.accountId),
        transactionId: optionalUuid(v.transactionId),
      };
    }
    case 'ledger.posting-rejected': {
      const v = value as PostingRejected;
      return {
        ...envelope(v, 'ledgerline.ledger.v1.PostingRejected', LEDGER),
        paymentId: optionalUuid(v.paymentId),
        accountId: optionalUuid(v.accountId),
        transactionId: optionalUuid(v.transactionId),
      };
    }
    case 'ledger.account-opened': {
      const v = value as AccountOpened;
      return {
        ...envelope(v, 'ledgerline.ledger.v1.AccountOpened', LEDGER),
        accountId: optionalUuid(v.accountId),
      };
    }
    case 'ledger.account-status-changed': {
      const v = value as AccountStatusChanged;
      return {
        ...envelope(v, 'ledgerline.ledger.v1.AccountStatusChanged', LEDGER),
        accountId: optionalUuid(v.accountId),
      };
    }
    case 'ledger.adjustment-requests': {
      const v = value as AdjustmentRequestChanged;
      return {
        ...envelope(v, 'ledgerline.ledger.v1.AdjustmentRequestChanged', LEDGER),
        accountId: optionalUuid(v.accountId),
      };
    }
    case 'payments.status-changed': {
      const v = value as PaymentStatusChanged;
      // One account column: the payer's, whose money the payment moves first.
      return {
        ...envelope(v, 'ledgerline.payments.v1.PaymentStatusChanged', PROCESSOR),
        paymentId: optionalUuid(v.paymentId),
        accountId: optionalUuid(v.payerAccountId),
      };
    }
    case 'reconciliation.run-completed': {
      const v = value as ReconciliationRunCompleted;
      return envelope(v, 'ledgerline.reconciliation.v1.ReconciliationRunCompleted', RECONCILIATION);
    }
    case 'reconciliation.discrepancy-detected': {
      const v = value as DiscrepancyDetected;
      return {
        ...envelope(v, 'ledgerline.reconciliation.v1.DiscrepancyDetected', RECONCILIATION),
        paymentId: optionalUuid(v.paymentId),
        accountId: optionalUuid(v.accountId),
        transactionId: optionalUuid(v.transactionId),
      };
    }
    case 'ledgerline.dead-letter': {
      const v = value as DeadLetter;
      // Every service writes dead letters; the consumer group names the one that gave up.
      return envelope(v, 'ledgerline.platform.v1.DeadLetter', v.consumer);
    }
  }
}

/** The inner command decides the type and the producer: payment steps come from the processor. */
function commandFacts(v: LedgerCommand): EventFacts {
  const base = {
    eventId: requiredUuid(v.commandId, 'commandId'),
    correlationId: requiredUuid(v.correlationId, 'correlationId'),
    accountId: optionalUuid(v.accountId),
  };
  const c = v.command;
  if ('ledgerline.payments.v1.PaymentRequested' in c) {
    const inner = c['ledgerline.payments.v1.PaymentRequested'];
    return {
      ...base,
      eventType: 'ledgerline.payments.v1.PaymentRequested',
      paymentId: optionalUuid(inner.paymentId),
      transactionId: null,
      producer: PROCESSOR,
    };
  }
  if ('ledgerline.payments.v1.CreditStepRequested' in c) {
    const inner = c['ledgerline.payments.v1.CreditStepRequested'];
    return {
      ...base,
      eventType: 'ledgerline.payments.v1.CreditStepRequested',
      paymentId: optionalUuid(inner.paymentId),
      transactionId: optionalUuid(inner.debitTransactionId),
      producer: PROCESSOR,
    };
  }
  if ('ledgerline.payments.v1.CompensationRequested' in c) {
    const inner = c['ledgerline.payments.v1.CompensationRequested'];
    return {
      ...base,
      eventType: 'ledgerline.payments.v1.CompensationRequested',
      paymentId: optionalUuid(inner.paymentId),
      transactionId: optionalUuid(inner.debitTransactionId),
      producer: PROCESSOR,
    };
  }
  if ('ledgerline.payments.v1.RefundRequested' in c) {
    const inner = c['ledgerline.payments.v1.RefundRequested'];
    return {
      ...base,
      eventType: 'ledgerline.payments.v1.RefundRequested',
      paymentId: optionalUuid(inner.paymentId),
      transactionId: optionalUuid(inner.referencesTransactionId),
      producer: PROCESSOR,
    };
  }
  const branch = Object.keys(c)[0];
  switch (branch) {
    case 'ledgerline.ledger.v1.OpenAccountRequested':
    case 'ledgerline.ledger.v1.AccountStatusChangeRequested':
    case 'ledgerline.ledger.v1.AdjustmentRequested':
      return { ...base, eventType: branch, paymentId: null, transactionId: null, producer: LEDGER };
    default:
      throw new UnrecordableEventError(`ledger command with unknown branch ${String(branch)}`);
  }
}

/** The base topic of a (possibly prefixed) topic name, or undefined when it is not audited. */
export function baseTopic(topic: string, prefix: string): AuditedTopic | undefined {
  if (!topic.startsWith(prefix)) return undefined;
  const base = topic.slice(prefix.length);
  return (AUDITED_TOPICS as readonly string[]).includes(base) ? (base as AuditedTopic) : undefined;
}
