// reports/bench.html from a run's figures: the header names the processes as they run, instance
// counts and overload steps appear, the steps fit the page (no table wider than the page), and
// the terminal text says the same.
import {
  benchReport,
  benchTables,
  benchText,
  coreWaitTable,
  postgresWorkTable,
  roundTripCostText,
  instanceRoles,
  otherFailures,
  processLayout,
  type BenchFigures,
  type StepFigures,
} from '../src/bench-report.js';
import { judgeOverload, judgeTargets } from '../src/bench-targets.js';
import { overloadStep } from '../src/overload.js';
import { renderHtml } from '../src/report.js';
import { SAGA_HOPS, sagaHops, type SagaMarks } from '../src/saga-hops.js';

const trend = (med: number, p95: number, p99: number) => ({
  count: 100,
  avg: med,
  min: 1,
  med,
  p90: p95,
  p95,
  p99,
  max: p99,
});

function step(targetPerS: number, completedPerS: number, cpu: Record<string, number>): StepFigures {
  return {
    step: 1,
    targetPerS,
    offered: targetPerS * 20,
    accepted: targetPerS * 20,
    refused: 0,
    failed: 0,
    failedByStatus: {},
    dropped: 0,
    acceptedPerS: targetPerS,
    completedInWindowPerS: completedPerS,
    sustainedCompletedPerS: completedPerS,
    drainS: 0.5,
    allCompleted: true,
    api: trend(12, 30, 45),
    endToEnd: trend(90, 200, 400),
    lagMax: 10,
    cpuSecondsPer1000: cpu,
  };
}

/** A payment posted at `at` whose saga hops took `hops` ms each. */
function payment(at: number, hops: readonly number[]): SagaMarks {
  const marks: SagaMarks = { postIntendedMs: at };
  SAGA_HOPS.reduce((t, hop, i) => (marks[hop.to] = t + hops[i]!), at);
  return marks;
}

function figures(instances: BenchFigures['instances']): BenchFigures {
  const cpu: Record<string, number> =
    instances.processor > 1
      ? {
          'processor/supervisor': 0.01,
          'processor/2': 0.3,
          'processor/1': 0.31,
          processor: 0.62,
          ledger: 0.35,
          postgres: 0.8,
          kafka: 0.09,
          registry: 0,
          total: 1.86,
          generator: 0.9,
        }
      : { processor: 0.54, ledger: 0.35, postgres: 0.79, kafka: 0.09, total: 1.77, generator: 1 };
  const steps = [step(250, 250, cpu), step(1_000, 873, cpu)];
  const overload = [
    overloadStep(
      {
        multiplier: 2,
        targetPerS: 1_750,
        windowS: 20,
        offered: 35_000,
        dropped: 0,
        accepted: 17_000,
        refused: 18_000,
        failed: 0,
        failedByStatus: {},
        completedInWindow: 16_000,
        acceptedFinal: 17_000,
        acceptedApiMs: [20, 40, 90],
        refusedApiMs: [1, 2, 3],
        refusedResponseMs: [1, 1, 2],
        refusedWellFormed: 18_000,
        drainS: 1,
      },
      873,
    ),
  ];
  return {
    instances,
    admission: {
      concurrencyMax: 256,
      queueMax: 1_024,
      queueWaitMsMax: 1_000,
      paymentsInFlightMax: 500,
    },
    steps,
    overload,
    verification: {
      ok: true,
      accepted: 40_000,
      completedOnce: 40_000,
      completedEventsDuplicated: 0,
      notCompleted: 0,
      processorStates: { COMPLETED: 40_500 },
      debitTransactions: 40_500,
      creditTransactions: 40_500,
      projectionMismatches: 0,
      clearingBalanceMinor: 0,
    },
    rawCeiling: { stepsPerSecond: 14_000, ratio: 0.12 },
    roundTripCost: [
      { gapMs: 0, roundTrips: 3_000, clientUs: 52, serverUs: 24 },
      { gapMs: 10, roundTrips: 300, clientUs: 274, serverUs: 88 },
    ],
    scaling: null,
    cost: null,
    targets: [...judgeTargets(steps), ...judgeOverload(overload)],
  };
}

