// The intake's backpressure: how many payments are still moving through their saga, sampled a
// few times a second from PostgreSQL (so every instance sees the whole platform's backlog, not
// only its own), and the refusal a new payment or refund gets while that count is at its bound.
// Past capacity this keeps the accepted rate at the rate payments finish, instead of accepting
// everything and spending the CPU on intake while the saga falls further behind.
import type { Logger } from '@ledgerline/platform/log';
import type { Backpressure } from '@ledgerline/platform/http/app';
import type { ServiceWorker } from '@ledgerline/platform/service/define-service';

/**
 * Only payments accepted this recently count: a payment stuck for longer (its command
 * dead-lettered, waiting for an operator) must not hold the intake shut for good.
 */
export const IN_FLIGHT_WINDOW_MS = 10 * 60_000;

export interface PaymentsInFlightOptions {
  /** Counts payments in flight accepted within the window, up to the cap it is given. */
  count: (cap: number, withinMs: number) => Promise<number>;
  /** The bound; 0 turns the backpressure off. */
  max: number;
  sampleMs: number;
  log: Logger;
}

/** POST /v1/payments and POST /v1/payments/{id}/refunds: the requests that start saga work. */
const SAGA_STARTING = /^\/v1\/payments(\/[^/]+\/refunds)?\/?$/;

export class PaymentsInFlight implements ServiceWorker, Backpressure {
  readonly name = 'payments-in-flight';
  private latest = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly options: PaymentsInFlightOptions) {}

  /** The last sampled count (capped at max). */
  get count(): number {
    return this.latest;
  }

  async start(): Promise<void> {
    if (this.options.max === 0) return;
    await this.sample();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  applies(req: { readonly method: string; readonly path: string }): boolean {
    return req.method === 'POST' && SAGA_STARTING.test(req.path);
  }

  refusal(): string | undefined {
    const { max } = this.options;
    if (max === 0 || this.latest < max) return undefined;
    return `${max} payments are still on their way through the ledger.`;
  }

  private async sample(): Promise<void> {
    try {
      this.latest = await this.options.count(this.options.max, IN_FLIGHT_WINDOW_MS);
      if (this.failing) this.options.log.info('payments in flight: counting again');
      this.failing = false;
    } catch (error) {
      // Keep the last count: PostgreSQL away fails the intake on its own (503 not-ready).
      if (!this.failing) this.options.log.warn({ err: error }, 'payments in flight: count failed');
      this.failing = true;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.sample(), this.options.sampleMs);
    this.timer.unref();
  }
}
