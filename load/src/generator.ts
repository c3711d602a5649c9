// Open-model load: every arrival has an intended send time fixed by the profile, whatever the
// responses. At most `inFlightMax` requests are in flight; arrivals due while all slots are busy
// wait in a bounded backlog (and their wait counts as latency, because latency is measured
// from the intended time), and arrivals beyond the backlog are dropped and counted, as k6 counts
// dropped_iterations. So a slow server cannot slow the generator down and hide its latency
// (coordinated omission).
import { arrivalOffsetsMs } from './arrivals.js';
import type { LoadProfile } from '../../k6/scenarios.js';

export interface Arrival {
  /** performance.now() timebase. */
  readonly intendedAtMs: number;
  readonly index: number;
}

export interface StreamDriverOptions {
  readonly load: LoadProfile;
  readonly inFlightMax: number;
  /** Arrivals that may wait for a slot; beyond it they are dropped. Default 10 × inFlightMax. */
  readonly backlogMax?: number;
  /** Sends one request for the arrival; resolves when its response is handled. Never rejects. */
  readonly fire: (arrival: Arrival) => Promise<void>;
  readonly onOffered?: (arrival: Arrival, inFlight: number) => void;
  readonly onDropped?: (arrival: Arrival) => void;
  /** performance.now() of the profile's t = 0; default now. */
  readonly startAtMs?: number;
  readonly signal?: AbortSignal;
}

export interface StreamDriverResult {
  readonly offered: number;
  readonly dropped: number;
  /** Largest delay between an arrival's intended time and its actual send. */
  readonly sendLagMsMax: number;
}

/** Longest the scheduler sleeps between two looks at the clock. */
const TICK_MS_MAX = 5;

export async function driveStream(options: StreamDriverOptions): Promise<StreamDriverResult> {
  const { inFlightMax } = options;
  if (!(inFlightMax >= 1)) throw new Error(`inFlightMax must be >= 1, not ${inFlightMax}`);
  const backlogMax = options.backlogMax ?? inFlightMax * 10;
  const startAtMs = options.startAtMs ?? performance.now();
  const arrivals = arrivalOffsetsMs(options.load);
  let next = arrivals.next();
  const backlog: Arrival[] = [];
  let backlogHead = 0;
  let inFlight = 0;
  let offered = 0;
  let dropped = 0;
  let sendLagMsMax = 0;
  let wakeOnSlot: (() => void) | null = null;
  const pending = new Set<Promise<void>>();

  const launch = (arrival: Arrival): void => {
    inFlight += 1;
    sendLagMsMax = Math.max(sendLagMsMax, performance.now() - arrival.intendedAtMs);
    const running = options.fire(arrival).finally(() => {
      inFlight -= 1;
      pending.delete(running);
      wakeOnSlot?.();
    });
    pending.add(running);
  };

  while (!options.signal?.aborted) {
    const now = performance.now();
    // Everything due by now is offered, in order.
    while (!next.done && startAtMs + next.value <= now) {
      const arrival = { intendedAtMs: startAtMs + next.value, index: offered };
      offered += 1;
      options.onOffered?.(arrival, inFlight);
      if (backlog.length - backlogHead >= backlogMax) {
        dropped += 1;
        options.onDropped?.(arrival);
      } else {
        backlog.push(arrival);
      }
      next = arrivals.next();
    }
    while (inFlight < inFlightMax && backlogHead < backlog.length) {
      launch(backlog[backlogHead] as Arrival);
      backlogHead += 1;
    }
    if (backlogHead > 4_096 && backlogHead * 2 > backlog.length) {
      backlog.splice(0, backlogHead);
      backlogHead = 0;
    }
    if (next.done && backlogHead === backlog.length) break;
    const untilNextMs = next.done ? TICK_MS_MAX : startAtMs + next.value - performance.now();
    const waitMs = Math.max(0, Math.min(TICK_MS_MAX, untilNextMs));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wakeOnSlot = null;
        resolve();
      }, waitMs);
      // A freed slot matters only when arrivals are waiting for one.
      wakeOnSlot =
        backlogHead < backlog.length
          ? () => {
              clearTimeout(timer);
              wakeOnSlot = null;
              resolve();
            }
          : null;
    });
  }
  await Promise.all(pending);
  return { offered, dropped, sendLagMsMax };
}
