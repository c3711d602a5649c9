// The overload steps' arithmetic: which rates are offered past capacity, what a step reports
// (goodput against the peak, refusals and their latency apart, lost payments), and how the
// issue-17 overload targets are judged on it.
import { judgeOverload } from '../src/bench-targets.js';
import {
  overloadRates,
  overloadStep,
  parseOverloadMultipliers,
  type OverloadObservations,
} from '../src/overload.js';

describe('BENCH_OVERLOAD', () => {
  test('2× and 5× unless told otherwise; 0 or none turns the steps off', () => {
    expect(parseOverloadMultipliers(undefined)).toEqual([2, 5]);
    expect(parseOverloadMultipliers('1.5, 3')).toEqual([1.5, 3]);
    expect(parseOverloadMultipliers('0')).toEqual([]);
    expect(parseOverloadMultipliers('none')).toEqual([]);
  });

  test.each(['1', '0.5', 'x', '21'])('refuses %s (not above capacity, or absurd)', (text) => {
    expect(() => parseOverloadMultipliers(text)).toThrow(/not a multiple of capacity/);
  });
});

test('overload rates are multiples of the measured capacity, rounded to 10/s from 100/s', () => {
  expect(overloadRates(873.4, [2, 5])).toEqual([
    { multiplier: 2, targetPerS: 1_750 },
    { multiplier: 5, targetPerS: 4_370 },
  ]);
  expect(overloadRates(12.2, [2])).toEqual([{ multiplier: 2, targetPerS: 24 }]);
  // No capacity measured (no step completed): no overload step.
  expect(overloadRates(null, [2, 5])).toEqual([]);
  expect(overloadRates(0, [2])).toEqual([]);
});

function observations(overrides: Partial<OverloadObservations> = {}): OverloadObservations {
  return {
    multiplier: 2,
    targetPerS: 2_000,
    windowS: 20,
    offered: 40_000,
    dropped: 0,
    accepted: 19_000,
    refused: 20_900,
    failed: 100,
    failedByStatus: { '0': 100 },
    completedInWindow: 18_000,
    acceptedFinal: 19_000,
    acceptedApiMs: [10, 20, 30, 40, 200],
    refusedApiMs: [1, 2, 3, 4, 5],
    refusedResponseMs: [0.5, 1, 1, 2, 3],
    refusedWellFormed: 20_900,
    drainS: 0.4,
    ...overrides,
  };
}

describe('an overload step', () => {
  test('reports goodput against the peak, accepted and refused per second, latencies apart', () => {
    const step = overloadStep(observations(), 1_000);
    expect(step.offeredPerS).toBe(2_000);
    expect(step.goodputPerS).toBe(900);
    expect(step.goodputOfPeak).toBeCloseTo(0.9);
    expect(step.acceptedPerS).toBe(950);
    expect(step.refusedPerS).toBe(1_045);
    expect(step.acceptedApi.med).toBe(30);
    expect(step.refusedApi.med).toBe(3);
    expect(step.refusedResponse.max).toBe(3);
    expect(step.refusalsWellFormed).toBe(1);
    expect(step.lost).toBe(0);
  });

  test('an accepted payment that never reached a final state is counted lost', () => {
    expect(overloadStep(observations({ acceptedFinal: 18_997 }), 1_000).lost).toBe(3);
  });

  test('without refusals or a peak, the ratios are not made up', () => {
    const step = overloadStep(
      observations({ refused: 0, refusedApiMs: [], refusedResponseMs: [], refusedWellFormed: 0 }),
      null,
    );
    expect(step.goodputOfPeak).toBeNull();
    expect(step.refusalsWellFormed).toBeNull();
    expect(step.refusedResponse.p99).toBeNull();
  });
});

describe('issue 17 overload targets', () => {
  const verdicts = (overrides: Partial<OverloadObservations>, peak = 1_000) =>
    judgeOverload([overloadStep(observations(overrides), peak)]).map(
      (v) => `${v.name}: ${v.met ? 'met' : 'NOT met'}`,
    );

  test('goodput at 90 % of peak, fast well-formed refusals, accepted p99 < 250 ms, none lost: all met', () => {
    expect(verdicts({})).toEqual([
      'overload goodput of peak: met',
      'overload refusal (503) p99: met',
      'overload refusals as problem+json with Retry-After: met',
      'overload accepted API p99: met',
      'overload accepted payments lost: met',
    ]);
  });

  test('each target fails on its own side of the boundary', () => {
    expect(verdicts({ completedInWindow: 17_999 })[0]).toBe('overload goodput of peak: NOT met');
    expect(verdicts({ refusedResponseMs: [1, 2, 11, 12, 13] })[1]).toBe(
      'overload refusal (503) p99: NOT met',
    );
    expect(verdicts({ refusedWellFormed: 20_899 })[2]).toBe(
      'overload refusals as problem+json with Retry-After: NOT met',
    );
    expect(verdicts({ acceptedApiMs: [250, 250, 250] })[3]).toBe(
      'overload accepted API p99: NOT met',
    );
    expect(verdicts({ acceptedFinal: 18_999 })[4]).toBe('overload accepted payments lost: NOT met');
  });

  test('a step that refused nothing has not shown admission control: not measured, not met', () => {
    const judged = judgeOverload([
      overloadStep(
        observations({ refused: 0, refusedApiMs: [], refusedResponseMs: [], refusedWellFormed: 0 }),
        1_000,
      ),
    ]);
    expect(judged[1]).toMatchObject({ measured: null, met: false });
    expect(judged[1]?.at).toMatch(/nothing refused/);
  });
});
