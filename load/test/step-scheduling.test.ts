// What a step shares with the machine: threads waiting for a core by role, and the generator's
// own loop delay beyond its timer's period.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  LOOP_DELAY_RESOLUTION_MS,
  loopDelayText,
  schedulingLine,
  stepScheduling,
  type LoopDelayHistogram,
} from '../src/step-scheduling.js';

/** A histogram whose intervals (ns) are these, as perf_hooks would report them. */
function histogram(intervalsMs: readonly number[]): LoopDelayHistogram {
  const sorted = [...intervalsMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    max: (sorted[sorted.length - 1] ?? 0) * 1e6,
    percentile: (p) => (sorted[Math.ceil((p / 100) * sorted.length) - 1] ?? 0) * 1e6,
  };
}

test('seconds waited per second of the window, by role, with service sums and the platform total', () => {
  const s = stepScheduling(
    { processor: 10, ledger: 20, postgres: 5, kafka: 1, generator: 3 },
    { processor: 12, ledger: 21, postgres: 9, kafka: 1.5, generator: 7 },
    4,
    histogram([2, 2, 2, 3]),
    'generator',
  );
  expect(s.coreWaitPerS).toEqual({
    processor: 0.5,
    ledger: 0.25,
    postgres: 1,
    kafka: 0.125,
    generator: 1,
    total: 1.875,
  });
  const instances = stepScheduling(
    { 'processor/1': 0, 'processor/2': 0, 'processor/supervisor': 0, generator: 0 },
    { 'processor/1': 1, 'processor/2': 3, 'processor/supervisor': 0, generator: 2 },
    2,
    histogram([2]),
    'generator',
  );
  expect(instances.coreWaitPerS).toMatchObject({ processor: 2, total: 2, generator: 1 });
  expect(() => stepScheduling({}, {}, 0, histogram([2]), 'generator')).toThrow(RangeError);
});

test('the loop delay is what the timer ran late beyond its period, never negative', () => {
  const r = LOOP_DELAY_RESOLUTION_MS;
  const intervals = [...Array<number>(98).fill(r + 1), r + 20, r + 55.6];
  const s = stepScheduling({}, {}, 1, histogram(intervals), 'generator');
  expect(s.generatorLoopDelayMs).toEqual({ p50: 1, p99: 20, max: expect.closeTo(55.6, 6) });
  // A timer that ran early (or exactly on time) is no delay.
  expect(stepScheduling({}, {}, 1, histogram([r - 0.5]), 'g').generatorLoopDelayMs.max).toBe(0);
  // Nothing recorded (a window shorter than the period): no delay rather than NaN.
  expect(stepScheduling({}, {}, 1, histogram([]), 'g').generatorLoopDelayMs).toEqual({
    p50: 0,
    p99: 0,
    max: 0,
  });
  expect(loopDelayText({ p50: 1.42, p99: 14.1, max: 1_471.2 })).toBe('1.4 / 14.1 / 1,471');
});

test('a loop blocked for 60 ms shows as a delay of about that much', async () => {
  const h = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
  h.enable();
  await sleep(50);
  const until = performance.now() + 60;
  while (performance.now() < until) {
    // hold the loop
  }
  await sleep(50);
  h.disable();
  const s = stepScheduling({}, {}, 0.16, h, 'generator');
  expect(s.generatorLoopDelayMs.max).toBeGreaterThanOrEqual(55);
  expect(s.generatorLoopDelayMs.p50).toBeLessThan(s.generatorLoopDelayMs.max);
});

test('one line: the platform by role in the bench’s order, summed per service, then the generator', () => {
  const line = schedulingLine(
    {
      coreWaitPerS: {
        kafka: 0.16,
        'ledger/1': 0.3,
        'ledger/2': 0.3,
        'ledger/supervisor': 0,
        ledger: 0.6,
        processor: 0.55,
        postgres: 0.5,
        registry: 0,
        total: 1.81,
        generator: 0.41,
      },
      generatorLoopDelayMs: { p50: 1.4, p99: 14.1, max: 55.6 },
    },
    'generator',
  );
  expect(line).toBe(
    'waiting for a core, threads: processor 0.55, ledger 0.60, postgres 0.50, kafka 0.16, registry 0.00 = platform 1.81, generator 0.41; generator loop delay p50 / p99 / max 1.4 / 14.1 / 55.6 ms',
  );
});
