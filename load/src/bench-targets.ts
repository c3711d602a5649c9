// The targets of issue 17, judged on one bench run's figures: pure, so the report and the
// printed table say the same thing and a test can hold the arithmetic.
import type { TrendSummary } from './metrics.js';

export interface StepForTargets {
  readonly targetPerS: number;
  readonly sustainedCompletedPerS: number;
  readonly allCompleted: boolean;
  readonly api: Pick<TrendSummary, 'p99'>;
  readonly endToEnd: Pick<TrendSummary, 'med' | 'p99'>;
  /** CPU-seconds per 1,000 payments = CPU-ms per payment; `total` is the platform's. */
  readonly cpuSecondsPer1000: Readonly<Record<string, number>>;
}

export interface TargetVerdict {
  readonly name: string;
  readonly target: string;
  /** null when the run had no step to judge it on. */
  readonly measured: number | null;
  readonly unit: string;
  readonly met: boolean;
  /** Which step it was judged on. */
  readonly at: string;
}

const COMPLETED_PER_S_MIN = 1_500;
const CPU_MS_AT_BEST_MAX = 0.8;
const CPU_MS_AT_250_MAX = 1.5;
const API_P99_MS_MAX = 50;
const E2E_P50_MS_MAX = 100;
const E2E_P99_MS_MAX = 500;

function verdict(
  name: string,
  target: string,
  measured: number | null,
  unit: string,
  at: string,
  ok: (value: number) => boolean,
): TargetVerdict {
  return { name, target, measured, unit, at, met: measured !== null && ok(measured) };
}

/** The step at `rate` offered per second, or the highest below it. */
function stepAtOrBelow<T extends StepForTargets>(steps: readonly T[], rate: number): T | undefined {
  return steps
    .filter((s) => s.targetPerS <= rate)
    .reduce<T | undefined>(
      (b, s) => (b === undefined || s.targetPerS > b.targetPerS ? s : b),
      undefined,
    );
}

export function judgeTargets(steps: readonly StepForTargets[]): TargetVerdict[] {
  const best = steps
    .filter((s) => s.allCompleted)
    .reduce<StepForTargets | undefined>(
      (b, s) => (b === undefined || s.sustainedCompletedPerS > b.sustainedCompletedPerS ? s : b),
      undefined,
    );
  const capacity = best?.sustainedCompletedPerS ?? 0;
  // API latency at 1,000/s offered, or at 60 % of the measured capacity if that is lower.
  const latencyRate = Math.min(1_000, 0.6 * capacity);
  const latencyStep = stepAtOrBelow(steps, latencyRate);
  // Judged only on a step whose payments all completed: partial figures would flatter it.
  const at250 = steps.find((s) => s.targetPerS === 250 && s.allCompleted);
  const bestAt =
    best === undefined ? 'no step completed' : `best step (${best.targetPerS}/s offered)`;
  return [
    verdict(
      'completed payments/s',
      `≥ ${COMPLETED_PER_S_MIN}`,
      best?.sustainedCompletedPerS ?? null,
      '/s',
      bestAt,
      (v) => v >= COMPLETED_PER_S_MIN,
    ),
    verdict(
      'platform CPU per payment',
      `≤ ${CPU_MS_AT_BEST_MAX}`,
      best?.cpuSecondsPer1000['total'] ?? null,
      'CPU-ms',
      bestAt,
      (v) => v <= CPU_MS_AT_BEST_MAX,
    ),
    verdict(
      'platform CPU per payment',
      `≤ ${CPU_MS_AT_250_MAX}`,
      at250?.cpuSecondsPer1000['total'] ?? null,
      'CPU-ms',
      '250/s',
      (v) => v <= CPU_MS_AT_250_MAX,
    ),
    verdict(
      'API p99',
      `< ${API_P99_MS_MAX}`,
      latencyStep?.api.p99 ?? null,
      'ms',
      latencyStep === undefined
        ? `no step at or below ${Math.round(latencyRate)}/s`
        : `${latencyStep.targetPerS}/s (min of 1,000/s and 60 % of capacity = ${Math.round(latencyRate)}/s)`,
      (v) => v < API_P99_MS_MAX,
    ),
    verdict(
      'POST→COMPLETED p50',
      `< ${E2E_P50_MS_MAX}`,
      at250?.endToEnd.med ?? null,
      'ms',
      '250/s',
      (v) => v < E2E_P50_MS_MAX,
    ),
    verdict(
      'POST→COMPLETED p99',
      `< ${E2E_P99_MS_MAX}`,
      at250?.endToEnd.p99 ?? null,
      'ms',
      '250/s',
      (v) => v < E2E_P99_MS_MAX,
    ),
  ];
}
