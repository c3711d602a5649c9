// Where a payment's POST→COMPLETED time goes, hop by hop. Every message of the saga carries the
// time its producer sent it (Kafka CreateTime: the relay that published it, in the service
// that committed it), so consecutive marks split the end-to-end latency into the service that
// held the payment between them: the intake and the processor's relay, the ledger's debit, the
// processor's turn, the ledger's credit, the processor's completion, and delivery to the
// watcher. Each hop includes the Kafka delivery into the service it names. Pure: the bench
// reads the marks, this summarizes them.
import { Samples, type TrendSummary } from './metrics.js';

/** When each mark of one payment's saga happened, in epoch milliseconds. */
export interface SagaMarks {
  /** When the load generator meant to send POST /v1/payments (open model). */
  postIntendedMs: number;
  /** The PaymentRequested command (the debit step) sent by the processor's relay. */
  debitRequestedMs?: number;
  /** The DEBIT PaymentStepPosted sent by the ledger's relay. */
  debitPostedMs?: number;
  /** The CreditStepRequested command sent by the processor's relay. */
  creditRequestedMs?: number;
  /** The CREDIT PaymentStepPosted sent by the ledger's relay. */
  creditPostedMs?: number;
  /** The COMPLETED PaymentStatusChanged sent by the processor's relay. */
  completedMs?: number;
  /** When the bench's watcher read that COMPLETED event. */
  completedSeenMs?: number;
}

type Mark = keyof SagaMarks;

/** The hops in saga order: each from one mark to the next. */
export const SAGA_HOPS: readonly { name: string; from: Mark; to: Mark }[] = [
  { name: 'processor: POST → debit command sent', from: 'postIntendedMs', to: 'debitRequestedMs' },
  {
    name: 'ledger: debit command → DEBIT posted, sent',
    from: 'debitRequestedMs',
    to: 'debitPostedMs',
  },
  {
    name: 'processor: DEBIT posted → credit command sent',
    from: 'debitPostedMs',
    to: 'creditRequestedMs',
  },
  {
    name: 'ledger: credit command → CREDIT posted, sent',
    from: 'creditRequestedMs',
    to: 'creditPostedMs',
  },
  { name: 'processor: CREDIT posted → COMPLETED sent', from: 'creditPostedMs', to: 'completedMs' },
  { name: 'Kafka: COMPLETED sent → read by the bench', from: 'completedMs', to: 'completedSeenMs' },
];

export interface SagaHopFigures {
  /** Payments with every mark: each hop is summarized over the same payments. */
  payments: number;
  /** Per hop, in SAGA_HOPS order: the means add up to the mean POST→COMPLETED. */
  hops: { name: string; ms: TrendSummary }[];
  /** POST→COMPLETED seen, over the same payments. */
  endToEnd: TrendSummary;
}

/**
 * Summarizes the hops over the payments that have every mark (a rejected or refunded payment
 * takes another path and is left out). Null when no payment has them all.
 */
export function sagaHops(marks: Iterable<SagaMarks>): SagaHopFigures | null {
  const perHop = SAGA_HOPS.map(() => new Samples());
  const endToEnd = new Samples();
  for (const m of marks) {
    const times = [m.postIntendedMs, ...SAGA_HOPS.map((h) => m[h.to])];
    if (times.some((t) => t === undefined || !Number.isFinite(t))) continue;
    const t = times as number[];
    SAGA_HOPS.forEach((_, i) => perHop[i]!.add(t[i + 1]! - t[i]!));
    endToEnd.add(t[t.length - 1]! - t[0]!);
  }
  if (endToEnd.count === 0) return null;
  return {
    payments: endToEnd.count,
    hops: SAGA_HOPS.map((h, i) => ({ name: h.name, ms: perHop[i]!.summary() })),
    endToEnd: endToEnd.summary(),
  };
}
