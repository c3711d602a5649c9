import fc from 'fast-check';

import { isTerminal, paymentSteps, type RejectionReason } from '../../src/domain/model.js';
import { type Saga, type SagaInput } from '../../src/domain/saga.js';
import {
  isSubMultiset,
  isSubsequence,
  multiset,
  newSaga,
  paymentId,
  posted,
  refundIdOf,
  refundRequested,
  rejected,
  replay,
  scenarioArbitrary,
  type Replay,
  type Scenario,
} from './saga-fixtures.js';

const numRuns = 200;

function cleanRun(scenario: Scenario): Replay {
  return replay(newSaga(scenario.amountMinor), scenario.inputs);
}

function statusEdges(run: Replay): string[] {
  return multiset(run.statusChanges.map((change) => [change.from, change.to]));
}

// Properties every run must keep, whatever arrives in whatever order.
function expectSafeHistory(start: Saga, run: Replay): void {
  let previous = start;
  for (const saga of run.history) {
    if (isTerminal(previous.state)) expect(saga).toBe(previous);
    expect(saga.refundedMinor).toBeLessThanOrEqual(saga.amountMinor);
    expect(saga.refundedMinor + saga.refundInFlightMinor).toBeLessThanOrEqual(saga.amountMinor);
    expect(saga.refundedMinor).toBeGreaterThanOrEqual(previous.refundedMinor);
    expect(saga.version).toBeGreaterThanOrEqual(previous.version);
    previous = saga;
  }
  // Each ledger step is requested at most once per payment.
  const stepKeys = run.commands.map((command) => `${command.step}:${command.sequence}`);
  expect(new Set(stepKeys).size).toBe(stepKeys.length);
}

describe('the saga under the legal outcome sequence', () => {
  test('every input applies and the saga ends where the money flow says', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const run = cleanRun(scenario);

        expect(run.anomalies).toEqual([]);
        expect(run.dispositions.every((disposition) => disposition === 'APPLIED')).toBe(true);
        expect(run.saga.state).toBe(scenario.stateExpected);
        expect(run.saga.refundedMinor).toBe(scenario.refundedMinorExpected);
        expect(run.saga.version).toBe(scenario.inputs.length);
        expectSafeHistory(newSaga(scenario.amountMinor), run);
      }),
      { numRuns },
    );
  });

  test('clearing nets to zero for every payment in a terminal state', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const run = cleanRun(scenario);
        fc.pre(isTerminal(run.saga.state));

        // What each posted step moves into (+) or out of (−) clearing.
        const clearingMinorBySign: Record<(typeof paymentSteps)[number], 1 | -1> = {
          DEBIT: 1,
          CREDIT: -1,
          COMPENSATION: -1,
          REFUND_DEBIT: 1,
          REFUND_CREDIT: -1,
          REFUND_COMPENSATION: -1,
        };
        let clearingMinor = 0;
        for (const record of run.saga.steps) {
          if (record.status !== 'POSTED') continue;
          const refund = run.saga.refunds[record.sequence - 1];
          const amountMinor = record.sequence === 0 ? run.saga.amountMinor : refund?.amountMinor;
          clearingMinor += clearingMinorBySign[record.step] * (amountMinor ?? Number.NaN);
        }
        expect(clearingMinor).toBe(0);
      }),
      { numRuns },
    );
  });
});

