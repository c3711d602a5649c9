// The fault schedule is a pure function of scenario, seed and window: the same --seed injects
// the same faults at the same offsets, faults never overlap, each is healed inside the load
// window, a paused consumer outlives its session timeout, and bad arguments are refused.
import fc from 'fast-check';
import { createRandom, parseSeed, SEED_MAX } from '../src/random.js';
import {
  parseDurationMs,
  parseScenarios,
  planScenario,
  SCENARIOS,
  SERVICES,
  type ScheduleSettings,
} from '../src/schedule.js';

const FULL: ScheduleSettings = {
  loadMs: 10 * 60_000,
  sessionTimeoutMs: 10_000,
  registryOutageMs: 30_000,
  short: false,
};
const SHORT: ScheduleSettings = { ...FULL, loadMs: 20_000, registryOutageMs: 5_000, short: true };

test('the same seed gives the same fault schedule, another seed another one', () => {
  for (const scenario of SCENARIOS) {
    expect(planScenario(scenario, 42, FULL)).toEqual(planScenario(scenario, 42, FULL));
  }
  const a = JSON.stringify(SCENARIOS.map((s) => planScenario(s, 1, FULL)));
  const b = JSON.stringify(SCENARIOS.map((s) => planScenario(s, 2, FULL)));
  expect(a).not.toBe(b);
});

test('faults land inside the load window, healed before it ends, and never overlap', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: SEED_MAX }),
      fc.constantFrom(...SCENARIOS),
      fc.integer({ min: 20_000, max: 3_600_000 }),
      fc.boolean(),
      (seed, scenario, loadMs, short) => {
        const settings = { ...FULL, loadMs, short };
        const plan = planScenario(scenario, seed, settings);
        expect(plan.length).toBeGreaterThan(0);
        const sorted = [...plan].sort((x, y) => x.atMs - y.atMs);
        for (const [i, fault] of sorted.entries()) {
          expect(fault.atMs).toBeGreaterThanOrEqual(0);
          const next = sorted[i + 1];
          // A hold longer than its slot starts at the slot's start and may run over; otherwise
          // it is healed before the next fault begins.
          if (next !== undefined && fault.holdMs < (loadMs * 0.7) / plan.length) {
            expect(fault.atMs + fault.holdMs).toBeLessThanOrEqual(next.atMs + 1);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('service kills hit every service several times in a full run, once each in the short one', () => {
  const full = planScenario('service-kills', 7, FULL);
  const short = planScenario('service-kills', 7, SHORT);
  for (const service of SERVICES) {
    expect(full.filter((f) => f.target === service).length).toBeGreaterThanOrEqual(2);
    expect(short.filter((f) => f.target === service)).toHaveLength(1);
  }
  expect(full.every((f) => f.kind === 'kill-service')).toBe(true);
});

test('a paused consumer stays stopped longer than its session timeout', () => {
  for (const settings of [FULL, SHORT]) {
    for (const fault of planScenario('zombie-consumer', 3, settings)) {
      expect(fault.kind).toBe('pause-consumer');
      expect(fault.holdMs).toBeGreaterThan(settings.sessionTimeoutMs);
    }
  }
});

test('the registry stays down as long as asked', () => {
  const plan = planScenario('registry-outage', 9, FULL);
  expect(plan.every((f) => f.kind === 'stop-registry' && f.holdMs === 30_000)).toBe(true);
});

test('the generator is uniform enough and stays in range', () => {
  const random = createRandom(123);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 40_000; i += 1) {
    const n = random.int(0, 3);
    counts[n] = (counts[n] ?? 0) + 1;
  }
  for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  expect(createRandom(5).fork('a').next()).toBe(createRandom(5).fork('a').next());
  expect(createRandom(5).fork('a').next()).not.toBe(createRandom(5).fork('b').next());
});

test('bad arguments are refused naming what is wrong', () => {
  expect(() => parseSeed('-1')).toThrow(/--seed/);
  expect(() => parseSeed('4294967296')).toThrow(/--seed/);
  expect(() => parseSeed('abc')).toThrow(/--seed/);
  expect(parseSeed('4294967295')).toBe(SEED_MAX);
  expect(parseDurationMs('10m')).toBe(600_000);
  expect(parseDurationMs('90s')).toBe(90_000);
  expect(parseDurationMs('45')).toBe(45_000);
  expect(() => parseDurationMs('0s')).toThrow(/between 1 s and 24 h/);
  expect(() => parseDurationMs('ten minutes')).toThrow(/--duration/);
  expect(parseScenarios('all')).toEqual([...SCENARIOS]);
  expect(() => parseScenarios('service-kills,meteor-strike')).toThrow(/meteor-strike/);
});
