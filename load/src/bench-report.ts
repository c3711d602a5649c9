// What `npm run bench` prints and the report it writes (reports/bench.html), from the run's
// figures alone: pure, so a test can render a run's report and read it back.
import {
  BENCH_SERVICES,
  coresByService,
  isSingleInstance,
  layoutLabel,
  type InstanceLayout,
} from './bench-instances.js';
import type { AdmissionLimits } from '@ledgerline/platform/http/admission';
import type { TargetVerdict } from './bench-targets.js';
import type { CostModel, ScalingComparison } from './cost-model.js';
import { percentile, type TrendSummary } from './metrics.js';
import type { OverloadStep } from './overload.js';
import type { PostgresWork } from './postgres-work.js';
import type { RoundTripCost } from './round-trip-cost.js';
import { SAGA_HOPS, type SagaHopFigures } from './saga-hops.js';
import { loopDelayText, type StepScheduling } from './step-scheduling.js';
import { formatNumber, type Chart, type ReportInput, type Table } from './report.js';

/** The CPU role of the bench process: it generates the load, it is not part of the platform. */
export const GENERATOR_ROLE = 'generator';

/** CPU columns of the table and the report; `total` is the platform (all but the generator). */
const CPU_COLUMNS = [
  { role: 'processor', label: 'processor' },
  { role: 'ledger', label: 'ledger' },
  { role: 'postgres', label: 'PostgreSQL' },
  { role: 'kafka', label: 'Kafka' },
  { role: 'registry', label: 'registry' },
  { role: 'total', label: 'platform total' },
  { role: GENERATOR_ROLE, label: 'load generator' },
] as const;

export interface StepFigures {
  step: number;
  targetPerS: number;
  offered: number;
  accepted: number;
  /** Answered 503 by admission control (nothing done). */
  refused: number;
  /** Any other non-202 answer, a reset or a client time-out. */
  failed: number;
  /** The failed answers by HTTP status; 0 = no answer (reset, refused connection, time-out). */
  failedByStatus: Record<string, number>;
  dropped: number;
  acceptedPerS: number;
  completedInWindowPerS: number;
  /** Accepted payments of the step / (time from step start until the last one completed). */
  sustainedCompletedPerS: number;
  drainS: number;
  allCompleted: boolean;
  api: TrendSummary;
  endToEnd: TrendSummary;
  lagMax: number | null;
  /** CPU-seconds per 1,000 payments (= CPU-ms per payment) by role; see bench-instances.ts. */
  cpuSecondsPer1000: Record<string, number>;
  /** PostgreSQL's WAL and write transactions per payment (absent from older runs; null: not read). */
  postgresWork?: PostgresWork | null;
  /** Where POST→COMPLETED went, hop by hop (read after the run; null: no complete saga). */
  sagaHops?: SagaHopFigures | null;
  /** Waiting for a core over the load window (absent from runs before it was measured). */
  scheduling?: StepScheduling;
}

export interface Verification {
  ok: boolean;
  accepted: number;
  completedOnce: number;
  completedEventsDuplicated: number;
  notCompleted: number;
  processorStates: Record<string, number>;
  debitTransactions: number;
  creditTransactions: number;
  projectionMismatches: number;
  clearingBalanceMinor: number | null;
}

export interface BenchFigures {
  instances: InstanceLayout;
  /**
   * Admission control of each service process (HTTP_CONCURRENCY_MAX, HTTP_QUEUE_MAX, …) and the
   * processor's bound on payments in flight (PROCESSOR_PAYMENTS_IN_FLIGHT_MAX, all instances).
   */
  admission: AdmissionLimits & { paymentsInFlightMax: number };
  steps: StepFigures[];
  overload: OverloadStep[];
  verification: Verification;
  rawCeiling: { stepsPerSecond: number; ratio: number | null };
  /** CPU of one PostgreSQL round trip at each pause between round trips (round-trip-cost.ts). */
  roundTripCost: readonly RoundTripCost[];
  scaling: ScalingComparison | null;
  cost: CostModel | null;
  targets: TargetVerdict[];
}

