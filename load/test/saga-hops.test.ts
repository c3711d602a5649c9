// The bench's POST→COMPLETED breakdown: consecutive saga marks split the end-to-end time into
// hops, over the payments that have every mark.
import { SAGA_HOPS, sagaHops, type SagaMarks } from '../src/saga-hops.js';

/** A payment posted at `at` whose hops took `hops` ms each, in saga order. */
function payment(at: number, hops: readonly number[]): SagaMarks {
  const marks: SagaMarks = { postIntendedMs: at };
  let t = at;
  SAGA_HOPS.forEach((hop, i) => {
    t += hops[i]!;
    marks[hop.to] = t;
  });
  return marks;
}

test('each hop is the time between two consecutive marks, in saga order', () => {
  const figures = sagaHops([payment(1_000, [5, 30, 10, 28, 12, 3])])!;
  expect(figures.payments).toBe(1);
  expect(figures.hops.map((h) => [h.name, h.ms.med])).toEqual([
    ['processor: POST → debit command sent', 5],
    ['ledger: debit command → DEBIT posted, sent', 30],
    ['processor: DEBIT posted → credit command sent', 10],
    ['ledger: credit command → CREDIT posted, sent', 28],
    ['processor: CREDIT posted → COMPLETED sent', 12],
    ['Kafka: COMPLETED sent → read by the bench', 3],
  ]);
  expect(figures.endToEnd.med).toBe(88);
});

test('the hop means add up to the mean POST→COMPLETED, and percentiles are per hop', () => {
  const payments = Array.from({ length: 100 }, (_, i) =>
    payment(i * 10, [4 + (i % 3), 20 + i, 9, 25, 11 + (i % 5), 2]),
  );
  const figures = sagaHops(payments)!;
  expect(figures.payments).toBe(100);
  const sumOfMeans = figures.hops.reduce((sum, h) => sum + h.ms.avg!, 0);
  expect(sumOfMeans).toBeCloseTo(figures.endToEnd.avg!, 9);
  const ledgerDebit = figures.hops[1]!.ms;
  // 20..119 ms: the percentiles interpolate between neighbours, like every bench trend.
  expect([ledgerDebit.min, ledgerDebit.med, ledgerDebit.p99, ledgerDebit.max]).toEqual([
    20, 69.5, 118.01, 119,
  ]);
});

test('a payment without every mark (rejected, refunded, or not read) is left out of every hop', () => {
  const complete = payment(0, [5, 30, 10, 28, 12, 3]);
  const rejected: SagaMarks = { postIntendedMs: 0, debitRequestedMs: 7, debitPostedMs: 900 };
  const { completedSeenMs: _, ...notSeen } = payment(0, [1, 1, 1, 1, 1, 1]);
  const figures = sagaHops([complete, rejected, notSeen])!;
  expect(figures.payments).toBe(1);
  expect(figures.hops.every((h) => h.ms.count === 1)).toBe(true);
  expect(figures.hops[1]!.ms.max).toBe(30);
});

test('no payment with every mark: no figures', () => {
  expect(sagaHops([])).toBeNull();
  expect(sagaHops([{ postIntendedMs: 0, debitRequestedMs: 3 }])).toBeNull();
});
