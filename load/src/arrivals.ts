// When each arrival of a k6 ramping-arrival-rate profile is due: the rate moves linearly from
// the previous stage's target to this stage's target, and arrival i is due at the instant the
// integral of the rate reaches i (the first at 0). Pure; the generator only reads the times.
import type { LoadProfile } from '../../k6/scenarios.js';

/** Arrivals a single run may schedule: a bound on memory and on a typo in a profile. */
export const ARRIVALS_MAX = 50_000_000;

/** Arrival offsets in ms from the start of the profile, in order. */
export function* arrivalOffsetsMs(load: LoadProfile): Generator<number> {
  if (!(load.timeUnitS > 0)) throw new Error(`timeUnitS must be > 0, not ${load.timeUnitS}`);
  let stageStartS = 0;
  let rateStart = load.startRate / load.timeUnitS;
  // Arrivals due before the current stage (a real number: the integral so far).
  let countAtStageStart = 0;
  let next = 0;
  for (const stage of load.stages) {
    if (!(stage.durationS > 0) || stage.target < 0) {
      throw new Error(`invalid stage ${JSON.stringify(stage)}`);
    }
    const rateEnd = stage.target / load.timeUnitS;
    const slope = (rateEnd - rateStart) / stage.durationS;
    const countInStage = ((rateStart + rateEnd) / 2) * stage.durationS;
    while (next < countAtStageStart + countInStage) {
      if (next >= ARRIVALS_MAX) throw new Error(`more than ${ARRIVALS_MAX} arrivals`);
      const t = offsetInStageS(next - countAtStageStart, rateStart, slope);
      yield (stageStartS + Math.min(t, stage.durationS)) * 1000;
      next += 1;
    }
    countAtStageStart += countInStage;
    stageStartS += stage.durationS;
    rateStart = rateEnd;
  }
}

/** The t >= 0 with rateStart * t + slope * t² / 2 = count. */
function offsetInStageS(count: number, rateStart: number, slope: number): number {
  if (count <= 0) return 0;
  if (Math.abs(slope) < 1e-12) return count / rateStart;
  const discriminant = rateStart * rateStart + 2 * slope * count;
  return (-rateStart + Math.sqrt(Math.max(0, discriminant))) / slope;
}

/** Expected number of arrivals of a profile (the integral of its rate). */
export function expectedArrivals(load: LoadProfile): number {
  let rateStart = load.startRate / load.timeUnitS;
  let total = 0;
  for (const stage of load.stages) {
    const rateEnd = stage.target / load.timeUnitS;
    total += ((rateStart + rateEnd) / 2) * stage.durationS;
    rateStart = rateEnd;
  }
  return total;
}