/** One second of the run, for the charts. */
export interface TimelineSecond {
  tS: number;
  offered: number;
  accepted: number;
  refused: number;
  completed: number;
  /** API latencies of the responses received in this second, ms. */
  apiMs: number[];
  lag: number | null;
  /** Cores busy per CPU role. */
  cores: Record<string, number>;
}

const trend = (t: Pick<TrendSummary, 'med' | 'p95' | 'p99'>): string =>
  `${formatNumber(t.med)} / ${formatNumber(t.p95)} / ${formatNumber(t.p99)}`;
const trend2 = (t: Pick<TrendSummary, 'med' | 'p99'>): string =>
  `${formatNumber(t.med)} / ${formatNumber(t.p99)}`;

/** Roles of the processes behind each service in a run with instances, in table order. */
export function instanceRoles(steps: readonly StepFigures[]): string[] {
  const roles = new Set(steps.flatMap((s) => Object.keys(s.cpuSecondsPer1000)));
  return BENCH_SERVICES.flatMap((service) =>
    [...roles]
      .filter((r) => r.startsWith(`${service}/`))
      .sort((a, b) => {
        // The supervisor first, then the instances by number.
        const rank = (r: string) => (r.endsWith('/supervisor') ? 0 : Number(r.split('/')[1]));
        return rank(a) - rank(b);
      }),
  );
}

/**
 * Requests neither accepted nor refused with 503, by what happened to them:
 * `249 (429 ×200, no answer: ECONNRESET ×49)` (a request with no answer is counted under
 * `0 <why>`, or `0` alone), plus arrivals the generator dropped (its in-flight bound).
 */
export function otherFailures(
  failed: number,
  byStatus: Readonly<Record<string, number>>,
  dropped: number,
): string {
  const statuses = Object.entries(byStatus)
    .sort(([, a], [, b]) => b - a)
    .map(([status, n]) => `${noAnswerLabel(status) ?? status} ×${n}`);
  const answers = failed === 0 ? '0' : `${failed} (${statuses.join(', ')})`;
  return dropped === 0 ? answers : `${answers}; ${dropped} dropped by the generator`;
}

/** `no answer` or `no answer: <why>` for a status of 0 (runner.ts's `noAnswer`). */
function noAnswerLabel(status: string): string | undefined {
  if (status === '0') return 'no answer';
  return status.startsWith('0 ') ? `no answer: ${status.slice(2)}` : undefined;
}

/** Goodput of an overload step as `1,234 (91 %)`. */
function goodput(s: OverloadStep): string {
  return `${formatNumber(s.goodputPerS)}${s.goodputOfPeak === null ? '' : ` (${formatNumber(s.goodputOfPeak * 100, 0)} %)`}`;
}

