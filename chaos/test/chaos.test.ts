// The short variant of every chaos scenario (seconds each), back to back on one stack of the
// suite's own (it kills Kafka and PostgreSQL, so never the shared one), the four services as OS
// processes under a steady payment load with refunds and rejections. After each scenario every
// invariant is checked; a broken one fails this test naming the check and the seed that
// reproduces it (CHAOS_SEED=<seed> reruns the same schedule).
import { runChaos, type ChaosResult } from '../src/run.js';
import { writeChaosReport } from '../src/report.js';
import { parseSeed } from '../src/random.js';
import { ALL_SCENARIOS } from '../src/schedule.js';

const seed = parseSeed(
  process.env['CHAOS_SEED'] ?? String(Math.floor(Math.random() * 0xffff_ffff)),
);
let result: ChaosResult;

beforeAll(async () => {
  result = await runChaos({
    seed,
    scenarios: ALL_SCENARIOS,
    durationMs: ALL_SCENARIOS.length * 8_000,
    ratePerS: 8,
    short: true,
    registryOutageMs: 4_000,
    log: (line) => process.stderr.write(`[chaos seed ${seed}] ${line}\n`),
  });
  await writeChaosReport(result, 'chaos-short');
}, 900_000);

/** The failures of one scenario, with the seed, as the assertion message. */
function failures(scenario: string): string[] {
  const found = result.scenarios.find((s) => s.scenario === scenario);
  if (found === undefined) return [`scenario ${scenario} did not run (seed ${seed})`];
  return found.verdict.checks
    .filter((c) => !c.ok)
    .map((c) => `seed ${seed}: ${scenario}: ${c.name}: ${c.detail}`);
}

test.each(ALL_SCENARIOS.map((s) => [s]))(
  'after %s every accepted payment is terminal once, nothing is doubled, the books, replay, trail, reconciliation and dead letters hold',
  (scenario) => {
    expect(failures(scenario)).toEqual([]);
  },
);

test('the run injected every fault kind and moved real money under it', () => {
  const kinds = new Set(result.scenarios.flatMap((s) => s.faults.map((f) => f.kind)));
  expect([...kinds].sort()).toEqual(
    [
      'duplicate-delivery',
      'kill-kafka',
      'kill-service',
      'pause-consumer',
      'poison-messages',
      'restart-postgres',
      'stop-registry',
    ].sort(),
  );
  const killed = new Set(
    result.scenarios.flatMap((s) =>
      s.faults.filter((f) => f.kind === 'kill-service').map((f) => f.target),
    ),
  );
  expect([...killed].sort()).toEqual(['audit', 'ledger', 'processor', 'reconciliation']);
  const last = result.scenarios.at(-1);
  expect(last?.verdict.lost).toBe(0);
  expect(last?.verdict.duplicated).toBe(0);
  const accepted = result.scenarios.reduce((n, s) => n + s.load.paymentsAccepted, 0);
  expect(accepted).toBeGreaterThan(100);
  expect(last?.load.completed ?? 0).toBeGreaterThan(50);
  // 4 kinds of poison on each of the 10 consumed topics, each dead-lettered where it must be.
  expect(last?.verdict.deadLetteredByReason['unexpected'] ?? 0).toBe(0);
  expect(last?.verdict.deadLetteredByReason['raw-bytes'] ?? 0).toBeGreaterThanOrEqual(10);
});
