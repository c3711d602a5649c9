// The bench's overload steps: after the capacity steps, payments are offered at multiples of the
// measured capacity (default 2× and 5× the best completed/s) and the step reports what a client
// sees past capacity: goodput (payments completed/s), accepted/s, refused/s (503), the latency
// of accepted and of refused requests apart, and whether every accepted payment reached a final
// state. Pure arithmetic over what the bench observed; the bench does the I/O.
import type { StepScheduling } from './step-scheduling.js';
import { Samples, type TrendSummary } from './metrics.js';

export const OVERLOAD_MULTIPLIERS_DEFAULT = [2, 5] as const;
/** Multiples above this are a typo, not a test: 20× a measured capacity already refuses ~95 %. */
const MULTIPLIER_MAX = 20;

/** `BENCH_OVERLOAD=2,5` → [2, 5]; `0` or `none` → no overload steps. */
export function parseOverloadMultipliers(text: string | undefined): number[] {
  if (text === undefined || text.trim() === '') return [...OVERLOAD_MULTIPLIERS_DEFAULT];
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '0' || trimmed === 'none') return [];
  return trimmed.split(',').map((part) => {
    const m = Number(part.trim());
    if (!(Number.isFinite(m) && m > 1 && m <= MULTIPLIER_MAX)) {
      throw new Error(
        `BENCH_OVERLOAD: "${part.trim()}" is not a multiple of capacity in (1, ${MULTIPLIER_MAX}]`,
      );
    }
    return m;
  });
}

/**
 * Offered payments/s of each overload step: the multiple of the capacity, rounded to a
 * readable figure (to 10/s from 100/s up). No step without a measured capacity.
 */
export function overloadRates(
  capacityPerS: number | null,
  multipliers: readonly number[],
): { multiplier: number; targetPerS: number }[] {
  if (capacityPerS === null || !(capacityPerS > 0)) return [];
  return multipliers.map((multiplier) => {
    const exact = capacityPerS * multiplier;
    const targetPerS = exact >= 100 ? Math.round(exact / 10) * 10 : Math.max(1, Math.round(exact));
    return { multiplier, targetPerS };
  });
}

/** What the bench saw during one overload step. */
export interface OverloadObservations {
  readonly multiplier: number;
  readonly targetPerS: number;
  /** Seconds from the step's first intended arrival to its last response. */
  readonly windowS: number;
  readonly offered: number;
  /** Arrivals the generator dropped (its own in-flight bound), never sent. */
  readonly dropped: number;
  /** Answered 202 with a payment id. */
  readonly accepted: number;
  /** Answered 503 (admission control: nothing was done). */
  readonly refused: number;
  /** Any other answer, a reset or a client time-out: the payment may or may not exist. */
  readonly failed: number;
  /** The failed answers by HTTP status; 0 = no answer. */
  readonly failedByStatus: Readonly<Record<string, number>>;
  /** COMPLETED events consumed during the window, of any payment. */
  readonly completedInWindow: number;
  /** Accepted payments of this step in a final state (COMPLETED, REJECTED, COMPENSATED) after the drain. */
  readonly acceptedFinal: number;
  /** From the intended send time (open model), ms. */
  readonly acceptedApiMs: readonly number[];
  readonly refusedApiMs: readonly number[];
  /** From the actual send to the 503: how fast the service refuses, without generator queueing. */
  readonly refusedResponseMs: readonly number[];
  /** 503s with a Retry-After header and an application/problem+json body. */
  readonly refusedWellFormed: number;
  /** Seconds after the window until the last accepted payment was final (or the drain bound). */
  readonly drainS: number;
}

export interface OverloadStep {
  readonly multiplier: number;
  readonly targetPerS: number;
  readonly offered: number;
  readonly offeredPerS: number;
  readonly accepted: number;
  readonly acceptedPerS: number;
  readonly refused: number;
  readonly refusedPerS: number;
  readonly failed: number;
  readonly failedByStatus: Readonly<Record<string, number>>;
  readonly dropped: number;
  readonly goodputPerS: number;
  /** Goodput / the capacity steps' best completed/s; null without a peak. */
  readonly goodputOfPeak: number | null;
  readonly acceptedApi: TrendSummary;
  readonly refusedApi: TrendSummary;
  readonly refusedResponse: TrendSummary;
  /** Share of the 503s that carried Retry-After and an application/problem+json body. */
  readonly refusalsWellFormed: number | null;
  /** Accepted payments that did not reach a final state: must be 0. */
  readonly lost: number;
  readonly drainS: number;
  /** Waiting for a core over the load window (absent from runs before it was measured). */
  readonly scheduling?: StepScheduling;
}

function summarize(values: readonly number[]): TrendSummary {
  const samples = new Samples();
  for (const v of values) samples.add(v);
  return samples.summary();
}

export function overloadStep(
  seen: OverloadObservations,
  peakCompletedPerS: number | null,
): OverloadStep {
  const perS = (n: number): number => (seen.windowS > 0 ? n / seen.windowS : 0);
  const goodputPerS = perS(seen.completedInWindow);
  return {
    multiplier: seen.multiplier,
    targetPerS: seen.targetPerS,
    offered: seen.offered,
    offeredPerS: perS(seen.offered),
    accepted: seen.accepted,
    acceptedPerS: perS(seen.accepted),
    refused: seen.refused,
    refusedPerS: perS(seen.refused),
    failed: seen.failed,
    failedByStatus: seen.failedByStatus,
    dropped: seen.dropped,
    goodputPerS,
    goodputOfPeak:
      peakCompletedPerS !== null && peakCompletedPerS > 0 ? goodputPerS / peakCompletedPerS : null,
    acceptedApi: summarize(seen.acceptedApiMs),
    refusedApi: summarize(seen.refusedApiMs),
    refusedResponse: summarize(seen.refusedResponseMs),
    refusalsWellFormed: seen.refused > 0 ? seen.refusedWellFormed / seen.refused : null,
    lost: seen.accepted - seen.acceptedFinal,
    drainS: seen.drainS,
  };
}