export function benchTables(figures: BenchFigures): Table[] {
  const tables: Table[] = [
    {
      title: 'Targets (issue 17)',
      columns: ['target', 'goal', 'measured', 'judged at', 'verdict'],
      rows: figures.targets.map((t) => [
        t.name,
        `${t.target} ${t.unit}`.trim(),
        t.measured === null ? 'not measured' : `${formatNumber(t.measured)} ${t.unit}`.trim(),
        t.at,
        t.met ? 'met' : 'NOT met',
      ]),
    },
    {
      title: 'Capacity steps',
      columns: [
        'offered /s',
        'accepted /s',
        'refused (503)',
        'other failures',
        'completed /s',
        'API ms p50 / p95 / p99',
        'POST→COMPLETED ms p50 / p95 / p99',
        'lag max',
        'drain s',
      ],
      rows: figures.steps.map((s) => [
        String(s.targetPerS),
        s.acceptedPerS,
        String(s.refused),
        otherFailures(s.failed, s.failedByStatus, s.dropped),
        s.sustainedCompletedPerS,
        trend(s.api),
        trend(s.endToEnd),
        s.lagMax,
        s.drainS,
      ]),
    },
    {
      title: 'CPU-ms per completed payment, by process',
      columns: ['offered /s', ...CPU_COLUMNS.map((c) => c.label)],
      rows: figures.steps.map((s) => [
        String(s.targetPerS),
        ...CPU_COLUMNS.map((c) => formatNumber(s.cpuSecondsPer1000[c.role], 2)),
      ]),
    },
  ];
  const hops = sagaHopTable(figures.steps);
  if (hops !== null) tables.push(hops);
  const postgresWork = postgresWorkTable(figures.steps);
  if (postgresWork !== null) tables.push(postgresWork);
  const perInstance = instanceRoles(figures.steps);
  if (perInstance.length > 0) {
    tables.push({
      title: `CPU-ms per completed payment, by instance (${layoutLabel(figures.instances)}: a supervisor forks the instances, Node cluster)`,
      columns: ['offered /s', ...perInstance],
      rows: figures.steps.map((s) => [
        String(s.targetPerS),
        ...perInstance.map((r) => formatNumber(s.cpuSecondsPer1000[r], 2)),
      ]),
    });
  }
  if (figures.overload.length > 0) {
    tables.push({
      title: 'Overload steps (multiples of the best completed/s)',
      columns: [
        'load',
        'offered /s',
        'goodput /s (of peak)',
        'accepted /s',
        'refused /s (503)',
        'other failures',
        'accepted API ms p50 / p99',
        'refused ms p50 / p99',
        'refusal response ms p99',
        'accepted, not final',
      ],
      rows: figures.overload.map((s) => [
        `${s.multiplier}×`,
        String(s.targetPerS),
        goodput(s),
        s.acceptedPerS,
        s.refusedPerS,
        otherFailures(s.failed, s.failedByStatus, s.dropped),
        trend2(s.acceptedApi),
        trend2(s.refusedApi),
        formatNumber(s.refusedResponse.p99),
        String(s.lost),
      ]),
    });
  }
  const waits = coreWaitTable(figures);
  if (waits !== null) tables.push(waits);
  if (figures.scaling !== null) {
    const c = figures.scaling;
    tables.push({
      title: `1 vs 2 instances per service (same machine; ${c.multi.layout})`,
      columns: ['', 'one instance each', c.multi.layout, 'ratio'],
      rows: [
        [
          `platform CPU-ms per payment at ${c.atPerS}/s`,
          formatNumber(c.cpuMsSingle, 3),
          formatNumber(c.cpuMsMulti, 3),
          `efficiency ${formatNumber(c.cpuEfficiency, 2)}`,
        ],
        [
          'best completed /s',
          c.capacitySingle,
          c.capacityMulti,
          `× ${formatNumber(c.capacityRatio, 2)}`,
        ],
        [
          'run',
          `${c.single.at} ${c.single.commit ?? ''}`,
          `${c.multi.at} ${c.multi.commit ?? ''}`,
          '',
        ],
      ],
    });
  }
  if (figures.cost !== null) {
    tables.push({
      title: `Cost per sustained payment/s (measured CPU × configured prices, load/pricing.json)`,
      columns: [
        'instance',
        'vCPU',
        `price/h (${figures.cost.currency})`,
        'payments/s per instance',
        'per payment/s per month',
        'instances for 5,000/s',
      ],
      rows: figures.cost.rows.map((r) => [
        r.instance,
        String(r.vcpu),
        r.pricePerHour.toFixed(4),
        r.paymentsPerSecondPerInstance,
        r.costPerTpsMonth.toFixed(2),
        String(r.instancesFor5000Tps),
      ]),
    });
  }
  return tables;
}

/** How the processes of this run are laid out, as the report's header says it. */
export function processLayout(layout: InstanceLayout): string {
  const service = (name: 'ledger' | 'processor') =>
    layout[name] === 1
      ? `the ${name} in one Node process`
      : `the ${name} as ${layout[name]} instances (Node processes forked by a supervisor process, sharing the HTTP port)`;
  return `${service('ledger')}, ${service('processor')}, each started from services/<name>/src/main.ts; the load generator and the completion watcher in the bench's own process; PostgreSQL, Kafka and the registry of the local stack`;
}