test('the header names each process as it runs: services apart, the generator in the bench', () => {
  const single = benchReport(figures({ ledger: 1, processor: 1 }), []).subtitle;
  expect(single).toContain('the ledger in one Node process, the processor in one Node process');
  expect(single).toContain(
    "the load generator and the completion watcher in the bench's own process",
  );
  expect(single).not.toMatch(/share one process/);
  expect(processLayout({ ledger: 2, processor: 2 })).toContain(
    'the processor as 2 instances (Node processes forked by a supervisor process',
  );
});

test('instance counts, CPU by instance and overload steps appear in a run with instances', () => {
  const run = figures({ ledger: 1, processor: 2 });
  expect(instanceRoles(run.steps)).toEqual(['processor/supervisor', 'processor/1', 'processor/2']);
  const tables = benchTables(run);
  const byInstance = tables.find((t) =>
    t.title.startsWith('CPU-ms per completed payment, by instance'),
  );
  expect(byInstance?.title).toContain('ledger ×1, processor ×2');
  expect(byInstance?.rows[0]).toEqual(['250', '0.01', '0.31', '0.30']);
  const overload = tables.find((t) => t.title.startsWith('Overload steps'));
  expect(overload?.rows[0]?.slice(0, 3)).toEqual(['2×', '1750', '800.0 (92 %)']);
  const report = benchReport(run, []);
  expect(report.facts).toContainEqual(['instances per service', 'ledger ×1, processor ×2']);
  expect(report.facts).toContainEqual([
    'payments in flight, all processor instances',
    'PROCESSOR_PAYMENTS_IN_FLIGHT_MAX 500',
  ]);
  const text = benchText(run);
  expect(text).toContain(
    'instances: ledger ×1, processor ×2; admission per process: concurrency 256',
  );
  expect(text).toContain('queue wait 1000 ms; payments in flight 500');
  expect(text).toContain(
    'CPU-ms per payment by instance: target/s processor/supervisor processor/1 processor/2',
  );
  expect(text).toMatch(/overload 2× \(1750\/s offered\): goodput 800\.0 \(92 %\)\/s/);
});

test('a single-instance run has no per-instance table', () => {
  const tables = benchTables(figures({ ledger: 1, processor: 1 }));
  expect(tables.some((t) => t.title.includes('by instance'))).toBe(false);
});

test('the steps fit the page: no table has more than 10 columns, and tables are laid out to the page width', () => {
  const run = figures({ ledger: 2, processor: 2 });
  for (const table of benchTables(run)) expect(table.columns.length).toBeLessThanOrEqual(10);
  const html = renderHtml(benchReport(run, []));
  expect(html).toMatch(/table\{[^}]*width:100%/);
  // Headers wrap instead of widening the table; long cells may break.
  expect(html).toMatch(/th\{[^}]*white-space:normal/);
  expect(html).toMatch(/overflow-wrap:break-word/);
});

test('failures other than 503 are told apart by status, and what the generator dropped apart', () => {
  expect(otherFailures(0, {}, 0)).toBe('0');
  expect(otherFailures(249, { '0': 49, '429': 200 }, 0)).toBe('249 (429 ×200, no answer ×49)');
  expect(otherFailures(21, { '0 ECONNRESET': 16, '0 no answer in 30000 ms': 5 }, 0)).toBe(
    '21 (no answer: ECONNRESET ×16, no answer: no answer in 30000 ms ×5)',
  );
  expect(otherFailures(1, { '500': 1 }, 12)).toBe('1 (500 ×1); 12 dropped by the generator');
});

