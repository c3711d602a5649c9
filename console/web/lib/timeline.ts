// A payment's saga as one timeline across services: the request, each command on
// ledger.commands, each posting (with its ledger transaction's entries) or rejection, each
// status change, discrepancies, in the order they happened. The audit trail records topics as
// its consumers read them, so chain order is not causal order: the chain sequence is shown and
// only breaks ties. Without the audit scope the timeline falls back to the processor's own
// record of the steps. Pure: the page fetches, this decides what the operator reads.
import type { components as Processor } from '@ledgerline/generated/openapi/processor.types';
import type { components as Ledger } from '@ledgerline/generated/openapi/ledger.types';
import type { components as Audit } from '@ledgerline/generated/openapi/audit.types';

export type Payment = Processor['schemas']['Payment'];
export type Transaction = Ledger['schemas']['Transaction'];
export type AuditRecord = Audit['schemas']['AuditRecord'];

export type TimelineKind =
  'request' | 'command' | 'posted' | 'rejected' | 'status' | 'discrepancy' | 'other';

export interface TimelineEntry {
  kind: TimelineKind;
  /** When it happened (the event's own time). */
  at: string;
  /** The service that produced it. */
  service: string;
  title: string;
  detail: string | null;
  /** Where the event sits in Kafka, when it came from the trail. */
  coordinates: { topic: string; partition: number; offset: string } | null;
  auditSequence: number | null;
  transactionId: string | null;
  /** The ledger transaction's entries, when the ledger was asked. */
  entries: Ledger['schemas']['TransactionEntry'][] | null;
}

const COMMAND_TITLES: Readonly<Record<string, string>> = {
  PaymentRequested: 'Debit requested',
  CreditStepRequested: 'Credit requested',
  CompensationRequested: 'Compensation requested',
};

function shortType(eventType: string): string {
  return eventType.slice(eventType.lastIndexOf('.') + 1);
}

type Payload = Record<string, unknown>;

function field(payload: Payload, name: string): string | null {
  const value = payload[name];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
}

/** The branch of the `command` union (avsc's JSON: `{ "<full name>": {...} }`). */
function commandBody(payload: Payload): Payload {
  const command = payload['command'];
  if (typeof command !== 'object' || command === null) return {};
  const inner = Object.values(command)[0];
  return typeof inner === 'object' && inner !== null ? (inner as Payload) : {};
}

function fromRecord(record: AuditRecord): TimelineEntry {
  const payload = record.payload as Payload;
  const type = shortType(record.eventType);
  const base = {
    at: field(payload, 'occurredAt') ?? record.recordedAt,
    service: record.producer,
    detail: null,
    coordinates: { topic: record.topic, partition: record.partition, offset: record.offset },
    auditSequence: record.sequence,
    transactionId: record.transactionId,
    entries: null,
  };
  // By event type, not topic: topic names carry the environment's prefix (tests, staging).
  switch (type) {
    case 'PaymentRequested':
    case 'CreditStepRequested':
    case 'CompensationRequested':
    case 'RefundRequested':
    case 'OpenAccountRequested':
    case 'AccountStatusChangeRequested':
    case 'AdjustmentRequested': {
      const body = commandBody(payload);
      const step = field(body, 'step');
      const title =
        type === 'RefundRequested'
          ? `${step ?? 'Refund step'} requested`
          : (COMMAND_TITLES[type] ?? type);
      return {
        ...base,
        kind: 'command',
        title,
        detail: `command ${field(payload, 'commandId') ?? ''}`,
      };
    }
    case 'PaymentStepPosted':
      return {
        ...base,
        at: field(payload, 'postedAt') ?? base.at,
        kind: 'posted',
        title: `${field(payload, 'step') ?? 'Step'} posted`,
        detail: `transaction ${field(payload, 'transactionId') ?? ''}`,
      };
    case 'PostingRejected':
      return {
        ...base,
        kind: 'rejected',
        title: `${field(payload, 'step') ?? 'Step'} rejected: ${field(payload, 'reason') ?? ''}`,
        detail: field(payload, 'detail'),
      };
    case 'PaymentStatusChanged':
      return {
        ...base,
        kind: 'status',
        title: `Status ${field(payload, 'from') ?? '(new)'} → ${field(payload, 'to') ?? '?'}`,
        detail: field(payload, 'reason'),
      };
    case 'DiscrepancyDetected':
      return {
        ...base,
        kind: 'discrepancy',
        title: `Discrepancy: ${field(payload, 'kind') ?? ''}`,
        detail: field(payload, 'detail'),
      };
    default:
      return { ...base, kind: 'other', title: type, detail: null };
  }
}

/** The processor's steps, when the trail cannot be read. */
function fromSteps(payment: Payment): TimelineEntry[] {
  return payment.steps.map((step) => ({
    kind: step.status === 'POSTED' ? 'posted' : step.status === 'REJECTED' ? 'rejected' : 'command',
    at: step.at,
    service: step.status === 'REQUESTED' ? 'processor' : 'ledger',
    title:
      step.status === 'POSTED'
        ? `${step.step} posted`
        : step.status === 'REJECTED'
          ? `${step.step} rejected: ${step.reason ?? ''}`
          : `${step.step} requested`,
    detail: step.transactionId === null ? null : `transaction ${step.transactionId}`,
    coordinates: null,
    auditSequence: null,
    transactionId: step.transactionId,
    entries: null,
  }));
}

/** Within one millisecond, a cause before its effects: request, command, outcome, status. */
const KIND_RANK: Readonly<Record<TimelineKind, number>> = {
  request: 0,
  command: 1,
  posted: 2,
  rejected: 2,
  status: 3,
  discrepancy: 4,
  other: 5,
};

function inTimeOrder(a: TimelineEntry, b: TimelineEntry): number {
  return (
    Date.parse(a.at) - Date.parse(b.at) ||
    KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
    (a.auditSequence ?? 0) - (b.auditSequence ?? 0)
  );
}

/**
 * The timeline in time order: the request, then the trail (or the processor's steps), postings
 * carrying the entries of their ledger transaction when it was read.
 */
export function paymentTimeline(
  payment: Payment,
  trail: readonly AuditRecord[] | undefined,
  transactions: ReadonlyMap<string, Transaction>,
): TimelineEntry[] {
  const request: TimelineEntry = {
    kind: 'request',
    at: payment.createdAt,
    service: 'processor',
    title: 'Payment requested',
    detail: payment.description,
    coordinates: null,
    auditSequence: null,
    transactionId: null,
    entries: null,
  };
  const events =
    trail === undefined
      ? fromSteps(payment)
      : [...trail].sort((a, b) => a.sequence - b.sequence).map(fromRecord);
  return [request, ...events]
    .map((entry) => {
      const transaction =
        entry.transactionId === null ? undefined : transactions.get(entry.transactionId);
      return entry.kind === 'posted' && transaction !== undefined
        ? { ...entry, entries: transaction.entries }
        : entry;
    })
    .sort(inTimeOrder);
}

/** The transactions a timeline needs from the ledger. */
export function postedTransactionIds(
  payment: Payment,
  trail: readonly AuditRecord[] | undefined,
): string[] {
  const ids = new Set<string>();
  for (const step of payment.steps) if (step.transactionId !== null) ids.add(step.transactionId);
  for (const record of trail ?? [])
    if (shortType(record.eventType) === 'PaymentStepPosted' && record.transactionId !== null)
      ids.add(record.transactionId);
  return [...ids];
}