export function benchReport(
  figures: BenchFigures,
  timeline: readonly TimelineSecond[],
): ReportInput {
  const unmet = figures.targets.filter((t) => !t.met);
  const serviceCores = timeline.map((b) => coresByService(b.cores));
  const roles = [...new Set(serviceCores.flatMap((c) => Object.keys(c)))];
  const charts: Chart[] = [
    {
      title: 'Throughput',
      yUnit: 'payments/s',
      xLabel: 'seconds since start',
      series: [
        { name: 'offered', points: timeline.map((b) => [b.tS, b.offered]) },
        { name: 'accepted (202)', points: timeline.map((b) => [b.tS, b.accepted]) },
        { name: 'COMPLETED', points: timeline.map((b) => [b.tS, b.completed]) },
        { name: 'refused (503)', points: timeline.map((b) => [b.tS, b.refused]) },
      ],
      marker: { y: 1_500, label: 'target 1,500/s' },
    },
    {
      title: 'API latency (POST /v1/payments, from the intended send time)',
      yUnit: 'ms',
      xLabel: 'seconds since start',
      series: [50, 95, 99].map((p) => ({
        name: `p${p}`,
        points: timeline.map(
          (b) => [b.tS, percentile(Float64Array.from(b.apiMs).sort(), p)] as const,
        ),
      })),
      marker: { y: 50, label: 'p99 target 50 ms' },
    },
    {
      title: 'Consumer lag (ledger.commands + processor inputs)',
      yUnit: 'messages',
      xLabel: 'seconds since start',
      series: [{ name: 'lag', points: timeline.map((b) => [b.tS, b.lag]) }],
    },
    {
      title: 'CPU (each service: all its processes)',
      yUnit: 'cores busy',
      xLabel: 'seconds since start',
      series: roles.map((role) => ({
        name: role === GENERATOR_ROLE ? 'load generator' : role,
        points: timeline.map((b, i) => [b.tS, serviceCores[i]?.[role] ?? null] as const),
      })),
    },
  ];
  const v = figures.verification;
  const best = figures.steps
    .filter((s) => s.allCompleted)
    .reduce<StepFigures | null>(
      (b, s) => (b === null || s.sustainedCompletedPerS > b.sustainedCompletedPerS ? s : b),
      null,
    );
  const lost = figures.overload.reduce((n, s) => n + s.lost, 0);
  return {
    title: 'Bench: payments end to end',
    subtitle: `Processor API → ledger.commands → ledger → ledger.step-posted → processor → payments.status-changed, on the local stack. Processes: ${processLayout(figures.instances)}.`,
    verdict: {
      ok: v.ok && unmet.length === 0,
      text: `exactly-once ${v.ok ? 'verified' : 'FAILED'}; targets met: ${figures.targets.length - unmet.length} of ${figures.targets.length}${unmet.length === 0 ? '' : ` (not met: ${unmet.map((t) => `${t.name} ${`${t.target} ${t.unit}`.trim()} at ${t.at}`).join('; ')})`}`,
    },
    facts: [
      ['instances per service', layoutLabel(figures.instances)],
      [
        'admission control, per process',
        `HTTP_CONCURRENCY_MAX ${figures.admission.concurrencyMax}, HTTP_QUEUE_MAX ${figures.admission.queueMax}, HTTP_QUEUE_WAIT_MS_MAX ${figures.admission.queueWaitMsMax}`,
      ],
      [
        'payments in flight, all processor instances',
        `PROCESSOR_PAYMENTS_IN_FLIGHT_MAX ${figures.admission.paymentsInFlightMax}`,
      ],
      [
        'capacity (best completed/s)',
        best === null
          ? 'no step completed every payment'
          : `${formatNumber(best.sustainedCompletedPerS)}/s at ${best.targetPerS}/s offered`,
      ],
      [
        'raw PostgreSQL ceiling (same posting rows)',
        `${formatNumber(figures.rawCeiling.stepsPerSecond)} steps/s`,
      ],
      [
        'end to end / raw ceiling',
        `${formatNumber((figures.rawCeiling.ratio ?? 0) * 100)} % (2 steps per payment)`,
      ],
      ...(figures.roundTripCost.length === 0
        ? []
        : [['PostgreSQL round trip, CPU µs client + server', roundTripCostText(figures)] as const]),
      [
        'exactly-once',
        `${v.completedOnce}/${v.accepted} COMPLETED once; DEBIT ${v.debitTransactions}, CREDIT ${v.creditTransactions}; projection mismatches ${v.projectionMismatches}; clearing balance ${v.clearingBalanceMinor}`,
      ],
      ...(figures.overload.length === 0
        ? []
        : [
            [
              'overload: accepted payments not final',
              `${lost} (every payment answered 202 must reach COMPLETED, REJECTED or COMPENSATED)`,
            ] as const,
          ]),
      ['cost model', figures.cost?.basis ?? '–'],
    ],
    thresholds: null,
    tables: benchTables(figures),
    charts,
    notes: [
      "Latencies run from the intended send time of the open-model schedule (no coordinated omission); end to end = intended POST time → COMPLETED event consumed by the bench. A refusal's response time runs from the actual send, so it shows how fast the service refuses, without the generator's own queueing.",
      `CPU-seconds come from /proc/<pid>/stat per process: ${isSingleInstance(figures.instances) ? 'processor and ledger = their own Node processes' : 'each service = its supervisor and every instance it forked, each read by its own pid'}, load generator = the bench process (the load and the completion watcher, not the platform), PostgreSQL = postmaster and all backends; platform total = every process but the load generator. CPU-ms per payment = CPU over the step (its drain included) / payments accepted in it.`,
      'Overload steps offer multiples of the best completed/s of the capacity steps; goodput = COMPLETED events per second during the step. Admission control is per process (HTTP_CONCURRENCY_MAX, HTTP_QUEUE_MAX, HTTP_QUEUE_WAIT_MS_MAX): past it a request is refused with 503 before any work.',
      'Cost figures multiply measured CPU by configured prices; they are not measured costs.',
    ],
  };
}

