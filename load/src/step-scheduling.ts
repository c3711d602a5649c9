// What a step's latencies share with every other process on the machine: how long each
// process's threads waited for a core (the run queue, from schedstat), and how late the load
// generator's own event loop ran, which every latency the generator measures includes. On a
// machine with fewer cores than runnable threads, this is the latency nobody's code spends.
import { roleSecondsPerUnit } from './bench-instances.js';
import { formatNumber } from './report.js';

export interface LoopDelayMs {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface StepScheduling {
  /**
   * Seconds waited for a core per second of the step's load window, by role: how many of the
   * role's threads were runnable without a core, on average. With a `<service>` sum for a
   * service run as several processes and `total`, the platform (every role but the generator).
   */
  readonly coreWaitPerS: Readonly<Record<string, number>>;
  /** How late the generator's event loop ran its timers over the window, beyond their period. */
  readonly generatorLoopDelayMs: LoopDelayMs;
}

/** The sampling period of the generator's loop delay: its timer runs this often. */
export const LOOP_DELAY_RESOLUTION_MS = 2;

/** A perf_hooks event loop delay histogram, in nanoseconds. */
export interface LoopDelayHistogram {
  percentile(p: number): number;
  readonly max: number;
  readonly count: number;
}

export function stepScheduling(
  waitBefore: Readonly<Record<string, number>>,
  waitAfter: Readonly<Record<string, number>>,
  windowS: number,
  loopDelay: LoopDelayHistogram,
  generatorRole: string,
): StepScheduling {
  if (!(windowS > 0)) throw new RangeError(`the step's window must be positive, got ${windowS}`);
  // The histogram holds each interval between two timer runs: beyond the period is the delay.
  const delayMs = (ns: number): number =>
    loopDelay.count > 0 ? Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS) : 0;
  return {
    // Seconds waited per second of the window: threads waiting, on average.
    coreWaitPerS: roleSecondsPerUnit(waitBefore, waitAfter, windowS, generatorRole),
    generatorLoopDelayMs: {
      p50: delayMs(loopDelay.percentile(50)),
      p99: delayMs(loopDelay.percentile(99)),
      max: delayMs(loopDelay.max),
    },
  };
}

/** `1.4 / 14.1 / 55.6`: the generator's loop delay p50 / p99 / max, ms. */
export function loopDelayText(d: LoopDelayMs): string {
  return [d.p50, d.p99, d.max].map((v) => formatNumber(v, 1)).join(' / ');
}

/** The platform's roles in the order the bench prints them; the others follow by name. */
const ROLE_ORDER = ['processor', 'ledger', 'postgres', 'kafka', 'registry'];

/**
 * `waiting for a core, threads: processor 0.55, ledger 0.60, postgres 0.50, kafka 0.16,
 * registry 0.00 = platform 1.81, generator 0.41; generator loop delay p50 / p99 / max 1.4 / 14.1
 * / 55.6 ms`. Services run as several processes appear once, summed.
 */
export function schedulingLine(s: StepScheduling, generatorRole: string): string {
  const roles = Object.keys(s.coreWaitPerS)
    .filter((r) => !r.includes('/') && r !== 'total' && r !== generatorRole)
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const platform = roles.map((r) => `${r} ${formatNumber(s.coreWaitPerS[r], 2)}`).join(', ');
  const generator = s.coreWaitPerS[generatorRole];
  return [
    `waiting for a core, threads: ${platform} = platform ${formatNumber(s.coreWaitPerS['total'], 2)}`,
    ...(generator === undefined ? [] : [`, generator ${formatNumber(generator, 2)}`]),
    `; generator loop delay p50 / p99 / max ${loopDelayText(s.generatorLoopDelayMs)} ms`,
  ].join('');
}

function rank(role: string): number {
  const i = ROLE_ORDER.indexOf(role);
  return i === -1 ? ROLE_ORDER.length : i;
}
