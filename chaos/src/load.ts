// A steady open-model payment load with refunds and rejections mixed in, through the processor
// API as a client would send it: every write has an Idempotency-Key, an answer that never came
// (status 0) or a 5xx is sent again with the same key and body after the fault, until the
// platform gives a definite answer. So "accepted" is exactly the set of payments the platform
// acknowledged, and nothing the client was told is left unknown.
import { randomUUID } from 'node:crypto';
import { driveStream } from '../../load/src/generator.js';
import {
  call,
  field,
  type ChangeAccountStatusRequest,
  type CreateAdjustmentRequest,
  type CreatePaymentRequest,
  type CreateRefundRequest,
  type OpenAccountRequest,
} from './api.js';
import type { Random } from './random.js';

export const CURRENCY = 'EUR';
/** Far more than a run moves out of an account: only the unfunded payer runs dry. */
const FUNDING_MINOR = 100_000_000;
const PAYMENT_AMOUNT_MINOR_MAX = 5_000;
/** Requests in flight at most; arrivals beyond wait (bounded backlog) or are dropped, counted. */
const IN_FLIGHT_MAX = 64;
/** Completed payments remembered as refund candidates. */
const REFUND_CANDIDATES_MAX = 2_000;
/** Attempts at a definite answer for a write whose answer was lost or unavailable. */
const RESOLVE_ATTEMPTS_MAX = 60;
const RESOLVE_PAUSE_MS = 1_000;
const SETUP_ATTEMPTS_MAX = 200;

/** The mix: shares of arrivals, in percent. */
const MIX = {
  /** Payer has no money: the ledger rejects the debit, the payment ends REJECTED. */
  insufficientFunds: 8,
  /** Payee is frozen: the credit is rejected, the payer is credited back (COMPENSATED). */
  frozenPayee: 5,
  /** A refund of an earlier payment (full or partial; refused while it is not COMPLETED). */
  refund: 10,
} as const;

export interface Accounts {
  funded: string[];
  unfunded: string;
  frozen: string;
}

export interface LoadCounts {
  offered: number;
  dropped: number;
  paymentsAccepted: number;
  refundsAccepted: number;
  /** 4xx answers: refused requests (a refund of a payment not yet COMPLETED, ...). */
  refused: number;
  /** Answers that were lost or 5xx/429 at first (then resolved with the same key). */
  retried: number;
  /** Writes still without a definite answer after every attempt (must be 0). */
  unresolved: number;
}

interface Write {
  kind: 'payment' | 'refund';
  path: string;
  body: CreatePaymentRequest | CreateRefundRequest;
  key: string;
  amountMinor: number;
  paymentId?: string;
}

/** Where the processor answers now; undefined while no instance runs (a refused connection). */
export interface ServiceUrls {
  processor(): string | undefined;
}

export class PaymentLoad {
  /** Every payment the platform acknowledged (202), with its kind. */
  readonly accepted = new Map<
    string,
    { kind: 'normal' | 'rejected' | 'compensated'; amountMinor: number }
  >();
  readonly refunds = new Set<string>();
  readonly counts: LoadCounts = {
    offered: 0,
    dropped: 0,
    paymentsAccepted: 0,
    refundsAccepted: 0,
    refused: 0,
    retried: 0,
    unresolved: 0,
  };
  /** Accepted payments per second since the load began (for the report's chart). */
  readonly acceptedPerSecond: number[] = [];
  private readonly unknown: Write[] = [];
  private readonly refundCandidates: string[] = [];
  private readonly originMs = Date.now();

  constructor(
    private readonly urls: ServiceUrls,
    private readonly credential: string,
    private readonly accounts: Accounts,
    private readonly random: Random,
  ) {}

  /** Runs `ratePerS` arrivals a second for `durationMs`; resolves when the last answer is in. */
  async run(ratePerS: number, durationMs: number, signal?: AbortSignal): Promise<void> {
    const result = await driveStream({
      load: {
        timeUnitS: 1,
        startRate: ratePerS,
        stages: [{ durationS: durationMs / 1000, target: ratePerS }],
      },
      inFlightMax: IN_FLIGHT_MAX,
      fire: () => this.fire(),
      ...(signal ? { signal } : {}),
    });
    this.counts.offered += result.offered;
    this.counts.dropped += result.dropped;
  }

  /** Sends every write whose answer was lost again, same key and body, until it is definite. */
  async resolveUnknown(): Promise<void> {
    for (let attempt = 0; attempt < RESOLVE_ATTEMPTS_MAX && this.unknown.length > 0; attempt += 1) {
      const pending = this.unknown.splice(0);
      for (const write of pending) {
        const status = await this.send(write);
        if (status === 0 || status >= 500 || status === 429) this.unknown.push(write);
      }
      if (this.unknown.length > 0) await new Promise((r) => setTimeout(r, RESOLVE_PAUSE_MS));
    }
    this.counts.unresolved = this.unknown.length;
  }

  private async fire(): Promise<void> {
    const roll = this.random.int(1, 100);
    let write: Write;
    if (roll <= MIX.refund && this.refundCandidates.length > 0) {
      const paymentId = this.random.pick(this.refundCandidates);
      const partial = this.random.chance(0.5);
      const body: CreateRefundRequest = partial
        ? { amountMinor: 1, reason: 'chaos partial refund' }
        : { reason: 'chaos full refund' };
      write = {
        kind: 'refund',
        path: `/v1/payments/${paymentId}/refunds`,
        body,
        key: `chaos-${randomUUID()}`,
        amountMinor: partial ? 1 : 0,
        paymentId,
      };
    } else {
      const [payer, payee] = this.parties(roll);
      const amountMinor = this.random.int(1, PAYMENT_AMOUNT_MINOR_MAX);
      const body: CreatePaymentRequest = {
        payerAccountId: payer,
        payeeAccountId: payee,
        amountMinor,
        currency: CURRENCY,
        description: 'chaos',
      };
      write = {
        kind: 'payment',
        path: '/v1/payments',
        body,
        key: `chaos-${randomUUID()}`,
        amountMinor,
      };
    }
    const status = await this.send(write);
    if (status === 0 || status >= 500 || status === 429) {
      this.counts.retried += 1;
      this.unknown.push(write);
    }
  }

