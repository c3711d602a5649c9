// Builders and a scenario model for the saga tests. The model below knows the money flow on
// its own (it does not call the saga), so the saga is checked against an independent oracle.

import fc from 'fast-check';

import {
  refundCountMax,
  type PaymentStep,
  type RejectionReason,
  type SagaState,
} from '../../src/domain/model.js';
import {
  startSaga,
  transition,
  type Anomaly,
  type Disposition,
  type PaymentIntent,
  type RefundRequested,
  type Saga,
  type SagaInput,
  type StatusChange,
  type StepCommand,
  type StepPosted,
  type StepRejected,
} from '../../src/domain/saga.js';

export const paymentId = '3f0c1e9a-6a8e-4c55-9d1f-2b7a5e4c8d01';
export const payerAccountId = '8b2d4f60-1c3e-4a5b-8d7f-0e1a2b3c4d5e';
export const payeeAccountId = 'c7e9a1b3-5d7f-4e1a-9b3c-5d7f9e1a3b5c';

export function intent(amountMinor = 10_000): PaymentIntent {
  return {
    paymentId,
    payerAccountId,
    payeeAccountId,
    amountMinor,
    currency: 'EUR',
    acceptedAt: at(0),
  };
}

export function newSaga(amountMinor = 10_000): Saga {
  return startSaga(intent(amountMinor)).saga;
}

// Seconds after a fixed instant, as the ISO 8601 strings the saga carries.
export function at(second: number): string {
  return new Date(Date.UTC(2025, 0, 1) + second * 1000).toISOString();
}

export function transactionIdOf(step: PaymentStep, sequence: number): string {
  return `tx:${step}:${sequence}`;
}

export function posted(step: PaymentStep, sequence = 0, second = 1): StepPosted {
  return {
    kind: 'StepPosted',
    paymentId,
    step,
    sequence,
    transactionId: transactionIdOf(step, sequence),
    postedAt: at(second),
  };
}

export function rejected(
  step: PaymentStep,
  reason: RejectionReason = 'INSUFFICIENT_FUNDS',
  sequence = 0,
  second = 1,
): StepRejected {
  return { kind: 'StepRejected', paymentId, step, sequence, reason, rejectedAt: at(second) };
}

export function refundRequested(
  sequence: number,
  amountMinor: number,
  second = 1,
): RefundRequested {
  return {
    kind: 'RefundRequested',
    paymentId,
    refundId: refundIdOf(sequence),
    sequence,
    amountMinor,
    requestedAt: at(second),
  };
}

export function refundIdOf(sequence: number): string {
  return `0f0e0d0c-0000-4000-8000-${sequence.toString().padStart(12, '0')}`;
}

export interface Replay {
  saga: Saga;
  commands: StepCommand[];
  statusChanges: StatusChange[];
  anomalies: Anomaly[];
  dispositions: Disposition[];
  // The saga after each input.
  history: Saga[];
}

export function replay(saga: Saga, inputs: readonly SagaInput[]): Replay {
  const result: Replay = {
    saga,
    commands: [],
    statusChanges: [],
    anomalies: [],
    dispositions: [],
    history: [],
  };
  for (const input of inputs) {
    const step = transition(result.saga, input);
    result.saga = step.saga;
    result.commands.push(...step.commands);
    result.statusChanges.push(...step.statusChanges);
    if (step.anomaly !== null) result.anomalies.push(step.anomaly);
    result.dispositions.push(step.disposition);
    result.history.push(step.saga);
  }
  return result;
}

// A completed payment of `amountMinor`.
export function completedSaga(amountMinor = 10_000): Saga {
  return replay(newSaga(amountMinor), [posted('DEBIT', 0, 1), posted('CREDIT', 0, 2)]).saga;
}

// ---------- scenarios ----------

export interface Scenario {
  amountMinor: number;
  // The legal outcome sequence, in causal order: what a well-behaved ledger and API produce.
  inputs: SagaInput[];
  stateExpected: SagaState;
  refundedMinorExpected: number;
}

interface Choice {
  // Which of the available moves to make.
  pick: number;
  // Outcome of a ledger step: POSTED unless this is a rejection.
  rejectedWith: RejectionReason | null;
  // Refund size, as a share of what remains.
  amountSeed: number;
  refundsAll: boolean;
}

const reasonArbitrary = fc.constantFrom<RejectionReason>(
  'INSUFFICIENT_FUNDS',
  'ACCOUNT_FROZEN',
  'ACCOUNT_CLOSED',
  'LIMIT_EXCEEDED',
);

// Mostly posted, sometimes rejected: rejections end tracks early, so keep them the minority.
const outcomeArbitrary: fc.Arbitrary<RejectionReason | null> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: reasonArbitrary },
);