test('POST→COMPLETED by hop: one row per hop and one for the whole, a column per step that has a complete saga', () => {
  const run = figures({ ledger: 1, processor: 1 });
  expect(benchTables(run).some((t) => t.title.startsWith('POST→COMPLETED by hop'))).toBe(false);
  const marks = Array.from({ length: 4 }, (_, i) =>
    payment(i * 1_000, [10 + i, 40, 12, 38, 14, 2]),
  );
  run.steps[0]!.sagaHops = sagaHops(marks);
  run.steps[1]!.sagaHops = null; // e.g. no payment of that step was read with every mark
  const table = benchTables(run).find((t) => t.title.startsWith('POST→COMPLETED by hop'))!;
  expect(table.columns).toEqual(['hop', '250/s (4)']);
  expect(table.rows).toEqual([
    ['processor: POST → debit command sent', '12 / 12'],
    ['ledger: debit command → DEBIT posted, sent', '40 / 40'],
    ['processor: DEBIT posted → credit command sent', '12 / 12'],
    ['ledger: credit command → CREDIT posted, sent', '38 / 38'],
    ['processor: CREDIT posted → COMPLETED sent', '14 / 14'],
    ['Kafka: COMPLETED sent → read by the bench', '2 / 2'],
    ['POST→COMPLETED', '118 / 118'],
  ]);
  expect(benchText(run)).toMatch(/ledger: debit command → DEBIT posted, sent\s+40 \/ 40/);
});

test('the round trip cost appears in the text and the report, with how much waking adds', () => {
  const run = figures({ ledger: 1, processor: 1 });
  const expected = 'back to back 52.0 + 24.0; 10 ms apart 274.0 + 88.0 (4.8× back to back)';
  expect(roundTripCostText(run)).toBe(expected);
  expect(benchText(run)).toContain(`PostgreSQL round trip, CPU µs client + server: ${expected}`);
  expect(benchReport(run, []).facts).toContainEqual([
    'PostgreSQL round trip, CPU µs client + server',
    expected,
  ]);
  // A run without the measurement (older figures) leaves the line out.
  expect(benchText({ ...run, roundTripCost: [] })).not.toContain('PostgreSQL round trip');
});

test('waiting for a core: a row per capacity and overload step that measured it, in the text too', () => {
  const run = figures({ ledger: 1, processor: 1 });
  // A run before it was measured has no such table.
  expect(coreWaitTable(run)).toBeNull();
  expect(benchText(run)).not.toContain('Waiting for a core');
  const scheduling = {
    coreWaitPerS: {
      processor: 0.5,
      ledger: 0.6,
      postgres: 0.4,
      kafka: 0.1,
      registry: 0,
      total: 1.6,
      generator: 0.3,
    },
    generatorLoopDelayMs: { p50: 1.4, p99: 14.1, max: 55.6 },
  };
  run.steps[1]!.scheduling = scheduling;
  run.overload[0] = { ...run.overload[0]!, scheduling };
  const table = coreWaitTable(run)!;
  expect(table.columns).toEqual([
    'offered',
    'processor',
    'ledger',
    'PostgreSQL',
    'Kafka',
    'registry',
    'platform total',
    'load generator',
    'generator loop delay ms p50 / p99 / max',
  ]);
  expect(table.rows).toEqual([
    ['1000/s', '0.50', '0.60', '0.40', '0.10', '0.00', '1.60', '0.30', '1.4 / 14.1 / 55.6'],
    ['2× (1750/s)', '0.50', '0.60', '0.40', '0.10', '0.00', '1.60', '0.30', '1.4 / 14.1 / 55.6'],
  ]);
  expect(benchTables(run)).toContainEqual(table);
  expect(benchText(run)).toContain(
    '  2× (1750/s) | 0.50 | 0.60 | 0.40 | 0.10 | 0.00 | 1.60 | 0.30 | 1.4 / 14.1 / 55.6',
  );
});

test('PostgreSQL’s work: a row per capacity step that read it, in the report and the text', () => {
  const run = figures({ ledger: 1, processor: 1 });
  // A run before it was measured, or a step PostgreSQL could not say for, has no row.
  expect(postgresWorkTable(run.steps)).toBeNull();
  expect(benchText(run)).not.toContain('PostgreSQL’s work');
  run.steps[0]!.postgresWork = { walBytesPerPayment: 13_946.4, writeTransactionsPerPayment: 3.571 };
  run.steps[1]!.postgresWork = null;
  const table = postgresWorkTable(run.steps)!;
  expect(table.columns).toEqual(['offered /s', 'WAL bytes', 'write transactions']);
  expect(table.rows).toEqual([[String(run.steps[0]!.targetPerS), '13,946', '3.57']]);
  expect(benchTables(run)).toContainEqual(table);
  expect(benchText(run)).toContain(`  ${run.steps[0]!.targetPerS} | 13,946 | 3.57`);
});
