// Groups the writes of concurrent POST /v1/payments into one statement (group commit). A
// request is written at once when no batch is in flight; under load, the requests that
// arrive while one is in flight go together in the next, so the round trips and commits per
// payment fall as the rate rises, and a lone request waits for nothing.
import { invariant } from '@ledgerline/platform/invariant';
import { createPool, type Pool } from '@ledgerline/platform/db';
import { findIdempotencyRecord, type IdempotencyRecord } from '../store/idempotency.js';
import { acceptPayments, createPaymentScope, type PaymentIntake } from '../store/intake.js';

/**
 * Accepted: the payment and its outbox rows are committed. Otherwise the key's first record, or
 * nothing written because the caller's API key is no longer live.
 */
export type IntakeOutcome =
  | { readonly accepted: true }
  | { readonly accepted: false; readonly existing: IdempotencyRecord }
  | { readonly accepted: false; readonly keyNotLive: true };

export interface PaymentIntakeOptions {
  /** The processor's app role URL: the queue opens its own sessions (see the constructor). */
  readonly databaseUrl: string;
  /** How long a request waits for another, uncommitted request with the same key. */
  readonly lockTimeoutMs: number;
  readonly batchSizeMax?: number;
  /** Batches written at the same time (each holds a connection). */
  readonly batchesInFlightMax?: number;
  readonly onBatch?: (size: number) => void;
  /** An idle session ended by the server (restart, failover); the next batch opens another. */
  readonly onIdleError?: (error: Error) => void;
}

interface Waiting {
  readonly intake: PaymentIntake;
  readonly resolve: (outcome: IntakeOutcome) => void;
  readonly reject: (error: unknown) => void;
}

export class PaymentIntakeQueue {
  readonly name = 'payment intake';
  private waiting: Waiting[] = [];
  private inFlight = 0;
  private readonly batchSizeMax: number;
  private readonly batchesInFlightMax: number;
  private readonly pool: Pool;

  constructor(private readonly options: PaymentIntakeOptions) {
    const { lockTimeoutMs } = options;
    invariant(
      Number.isSafeInteger(lockTimeoutMs) && lockTimeoutMs > 0,
      `lockTimeoutMs must be a positive integer, got ${lockTimeoutMs}`,
    );
    this.batchSizeMax = options.batchSizeMax ?? 500;
    this.batchesInFlightMax = options.batchesInFlightMax ?? 2;
    // Sessions of its own, whose lock_timeout bounds the wait for a key that another request
    // holds. A batch is then one statement, atomic by itself, with no transaction around it:
    // no BEGIN and no COMMIT, two of the three round trips per batch (README "What we tried").
    this.pool = createPool(options.databaseUrl, {
      max: this.batchesInFlightMax,
      applicationName: 'processor-intake',
      sessionSettings: { lock_timeout: `${lockTimeoutMs}ms` },
      ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
    });
  }

  /** Closes its sessions; after the API stopped taking requests. */
  async stop(): Promise<void> {
    await this.pool.end();
  }

  /** Resolves once the intake is committed or its key found taken; rejects on a failure. */
  submit(intake: PaymentIntake): Promise<IntakeOutcome> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ intake, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.batchesInFlightMax && this.waiting.length > 0) {
      const batch = this.takeBatch();
      this.inFlight += 1;
      void this.settle(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  /**
   * The oldest requests, one per key: a second request with a key waits for the next batch,
   * and is then answered from the first one's record (a replay, or a refusal if it differs).
   */
  private takeBatch(): Waiting[] {
    const keys = new Set<string>();
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const waiting of this.waiting) {
      if (batch.length < this.batchSizeMax && !keys.has(waiting.intake.key)) {
        keys.add(waiting.intake.key);
        batch.push(waiting);
      } else {
        rest.push(waiting);
      }
    }
    this.waiting = rest;
    return batch;
  }

  private async settle(batch: readonly Waiting[]): Promise<void> {
    this.options.onBatch?.(batch.length);
    try {
      const outcomes = await this.write(batch.map((w) => w.intake));
      batch.forEach((waiting, i) => waiting.resolve(outcomes[i]!));
    } catch (error) {
      const [only] = batch;
      if (batch.length === 1 && only !== undefined) {
        only.reject(error);
        return;
      }
      // The claim wrote all of the batch or none of it: if it failed, nothing was written; if
      // a replay's lookup after it failed, the keys it claimed replay. One request's failure,
      // such as its key held by another request past the wait, must not fail the others: each
      // goes again on its own.
      await Promise.all(
        batch.map((waiting) =>
          this.write([waiting.intake]).then(
            ([outcome]) => waiting.resolve(outcome!),
            (alone: unknown) => waiting.reject(alone),
          ),
        ),
      );
    }
  }

  private async write(intakes: readonly PaymentIntake[]): Promise<IntakeOutcome[]> {
    const { claimed, keyNotLive } = await acceptPayments(this.pool, intakes);
    const outcomes: IntakeOutcome[] = [];
    for (const { key } of intakes) {
      if (claimed.has(key)) {
        outcomes.push({ accepted: true });
        continue;
      }
      if (keyNotLive.has(key)) {
        outcomes.push({ accepted: false, keyNotLive: true });
        continue;
      }
      // Not claimed: a committed request holds the key (the claim waited for an uncommitted
      // one). In a transaction, READ COMMITTED would see no more than this.
      const existing = await findIdempotencyRecord(this.pool, createPaymentScope, key);
      invariant(existing !== undefined, 'a key not claimed is stored');
      outcomes.push({ accepted: false, existing });
    }
    return outcomes;
  }
}
