// The issue-17 targets judged from a run's steps: which step each target is judged on, and met
// or not met with the boundary on the right side.
import { judgeTargets, type StepForTargets } from '../src/bench-targets.js';

function step(targetPerS: number, completed: number, overrides: Partial<StepForTargets> = {}) {
  return {
    targetPerS,
    sustainedCompletedPerS: completed,
    allCompleted: true,
    api: { p99: 40 },
    endToEnd: { med: 90, p99: 400 },
    cpuSecondsPer1000: { total: 0.7 },
    ...overrides,
  } satisfies StepForTargets;
}

const metByName = (verdicts: ReturnType<typeof judgeTargets>) =>
  verdicts.map((v) => `${v.name} @ ${v.at}: ${v.met ? 'met' : 'NOT met'}`);

test('a run that meets every target says so, each judged on its step', () => {
  const verdicts = judgeTargets([
    step(250, 250, { cpuSecondsPer1000: { total: 1.4 } }),
    step(1_000, 1_000, { api: { p99: 45 } }),
    step(2_000, 1_700),
  ]);
  expect(metByName(verdicts)).toEqual([
    'completed payments/s @ best step (2000/s offered): met',
    'platform CPU per payment @ best step (2000/s offered): met',
    'platform CPU per payment @ 250/s: met',
    'API p99 @ 1000/s (min of 1,000/s and 60 % of capacity = 1000/s): met',
    'POST→COMPLETED p50 @ 250/s: met',
    'POST→COMPLETED p99 @ 250/s: met',
  ]);
  expect(verdicts[3]!.measured).toBe(45);
});

test('latency is judged at 60 % of capacity when that is below 1,000/s', () => {
  const verdicts = judgeTargets([
    step(250, 250, { api: { p99: 30 } }),
    step(500, 400, { api: { p99: 900 } }),
    step(1_000, 450, { api: { p99: 30_000 } }),
  ]);
  const api = verdicts.find((v) => v.name === 'API p99')!;
  expect(api).toMatchObject({
    at: '250/s (min of 1,000/s and 60 % of capacity = 270/s)',
    measured: 30,
    met: true,
  });
  expect(verdicts[0]).toMatchObject({ measured: 450, met: false });
});

test('boundaries: 1,500/s, 0.8 and 1.5 CPU-ms are met; 50 ms, 100 ms and 500 ms are not', () => {
  const atLimits = judgeTargets([
    step(250, 250, { cpuSecondsPer1000: { total: 1.5 }, endToEnd: { med: 100, p99: 500 } }),
    step(3_000, 1_500, { cpuSecondsPer1000: { total: 0.8 } }),
  ]);
  expect(metByName(atLimits)).toEqual([
    'completed payments/s @ best step (3000/s offered): met',
    'platform CPU per payment @ best step (3000/s offered): met',
    'platform CPU per payment @ 250/s: met',
    'API p99 @ 250/s (min of 1,000/s and 60 % of capacity = 900/s): met',
    'POST→COMPLETED p50 @ 250/s: NOT met',
    'POST→COMPLETED p99 @ 250/s: NOT met',
  ]);
  const apiAtLimit = judgeTargets([step(1_000, 1_000, { api: { p99: 50 } }), step(2_000, 1_800)]);
  expect(apiAtLimit.find((v) => v.name === 'API p99')).toMatchObject({ measured: 50, met: false });
});

test('a run in which no step completed meets nothing', () => {
  const verdicts = judgeTargets([step(250, 100, { allCompleted: false })]);
  expect(verdicts.filter((v) => v.met)).toEqual([]);
  expect(verdicts[0]).toMatchObject({ measured: null, at: 'no step completed' });
});