  private parties(roll: number): [string, string] {
    const funded = this.accounts.funded;
    const payer = this.random.pick(funded);
    let payee = this.random.pick(funded);
    while (payee === payer) payee = this.random.pick(funded);
    const band = roll - MIX.refund;
    if (band > 0 && band <= MIX.insufficientFunds) return [this.accounts.unfunded, payee];
    if (band > MIX.insufficientFunds && band <= MIX.insufficientFunds + MIX.frozenPayee) {
      return [payer, this.accounts.frozen];
    }
    return [payer, payee];
  }

  /** One attempt; notes a definite answer. Answers the status. */
  private async send(write: Write): Promise<number> {
    const processorUrl = this.urls.processor();
    if (processorUrl === undefined) return 0;
    const answer = await call(processorUrl, this.credential, 'POST', write.path, write.body, {
      'idempotency-key': write.key,
    });
    if (answer.status === 202 || answer.status === 201 || answer.status === 200) {
      const id = field(answer.json, 'id');
      if (write.kind === 'payment' && id !== undefined) {
        if (!this.accepted.has(id)) {
          const body = write.body as CreatePaymentRequest;
          const kind =
            body.payerAccountId === this.accounts.unfunded
              ? 'rejected'
              : body.payeeAccountId === this.accounts.frozen
                ? 'compensated'
                : 'normal';
          this.accepted.set(id, { kind, amountMinor: write.amountMinor });
          this.counts.paymentsAccepted += 1;
          const second = Math.floor((Date.now() - this.originMs) / 1000);
          while (this.acceptedPerSecond.length <= second) this.acceptedPerSecond.push(0);
          this.acceptedPerSecond[second] = (this.acceptedPerSecond[second] ?? 0) + 1;
          if (kind === 'normal') {
            this.refundCandidates.push(id);
            if (this.refundCandidates.length > REFUND_CANDIDATES_MAX) this.refundCandidates.shift();
          }
        }
      } else if (write.kind === 'refund' && id !== undefined && !this.refunds.has(id)) {
        this.refunds.add(id);
        this.counts.refundsAccepted += 1;
      }
    } else if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      this.counts.refused += 1;
    }
    return answer.status;
  }
}

/**
 * Opens and funds the accounts through the ledger API (as an operator would), plus one account
 * that is never funded and one that is frozen. Retries while the ledger is still starting.
 */
export async function openAccounts(
  ledgerUrl: string,
  credential: string,
  fundedCount: number,
): Promise<Accounts> {
  const open = async (funded: boolean, freeze: boolean): Promise<string> => {
    const accountId = randomUUID();
    const body: OpenAccountRequest = {
      accountId,
      type: 'LIABILITY',
      currency: CURRENCY,
      ownerRef: `chaos-${accountId.slice(0, 8)}`,
      balanceFloorMinor: 0,
    };
    await until(`open ${accountId}`, async () => {
      const answer = await call(ledgerUrl, credential, 'POST', '/v1/accounts', body, {
        'idempotency-key': `open-${accountId}`,
      });
      return answer.status === 200 || answer.status === 201;
    });
    if (funded) {
      const funding: CreateAdjustmentRequest = {
        direction: 'CREDIT',
        amountMinor: FUNDING_MINOR,
        currency: CURRENCY,
        reference: `CHAOS-${accountId.slice(0, 8)}`,
        reason: 'chaos suite funding',
      };
      await until(`fund ${accountId}`, async () => {
        const answer = await call(
          ledgerUrl,
          credential,
          'POST',
          `/v1/accounts/${accountId}/adjustments`,
          funding,
          { 'idempotency-key': `fund-${accountId}` },
        );
        return answer.status === 201 && field(answer.json, 'status') === 'POSTED';
      });
    }
    if (freeze) {
      const change: ChangeAccountStatusRequest = {
        action: 'FREEZE',
        reason: 'chaos: compensations',
      };
      await until(`freeze ${accountId}`, async () => {
        const answer = await call(
          ledgerUrl,
          credential,
          'POST',
          `/v1/accounts/${accountId}/status`,
          change,
          {
            'idempotency-key': `freeze-${accountId}`,
          },
        );
        if (answer.status >= 300) return false;
        const account = await call(ledgerUrl, credential, 'GET', `/v1/accounts/${accountId}`);
        return field(account.json, 'status') === 'FROZEN';
      });
    }
    return accountId;
  };
  // A few at a time: the ledger takes each through ledger.commands.
  const funded = await Promise.all(
    Array.from({ length: fundedCount }, () => setupSlots.run(() => open(true, false))),
  );
  const [unfunded, frozen] = await Promise.all([open(false, false), open(true, true)]);
  return { funded, unfunded, frozen };
}

/** At most `size` setup calls at once. */
function slots(size: number): { run<T>(work: () => Promise<T>): Promise<T> } {
  let busy = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(work) {
      while (busy >= size) await new Promise<void>((r) => waiting.push(r));
      busy += 1;
      try {
        return await work();
      } finally {
        busy -= 1;
        waiting.shift()?.();
      }
    },
  };
}
const setupSlots = slots(8);

async function until(what: string, attempt: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < SETUP_ATTEMPTS_MAX; i += 1) {
    if (await attempt()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`setup: could not ${what}`);
}