describe('the saga under duplicated and reordered deliveries', () => {
  test('each input delivered one to three times ends in the same saga with the same commands', () => {
    const arbitrary = scenarioArbitrary.chain((scenario) =>
      fc.tuple(
        fc.constant(scenario),
        fc.array(fc.integer({ min: 1, max: 3 }), {
          minLength: scenario.inputs.length,
          maxLength: scenario.inputs.length,
        }),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([scenario, copies]) => {
        const clean = cleanRun(scenario);
        const deliveries = scenario.inputs.flatMap((input, index) =>
          Array.from({ length: copies[index] ?? 1 }, () => input),
        );

        const run = replay(newSaga(scenario.amountMinor), deliveries);

        expect(run.saga).toEqual(clean.saga);
        expect(run.commands).toEqual(clean.commands);
        expect(run.statusChanges).toEqual(clean.statusChanges);
        expect(run.anomalies).toEqual([]);
        expectSafeHistory(newSaga(scenario.amountMinor), run);
      }),
      { numRuns },
    );
  });

  test('replaying the whole stream again changes nothing and emits nothing', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const clean = cleanRun(scenario);

        const again = replay(clean.saga, scenario.inputs);

        expect(again.saga).toBe(clean.saga);
        expect(again.commands).toEqual([]);
        expect(again.statusChanges).toEqual([]);
        expect(again.dispositions.every((disposition) => disposition === 'DUPLICATE')).toBe(true);
      }),
      { numRuns },
    );
  });

  test('stray copies arriving anywhere leave the outcome of the causal sequence unchanged', () => {
    // The clean sequence stays a subsequence of the deliveries; extra copies of any of its
    // inputs, early or late, are sprinkled in between.
    const arbitrary = scenarioArbitrary.chain((scenario) =>
      fc.tuple(
        fc.constant(scenario),
        fc.array(fc.record({ source: fc.nat(), position: fc.nat() }), { maxLength: 40 }),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([scenario, strays]) => {
        const clean = cleanRun(scenario);
        const deliveries: SagaInput[] = [...scenario.inputs];
        for (const stray of strays) {
          const input = scenario.inputs[stray.source % scenario.inputs.length];
          if (input === undefined) continue;
          deliveries.splice(stray.position % (deliveries.length + 1), 0, input);
        }

        const run = replay(newSaga(scenario.amountMinor), deliveries);

        expect(run.saga).toEqual(clean.saga);
        expect(multiset(run.commands)).toEqual(multiset(clean.commands));
        expect(statusEdges(run)).toEqual(statusEdges(clean));
        expect(run.anomalies.every((found) => found.severity === 'WARNING')).toBe(true);
        expectSafeHistory(newSaga(scenario.amountMinor), run);
      }),
      { numRuns },
    );
  });

  test('any shuffle of duplicated inputs never corrupts the saga and never requests a step twice', () => {
    const arbitrary = scenarioArbitrary.chain((scenario) =>
      fc.tuple(
        fc.constant(scenario),
        fc.array(fc.integer({ min: 1, max: 3 }), {
          minLength: scenario.inputs.length,
          maxLength: scenario.inputs.length,
        }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 120 }),
      ),
    );
    fc.assert(
      fc.property(arbitrary, ([scenario, copies, priorities]) => {
        const clean = cleanRun(scenario);
        const deliveries = scenario.inputs
          .flatMap((input, index) => Array.from({ length: copies[index] ?? 1 }, () => input))
          .map((input, index) => ({ input, priority: priorities[index % priorities.length] ?? 0 }))
          .sort((a, b) => a.priority - b.priority)
          .map(({ input }) => input);

        const run = replay(newSaga(scenario.amountMinor), deliveries);

        expectSafeHistory(newSaga(scenario.amountMinor), run);
        // Every applied input emits what it emitted in the clean run, and each applies once.
        expect(isSubMultiset(multiset(run.commands), multiset(clean.commands))).toBe(true);
        expect(isSubMultiset(statusEdges(run), statusEdges(clean))).toBe(true);
        expect(run.anomalies.every((found) => found.severity === 'WARNING')).toBe(true);
        if (isSubsequence(scenario.inputs, deliveries)) {
          expect(run.saga).toEqual(clean.saga);
          expect(multiset(run.commands)).toEqual(multiset(clean.commands));
        }
      }),
      { numRuns },
    );
  });
});

describe('the saga under arbitrary, even illegal, inputs', () => {
  // Outcomes the ledger would never produce (rejected compensations, conflicting transaction
  // ids, refunds out of sequence or too large) mixed with legal ones.
  const reasonArbitrary = fc.constantFrom<RejectionReason>('INSUFFICIENT_FUNDS', 'OTHER');
  const inputArbitrary: fc.Arbitrary<SagaInput> = fc.oneof(
    fc
      .record({
        step: fc.constantFrom(...paymentSteps),
        sequence: fc.integer({ min: 0, max: 3 }),
        second: fc.nat({ max: 100 }),
        variant: fc.boolean(),
      })
      .map(({ step, sequence, second, variant }) => {
        const input = posted(step, sequence, second);
        return variant ? { ...input, transactionId: `${input.transactionId}:other` } : input;
      }),
    fc
      .record({
        step: fc.constantFrom(...paymentSteps),
        sequence: fc.integer({ min: 0, max: 3 }),
        reason: reasonArbitrary,
        second: fc.nat({ max: 100 }),
      })
      .map(({ step, sequence, reason, second }) => rejected(step, reason, sequence, second)),
    fc
      .record({
        sequence: fc.integer({ min: 1, max: 4 }),
        amountMinor: fc.integer({ min: -5, max: 120 }),
        refundSequence: fc.integer({ min: 1, max: 4 }),
        second: fc.nat({ max: 100 }),
      })
      .map(({ sequence, amountMinor, refundSequence, second }) => ({
        ...refundRequested(sequence, amountMinor, second),
        refundId: refundIdOf(refundSequence),
      })),
  );

  test('invariants hold, terminal states stay, refunds never exceed the payment', () => {
    // A legal run with noise spliced in, so that the noise meets sagas in every state.
    const arbitrary = fc.tuple(
      scenarioArbitrary,
      fc.array(fc.record({ input: inputArbitrary, position: fc.nat() }), { maxLength: 20 }),
    );
    fc.assert(
      fc.property(arbitrary, ([scenario, noise]) => {
        const inputs: SagaInput[] = [...scenario.inputs];
        for (const { input, position } of noise) {
          inputs.splice(position % (inputs.length + 1), 0, input);
        }
        const start = newSaga(scenario.amountMinor);

        // transition asserts the saga invariants on every input and output, so any breach
        // throws here.
        const run = replay(start, inputs);

        let previous = start;
        for (const saga of run.history) {
          if (isTerminal(previous.state)) expect(saga).toBe(previous);
          expect(saga.refundedMinor).toBeLessThanOrEqual(saga.amountMinor);
          expect(saga.paymentId).toBe(paymentId);
          previous = saga;
        }
        const stepKeys = run.commands.map((command) => `${command.step}:${command.sequence}`);
        expect(new Set(stepKeys).size).toBe(stepKeys.length);
      }),
      { numRuns: 500 },
    );
  });
});