/** The run as the terminal shows it. */
/**
 * POST→COMPLETED by hop per capacity step: p50 / mean ms of each hop (the means add up to the
 * mean end to end). Null when no step has a complete saga.
 */
export function sagaHopTable(steps: readonly StepFigures[]): Table | null {
  const measured = steps.filter(
    (s): s is StepFigures & { sagaHops: SagaHopFigures } => s.sagaHops != null,
  );
  if (measured.length === 0) return null;
  const cell = (ms: TrendSummary) => `${formatNumber(ms.med, 0)} / ${formatNumber(ms.avg, 0)}`;
  return {
    title:
      'POST→COMPLETED by hop, p50 / mean ms (each hop from one saga message sent to the next, Kafka CreateTime; it includes the delivery into the service it names)',
    columns: ['hop', ...measured.map((s) => `${s.targetPerS}/s (${s.sagaHops.payments})`)],
    rows: [
      ...SAGA_HOPS.map((hop, i) => [
        hop.name,
        ...measured.map((s) => cell(s.sagaHops.hops[i]!.ms)),
      ]),
      ['POST→COMPLETED', ...measured.map((s) => cell(s.sagaHops.endToEnd))],
    ],
  };
}

/**
 * What PostgreSQL wrote per completed payment at each capacity step: exact, so unlike CPU per
 * payment it does not move between runs of the same code. Null when no step read it.
 */
export function postgresWorkTable(steps: readonly StepFigures[]): Table | null {
  const measured = steps.filter(
    (s): s is StepFigures & { postgresWork: PostgresWork } => s.postgresWork != null,
  );
  if (measured.length === 0) return null;
  return {
    title:
      'PostgreSQL’s work per completed payment (WAL insert position and transaction counter, before and after each step: exact, the whole cluster)',
    columns: ['offered /s', 'WAL bytes', 'write transactions'],
    rows: measured.map((s) => [
      String(s.targetPerS),
      formatNumber(s.postgresWork.walBytesPerPayment, 0),
      formatNumber(s.postgresWork.writeTransactionsPerPayment, 2),
    ]),
  };
}

/**
 * Threads waiting for a core, by process, over each step's load window, and the generator's own
 * loop delay: the share of every latency above that is the machine's, not the code's. Null when
 * no step measured it (a run before it was measured).
 */
