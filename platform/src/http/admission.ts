// Admission control for a service's API, per process: at most concurrencyMax requests run at
// once, at most queueMax more wait (first come, first served) and none waits longer than
// queueWaitMsMax. Past that a request is refused at once with 503 and Retry-After, before its
// body is read or anything is stored: past capacity the API refuses the excess fast and keeps
// completing what it accepted, instead of accepting everything and finishing none of it in time.
import { intSetting } from '../config.js';

export interface AdmissionLimits {
  /** Requests that may run at once (handlers awaiting PostgreSQL or Kafka included). */
  concurrencyMax: number;
  /** Requests that may wait for a free slot; one more is refused at once. */
  queueMax: number;
  /** A request that waited this long without a slot is refused. */
  queueWaitMsMax: number;
}

export function admissionLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): AdmissionLimits {
  return {
    concurrencyMax: intSetting(env, 'HTTP_CONCURRENCY_MAX', 256, 1, 100_000),
    queueMax: intSetting(env, 'HTTP_QUEUE_MAX', 1_024, 0, 1_000_000),
    queueWaitMsMax: intSetting(env, 'HTTP_QUEUE_WAIT_MS_MAX', 1_000, 1, 60_000),
  };
}

export type RefusalReason = 'queue_full' | 'queue_timeout';

export interface AdmissionTicket {
  /** The caller went away while waiting: give up its place. No-op once admitted. */
  cancel(): void;
}

interface Waiter {
  admit: () => void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

export class AdmissionGate {
  private running = 0;
  // FIFO; settled waiters (timed out, cancelled) are skipped when their turn comes.
  private readonly waiting: Waiter[] = [];
  private waitingCount = 0;

  constructor(private readonly limits: AdmissionLimits) {
    if (!(limits.concurrencyMax >= 1 && limits.queueMax >= 0 && limits.queueWaitMsMax >= 1)) {
      throw new Error(`invalid admission limits ${JSON.stringify(limits)}`);
    }
  }

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waitingCount;
  }

  /** Whether enter() would refuse a request right now (every slot taken, the queue full). */
  isFull(): boolean {
    return !this.hasFreeSlot() && this.waitingCount >= this.limits.queueMax;
  }

  /** A slot is free and nobody waits for one: a request is admitted at once. */
  private hasFreeSlot(): boolean {
    return this.running < this.limits.concurrencyMax && this.waitingCount === 0;
  }

  /**
   * Exactly one of admit (now or later) or refuse (now, or when the wait bound passes) is
   * called, once. Every admitted request must call leave() exactly once when it is done.
   */
  enter(admit: () => void, refuse: (reason: RefusalReason) => void): AdmissionTicket {
    if (this.hasFreeSlot()) {
      this.running += 1;
      admit();
      return { cancel: () => undefined };
    }
    if (this.isFull()) {
      refuse('queue_full');
      return { cancel: () => undefined };
    }
    const waiter: Waiter = {
      admit,
      settled: false,
      timer: setTimeout(() => {
        if (waiter.settled) return;
        this.settle(waiter);
        refuse('queue_timeout');
      }, this.limits.queueWaitMsMax),
    };
    this.waiting.push(waiter);
    this.waitingCount += 1;
    return {
      cancel: () => {
        if (!waiter.settled) this.settle(waiter);
      },
    };
  }

  /** A running request is done: its slot goes to the longest-waiting request, if any. */
  leave(): void {
    if (this.running <= 0) throw new Error('AdmissionGate.leave() without a running request');
    this.running -= 1;
    while (this.waiting.length > 0 && this.running < this.limits.concurrencyMax) {
      const next = this.waiting.shift() as Waiter;
      if (next.settled) continue;
      this.settle(next);
      this.running += 1;
      next.admit();
    }
  }

  private settle(waiter: Waiter): void {
    waiter.settled = true;
    clearTimeout(waiter.timer);
    this.waitingCount -= 1;
    // Waiters that timed out or left stay in the array until their turn; bound that too.
    if (this.waiting.length > 2 * this.limits.queueMax + 64) {
      const live = this.waiting.filter((w) => !w.settled);
      this.waiting.splice(0, this.waiting.length, ...live);
    }
  }
}
