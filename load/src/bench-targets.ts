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

/** The overload figures issue 17 judges (a subset of OverloadStep, so tests can build them). */
export interface OverloadForTargets {
  readonly multiplier: number;
  readonly targetPerS: number;
  readonly goodputOfPeak: number | null;
  readonly acceptedApi: Pick<TrendSummary, 'p99'>;
  readonly refusedResponse: Pick<TrendSummary, 'p99'>;
  readonly refused: number;
  readonly refusalsWellFormed: number | null;
  readonly lost: number;
}

const GOODPUT_OF_PEAK_MIN = 0.9;
const REFUSED_RESPONSE_MS_MAX = 10;
const ACCEPTED_API_P99_MS_MAX = 250;

/**
 * Past capacity, per overload step: goodput holds ≥ 90 % of the peak, the excess is refused
 * within 10 ms as 503 problem+json with Retry-After, accepted requests keep API p99 < 250 ms,
 * and no accepted payment is lost. A step that refused nothing has not shown admission control
 * at work: its refusal targets are not met (not measured).
 */
export function judgeOverload(steps: readonly OverloadForTargets[]): TargetVerdict[] {
  return steps.flatMap((s) => {
    const at = `${s.multiplier}× capacity (${s.targetPerS}/s offered)`;
    const refusedAt = s.refused === 0 ? `${at}: nothing refused` : at;
    return [
      verdict(
        'overload goodput of peak',
        `≥ ${GOODPUT_OF_PEAK_MIN * 100}`,
        s.goodputOfPeak === null ? null : s.goodputOfPeak * 100,
        '%',
        at,
        (v) => v >= GOODPUT_OF_PEAK_MIN * 100,
      ),
      verdict(
        'overload refusal (503) p99',
        `≤ ${REFUSED_RESPONSE_MS_MAX}`,
        s.refused === 0 ? null : s.refusedResponse.p99,
        'ms',
        refusedAt,
        (v) => v <= REFUSED_RESPONSE_MS_MAX,
      ),
      verdict(
        'overload refusals as problem+json with Retry-After',
        '= 100',
        s.refusalsWellFormed === null ? null : s.refusalsWellFormed * 100,
        '%',
        refusedAt,
        (v) => v >= 100,
      ),
      verdict(
        'overload accepted API p99',
        `< ${ACCEPTED_API_P99_MS_MAX}`,
        s.acceptedApi.p99,
        'ms',
        at,
        (v) => v < ACCEPTED_API_P99_MS_MAX,
      ),
      verdict('overload accepted payments lost', '= 0', s.lost, 'payments', at, (v) => v === 0),
    ];
  });
}