export function coreWaitTable(figures: Pick<BenchFigures, 'steps' | 'overload'>): Table | null {
  const rows = [
    ...figures.steps.map((s) => ({ load: `${s.targetPerS}/s`, scheduling: s.scheduling })),
    ...figures.overload.map((s) => ({
      load: `${s.multiplier}× (${s.targetPerS}/s)`,
      scheduling: s.scheduling,
    })),
  ].filter((r): r is { load: string; scheduling: StepScheduling } => r.scheduling !== undefined);
  if (rows.length === 0) return null;
  return {
    title:
      'Waiting for a core: threads runnable without a core, on average over the load window (schedstat), and the load generator’s event loop delay',
    columns: [
      'offered',
      ...CPU_COLUMNS.map((c) => c.label),
      'generator loop delay ms p50 / p99 / max',
    ],
    rows: rows.map(({ load, scheduling }) => [
      load,
      ...CPU_COLUMNS.map((c) => formatNumber(scheduling.coreWaitPerS[c.role], 2)),
      loopDelayText(scheduling.generatorLoopDelayMs),
    ]),
  };
}

export function benchText(figures: BenchFigures): string {
  const lines: string[] = [];
  const cpuLabels = CPU_COLUMNS.map((c) => c.role).join(' ');
  lines.push(
    '',
    `instances: ${layoutLabel(figures.instances)}; admission per process: concurrency ${figures.admission.concurrencyMax}, queue ${figures.admission.queueMax}, queue wait ${figures.admission.queueWaitMsMax} ms; payments in flight ${figures.admission.paymentsInFlightMax}`,
    `target/s  accepted/s  refused  completed/s  API p50/p95/p99 ms       e2e p50/p95/p99 ms        lag max  drain s  CPU-ms/payment (${cpuLabels})`,
  );
  for (const s of figures.steps) {
    const c = s.cpuSecondsPer1000;
    lines.push(
      [
        String(s.targetPerS).padStart(8),
        formatNumber(s.acceptedPerS).padStart(11),
        String(s.refused).padStart(8),
        formatNumber(s.sustainedCompletedPerS).padStart(12),
        trend(s.api).replace(/ /g, '').padStart(24),
        trend(s.endToEnd).replace(/ /g, '').padStart(25),
        formatNumber(s.lagMax, 0).padStart(8),
        formatNumber(s.drainS).padStart(8),
        `  ${CPU_COLUMNS.map((col) => formatNumber(c[col.role], 2)).join(' ')}`,
      ].join(' '),
    );
  }
  for (const s of figures.steps) {
    if (s.failed + s.dropped > 0) {
      lines.push(
        `  ${s.targetPerS}/s: other failures ${otherFailures(s.failed, s.failedByStatus, s.dropped)}`,
      );
    }
  }
  const perInstance = instanceRoles(figures.steps);
  if (perInstance.length > 0) {
    lines.push('', `CPU-ms per payment by instance: target/s ${perInstance.join(' ')}`);
    for (const s of figures.steps) {
      lines.push(
        `  ${String(s.targetPerS).padStart(6)} ${perInstance.map((r) => formatNumber(s.cpuSecondsPer1000[r], 2)).join(' ')}`,
      );
    }
  }
  const hops = sagaHopTable(figures.steps);
  if (hops !== null) {
    lines.push('', `${hops.title}:`);
    for (const row of [hops.columns, ...hops.rows]) {
      const [name, ...cells] = row;
      lines.push(
        `  ${String(name).padEnd(48)}${cells.map((c) => String(c).padStart(18)).join('')}`,
      );
    }
  }
  const postgresWork = postgresWorkTable(figures.steps);
  if (postgresWork !== null) {
    lines.push('', `${postgresWork.title}:`, `  ${postgresWork.columns.join(' | ')}`);
    for (const row of postgresWork.rows) lines.push(`  ${row.join(' | ')}`);
  }
  const waits = coreWaitTable(figures);
  if (waits !== null) {
    lines.push('', `${waits.title}:`, `  ${waits.columns.join(' | ')}`);
    for (const row of waits.rows) lines.push(`  ${row.join(' | ')}`);
  }
  for (const s of figures.overload) {
    lines.push(
      `overload ${s.multiplier}× (${s.targetPerS}/s offered): goodput ${goodput(s)}/s, accepted ${formatNumber(s.acceptedPerS)}/s, refused ${formatNumber(s.refusedPerS)}/s, other failures ${otherFailures(s.failed, s.failedByStatus, s.dropped)}; accepted API p50/p99 ${trend2(s.acceptedApi)} ms, refused p50/p99 ${trend2(s.refusedApi)} ms (response p99 ${formatNumber(s.refusedResponse.p99)} ms); accepted not final: ${s.lost}`,
    );
  }
  const v = figures.verification;
  lines.push(
    '',
    `exactly-once: ${v.ok ? 'OK' : 'FAILED'} (${v.completedOnce}/${v.accepted} completed once, ${v.completedEventsDuplicated} duplicated, ${v.notCompleted} not completed; DEBIT ${v.debitTransactions}, CREDIT ${v.creditTransactions}; projection mismatches ${v.projectionMismatches}; clearing ${v.clearingBalanceMinor})`,
  );
  const r = figures.rawCeiling;
  lines.push(
    `raw PostgreSQL ceiling: ${formatNumber(r.stepsPerSecond)} posting steps/s; best end to end ${formatNumber((r.ratio ?? 0) * r.stepsPerSecond)} steps/s (ratio ${formatNumber((r.ratio ?? 0) * 100)} %)`,
  );
  if (figures.roundTripCost.length > 0) {
    lines.push(`PostgreSQL round trip, CPU µs client + server: ${roundTripCostText(figures)}`);
  }
  if (figures.scaling !== null) {
    const c = figures.scaling;
    lines.push(
      `1 vs 2 instances (${c.multi.layout}): CPU-ms per payment at ${c.atPerS}/s ${formatNumber(c.cpuMsSingle, 3)} vs ${formatNumber(c.cpuMsMulti, 3)} (efficiency ${formatNumber(c.cpuEfficiency, 2)}); best completed/s ${formatNumber(c.capacitySingle)} vs ${formatNumber(c.capacityMulti)}`,
    );
  }
  for (const t of figures.targets) {
    lines.push(
      `target ${t.name} ${`${t.target} ${t.unit}`.trim()} at ${t.at}: ${t.measured === null ? 'not measured' : `${formatNumber(t.measured)} ${t.unit}`.trim()} — ${t.met ? 'met' : 'NOT met'}`,
    );
  }
  if (figures.cost !== null) lines.push(`cost model: ${figures.cost.basis}`);
  for (const row of figures.cost?.rows ?? []) {
    lines.push(
      `cost: ${row.instance}: ${formatNumber(row.paymentsPerSecondPerInstance)} payments/s per instance, ${figures.cost?.currency} ${row.costPerTpsMonth.toFixed(2)} per payment/s per month`,
    );
  }
  return lines.join('\n');
}

/**
 * The round trip's CPU back to back and apart, e.g. "back to back 52 + 24; 10 ms apart 274 + 88
 * (4.8×)": the ratio is what waking a sleeping process adds to the same work.
 */
export function roundTripCostText(figures: Pick<BenchFigures, 'roundTripCost'>): string {
  const costs = figures.roundTripCost;
  const label = (gapMs: number) => (gapMs === 0 ? 'back to back' : `${gapMs} ms apart`);
  const parts = costs.map(
    (c) => `${label(c.gapMs)} ${formatNumber(c.clientUs)} + ${formatNumber(c.serverUs)}`,
  );
  const first = costs[0];
  const last = costs[costs.length - 1];
  if (first !== undefined && last !== undefined && first !== last && first.gapMs === 0) {
    const ratio = (last.clientUs + last.serverUs) / (first.clientUs + first.serverUs);
    parts[parts.length - 1] += ` (${formatNumber(ratio, 1)}× back to back)`;
  }
  return parts.join('; ');
}