const choiceArbitrary: fc.Arbitrary<Choice> = fc.record({
  pick: fc.nat(),
  rejectedWith: outcomeArbitrary,
  amountSeed: fc.nat(),
  // Now and then a refund of everything that remains.
  refundsAll: fc.nat({ max: 5 }).map((n) => n === 0),
});

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc
  .record({
    amountMinor: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 1_000_000 })),
    debit: outcomeArbitrary,
    credit: outcomeArbitrary,
    choices: fc.array(choiceArbitrary, { maxLength: 60, size: 'medium' }),
  })
  .map(({ amountMinor, debit, credit, choices }) =>
    buildScenario(amountMinor, debit, credit, choices),
  );

interface RefundTrack {
  sequence: number;
  amountMinor: number;
  stepNext: 'REFUND_DEBIT' | 'REFUND_CREDIT' | 'REFUND_COMPENSATION';
}

function buildScenario(
  amountMinor: number,
  debit: RejectionReason | null,
  credit: RejectionReason | null,
  choices: readonly Choice[],
): Scenario {
  let second = 0;
  const inputs: SagaInput[] = [];
  const outcome = (step: PaymentStep, sequence: number, reason: RejectionReason | null): void => {
    second += 1;
    inputs.push(
      reason === null ? posted(step, sequence, second) : rejected(step, reason, sequence, second),
    );
  };

  outcome('DEBIT', 0, debit);
  if (debit !== null)
    return { amountMinor, inputs, stateExpected: 'REJECTED', refundedMinorExpected: 0 };
  outcome('CREDIT', 0, credit);
  if (credit !== null) {
    outcome('COMPENSATION', 0, null);
    return { amountMinor, inputs, stateExpected: 'COMPENSATED', refundedMinorExpected: 0 };
  }

  let refundedMinor = 0;
  let inFlightMinor = 0;
  let refundCount = 0;
  let tracks: RefundTrack[] = [];
  for (const choice of choices) {
    const remainingMinor = amountMinor - refundedMinor - inFlightMinor;
    const canRequest = remainingMinor > 0 && refundCount < refundCountMax;
    const moveCount = tracks.length + (canRequest ? 1 : 0);
    if (moveCount === 0) break;
    const move = choice.pick % moveCount;
    if (move === tracks.length) {
      const refundMinor = choice.refundsAll
        ? remainingMinor
        : 1 + (choice.amountSeed % remainingMinor);
      refundCount += 1;
      inFlightMinor += refundMinor;
      second += 1;
      inputs.push(refundRequested(refundCount, refundMinor, second));
      tracks.push({ sequence: refundCount, amountMinor: refundMinor, stepNext: 'REFUND_DEBIT' });
      continue;
    }
    const track = tracks[move];
    if (track === undefined) throw new Error('unreachable: move indexes a track');
    // A compensation is never rejected by a well-behaved ledger.
    const reason = track.stepNext === 'REFUND_COMPENSATION' ? null : choice.rejectedWith;
    outcome(track.stepNext, track.sequence, reason);
    let done = true;
    if (track.stepNext === 'REFUND_DEBIT' && reason === null) {
      track.stepNext = 'REFUND_CREDIT';
      done = false;
    } else if (track.stepNext === 'REFUND_CREDIT' && reason !== null) {
      track.stepNext = 'REFUND_COMPENSATION';
      done = false;
    } else if (track.stepNext === 'REFUND_CREDIT') {
      refundedMinor += track.amountMinor;
    }
    if (done) {
      inFlightMinor -= track.amountMinor;
      tracks = tracks.filter((other) => other !== track);
    }
  }
  const stateExpected: SagaState =
    refundedMinor === 0
      ? 'COMPLETED'
      : refundedMinor === amountMinor
        ? 'REFUNDED'
        : 'PARTIALLY_REFUNDED';
  return { amountMinor, inputs, stateExpected, refundedMinorExpected: refundedMinor };
}

// ---------- multisets ----------

export function multiset<T>(items: readonly T[]): string[] {
  return items.map((item) => JSON.stringify(item)).sort();
}

// True when every element of `part` occurs in `whole` at least as often.
export function isSubMultiset(part: readonly string[], whole: readonly string[]): boolean {
  const counts = new Map<string, number>();
  for (const item of whole) counts.set(item, (counts.get(item) ?? 0) + 1);
  for (const item of part) {
    const count = counts.get(item) ?? 0;
    if (count === 0) return false;
    counts.set(item, count - 1);
  }
  return true;
}

// True when `sequence` occurs in `deliveries` in order, not necessarily contiguously.
export function isSubsequence<T>(sequence: readonly T[], deliveries: readonly T[]): boolean {
  let next = 0;
  for (const delivery of deliveries)
    if (next < sequence.length && delivery === sequence[next]) next += 1;
  return next === sequence.length;
}
