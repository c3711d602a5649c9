// The chaos report: the figures of a run as JSON and as a self-contained HTML page (the load
// reports' renderer): faults with their instants and recovery times, payments offered, accepted
// and completed, lost and duplicated, dead letters by reason, every check, and the seed.
import { formatNumber, writeReport, type ReportInput } from '../../load/src/report.js';
import type { ChaosResult } from './run.js';

export interface ChaosFigures {
  seed: number;
  ok: boolean;
  reproduce: string;
  offered: number;
  accepted: number;
  refundsAccepted: number;
  completed: number;
  lost: number;
  duplicated: number;
  deadLetteredByReason: Record<string, number>;
  faultsByKind: Record<string, number>;
  recoveryMs: { p50: number | null; max: number | null; never: number };
}

/** Nearest-rank percentile of a small list; null when empty. */
export function percentileOf(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

export function reproduceCommand(result: ChaosResult): string {
  const { options } = result;
  const parts = [
    'npm run chaos --',
    `--seed ${result.seed}`,
    `--scenario ${options.scenarios.join(',')}`,
    `--duration ${Math.round(options.durationMs / 1000)}s`,
    `--rate ${options.ratePerS}`,
    `--registry-outage ${Math.round(options.registryOutageMs / 1000)}s`,
  ];
  if (options.short) parts.push('--short');
  return parts.join(' ');
}

export function chaosFigures(result: ChaosResult): ChaosFigures {
  const faults = result.scenarios.flatMap((s) => s.faults);
  const recoveries = faults.map((f) => f.recoveryMs).filter((ms): ms is number => ms !== null);
  const faultsByKind: Record<string, number> = {};
  for (const f of faults) faultsByKind[f.kind] = (faultsByKind[f.kind] ?? 0) + 1;
  const last = result.scenarios.at(-1);
  const sum = (pick: (s: ChaosResult['scenarios'][number]) => number): number =>
    result.scenarios.reduce((total, s) => total + pick(s), 0);
  return {
    seed: result.seed,
    ok: result.ok,
    reproduce: reproduceCommand(result),
    offered: sum((s) => s.load.offered),
    accepted: sum((s) => s.load.paymentsAccepted),
    refundsAccepted: sum((s) => s.load.refundsAccepted),
    // The checks run over everything accepted so far: the last scenario's figures are the run's.
    completed: last?.load.completed ?? 0,
    lost: last?.verdict.lost ?? 0,
    duplicated: last?.verdict.duplicated ?? 0,
    deadLetteredByReason: last?.verdict.deadLetteredByReason ?? {},
    faultsByKind,
    recoveryMs: {
      p50: percentileOf(recoveries, 50),
      max: recoveries.length > 0 ? Math.max(...recoveries) : null,
      never: faults.length - recoveries.length,
    },
  };
}

export async function writeChaosReport(
  result: ChaosResult,
  baseName: string,
): Promise<{ html: string; json: string; figures: ChaosFigures }> {
  const figures = chaosFigures(result);
  const faults = result.scenarios.flatMap((s) => s.faults);
  const input: ReportInput = {
    title: 'Chaos: faults under a steady payment load',
    subtitle: `Seed ${result.seed}; reproduce with: ${figures.reproduce}`,
    verdict: {
      ok: result.ok,
      text: result.ok
        ? `every invariant held after every scenario; lost ${figures.lost}, duplicated ${figures.duplicated}`
        : `INVARIANT BROKEN (seed ${result.seed}): ${result.scenarios
            .flatMap((s) =>
              s.verdict.checks.filter((c) => !c.ok).map((c) => `${s.scenario}: ${c.name}`),
            )
            .join('; ')}`,
    },
    facts: [
      ['seed', String(result.seed)],
      [
        'payments offered / accepted / completed',
        `${figures.offered} / ${figures.accepted} / ${figures.completed}`,
      ],
      ['refunds accepted', String(figures.refundsAccepted)],
      ['lost', String(figures.lost)],
      ['duplicated', String(figures.duplicated)],
      ['dead-lettered by reason', JSON.stringify(figures.deadLetteredByReason)],
      ['faults by kind', JSON.stringify(figures.faultsByKind)],
      [
        'recovery p50 / max',
        `${formatNumber((figures.recoveryMs.p50 ?? NaN) / 1000)} s / ${formatNumber((figures.recoveryMs.max ?? NaN) / 1000)} s (never: ${figures.recoveryMs.never})`,
      ],
      ['run', `${result.startedAt} → ${result.finishedAt}`],
    ],
    thresholds: null,
    tables: [
      {
        title: 'Faults',
        columns: [
          'scenario',
          'fault',
          'target',
          'injected at (s)',
          'healed at (s)',
          'recovery (s)',
          'what',
        ],
        rows: faults.map((f) => [
          f.scenario,
          f.kind,
          f.target ?? '',
          f.injectedAtS,
          f.healedAtS,
          f.recoveryMs === null ? 'never' : f.recoveryMs / 1000,
          f.detail,
        ]),
      },
      {
        title: 'Scenarios',
        columns: [
          'scenario',
          'verdict',
          'offered',
          'accepted',
          'refunds',
          'refused (4xx)',
          'retried (lost answer, 5xx)',
          'dropped',
        ],
        rows: result.scenarios.map((s) => [
          s.scenario,
          s.ok ? 'ok' : 'FAILED',
          s.load.offered,
          s.load.paymentsAccepted,
          s.load.refundsAccepted,
          s.load.refused,
          s.load.retried,
          s.load.dropped,
        ]),
      },
      {
        title: 'Checks after each scenario',
        columns: ['scenario', 'check', 'verdict', 'detail'],
        rows: result.scenarios.flatMap((s) =>
          s.verdict.checks.map((c) => [s.scenario, c.name, c.ok ? 'ok' : 'FAILED', c.detail]),
        ),
      },
    ],
    charts: [
      {
        title: 'Payments accepted per second',
        yUnit: 'payments/s',
        xLabel: 'seconds since the load began',
        series: [
          {
            name: 'accepted (202)',
            points: result.acceptedPerSecond.map((n, i) => [i, n] as const),
          },
        ],
      },
    ],
    notes: [
      'Recovery: from the heal (restart, SIGCONT, or the injection itself) until every /readyz answers 200 and the consumers are back within one second of load of the high watermarks.',
      'The seed fixes the fault schedule (kinds, targets, instants, holds) and the load mix; the platform answers differently run to run.',
    ],
  };
  const paths = await writeReport(baseName, input, { figures, ...result });
  return { ...paths, figures };
}
