// Where the HTTP pacts' provider states are reproduced: the platform's four real services, in
// process, over the real stack (PostgreSQL, Kafka, the registry) on a test environment of their
// own, and the situations consumers ask for, each made through the platform's own APIs and
// sagas, never by writing rows behind a service's back.
import { randomUUID } from 'node:crypto';
import { createKafka } from '@ledgerline/platform/kafka';
import { createAuditClient } from '@ledgerline/generated/openapi/audit.client';
import { createReconciliationClient } from '@ledgerline/generated/openapi/reconciliation.client';
import { NOT_AVRO } from '@ledgerline/testkit/poison';
import { eventually } from '@ledgerline/testkit/testing';
import {
  createPayment,
  fundAccount,
  hasStatus,
  openCustomerAccount,
  startPlatform,
  waitForPayment,
  type InProcessPlatform,
} from '@ledgerline/testkit/platform';

export interface CompletedPayment {
  readonly paymentId: string;
  readonly payerAccountId: string;
  readonly payeeAccountId: string;
  /** The ledger transaction of its DEBIT step. */
  readonly debitTransactionId: string;
}

export interface MatchedStatement {
  readonly statementId: string;
  /** The STATEMENT run that matched it; it found discrepancies (the unknown line). */
  readonly runId: string;
}

export interface DeadLetter {
  /** The environment's dead-letter topic (with its prefix), as the audit trail names it. */
  readonly deadLetterTopic: string;
  /** A window around now that holds the dead letter (the console asks for the last days). */
  readonly from: string;
  readonly to: string;
}

export interface HttpWorld {
  readonly platform: InProcessPlatform;
  /** A completed payment between two funded accounts: made once, then the same one. */
  completedPayment(): Promise<CompletedPayment>;
  /** A completed payment of its own each time (for interactions that change it). */
  newCompletedPayment(): Promise<CompletedPayment>;
  /** A funded customer account of its own each time (for interactions that change it). */
  newAccount(): Promise<string>;
  /**
   * A bank statement matched against the settlement account: one line matches a funding wire,
   * one names a wire with another amount, one names no wire at all, and one wire of the day is
   * not on it. Made once.
   */
  matchedStatement(): Promise<MatchedStatement>;
  /** A poison record on ledger.commands, dead-lettered by the ledger and in the trail. */
  deadLetter(): Promise<DeadLetter>;
  stop(): Promise<void>;
}

const FUNDING_MINOR = 1_000_000;
const PAYMENT_MINOR = 12_500;

export async function startHttpWorld(name: string): Promise<HttpWorld> {
  const platform = await startPlatform(name, { audit: true, reconciliation: true });
  const api = platform.ledgerApi;
  const credential = platform.operatorKey;
  const { audit: auditUrl, reconciliation: reconciliationUrl } = platform.urls;
  if (auditUrl === undefined || reconciliationUrl === undefined) {
    throw new Error('the world needs audit and reconciliation running');
  }
  const audit = createAuditClient(auditUrl, { credential });
  const reconciliation = createReconciliationClient(reconciliationUrl, { credential });
  const fundingReference = (accountId: string) => `WIRE-pact-fund-${accountId}`;

  const newAccount = async (): Promise<string> => {
    const accountId = randomUUID();
    await openCustomerAccount(api, accountId, `pact-${accountId.slice(0, 8)}`);
    // fundAccount's reference is WIRE-<idempotency key>: the statement below names it.
    await fundAccount(api, accountId, FUNDING_MINOR, `pact-fund-${accountId}`);
    return accountId;
  };

  const newCompletedPayment = async (): Promise<CompletedPayment> => {
    const [payerAccountId, payeeAccountId] = await Promise.all([newAccount(), newAccount()]);
    const accepted = await createPayment(platform.processorApi, {
      payerAccountId,
      payeeAccountId,
      amountMinor: PAYMENT_MINOR,
      currency: 'EUR',
      description: 'Invoice 2026-0042',
    });
    const payment = await waitForPayment(
      platform.processorApi,
      accepted.id,
      hasStatus('COMPLETED'),
    );
    const debit = payment.steps.find((s) => s.step === 'DEBIT' && s.transactionId !== null);
    if (debit?.transactionId == null) throw new Error(`payment ${payment.id}: no DEBIT posted`);
    // Audit consumes on its own: the trail is complete once it holds the COMPLETED change.
    await eventually(async () => {
      const { data } = await audit.GET('/v1/trail/payments/{paymentId}', {
        params: { path: { paymentId: payment.id }, query: { limit: 500 } },
      });
      const completed = data?.items.some((r) => (r.payload as { to?: unknown }).to === 'COMPLETED');
      return completed === true ? true : undefined;
    }, `the audit trail of payment ${payment.id}`);
    return {
      paymentId: payment.id,
      payerAccountId,
      payeeAccountId,
      debitTransactionId: debit.transactionId,
    };
  };

  const matchStatement = async (): Promise<MatchedStatement> => {
    // A third wire the statement leaves out: the ledger's side has an unmatched entry too.
    const [matched, otherAmount] = await Promise.all([newAccount(), newAccount(), newAccount()]);
    const today = new Date().toISOString().slice(0, 10);
    const csv = [
      'reference,amount_minor,currency,value_date',
      `${fundingReference(matched)},${FUNDING_MINOR},EUR,${today}`,
      `${fundingReference(otherAmount)},${FUNDING_MINOR - 1},EUR,${today}`,
      `WIRE-pact-unknown-${matched},5000,EUR,${today}`,
      '',
    ].join('\n');
    const { data, error, response } = await reconciliation.POST('/v1/statements', {
      body: csv,
      headers: { 'content-type': 'text/csv' },
      bodySerializer: (body: string) => body,
    });
    if (data === undefined || data.runId === null) {
      throw new Error(`statement: ${response.status} ${JSON.stringify(error ?? data)}`);
    }
    if (
      data.matched.length === 0 ||
      data.amountDifferences.length === 0 ||
      data.unmatchedLedgerEntries.length === 0
    ) {
      throw new Error(`statement matched nothing: ${JSON.stringify(data)}`);
    }
    return { statementId: data.statementId, runId: data.runId };
  };

  const deadLetterTopic = `${platform.env.topicPrefix}ledgerline.dead-letter`;
  const poison = async (): Promise<DeadLetter> => {
    const producer = createKafka(platform.env.kafkaBrokers, `${name}-poison`).producer();
    await producer.connect();
    try {
      await producer.send({
        topic: `${platform.env.topicPrefix}ledger.commands`,
        messages: [{ key: randomUUID(), value: NOT_AVRO }],
      });
    } finally {
      await producer.disconnect();
    }
    await eventually(async () => {
      const { data } = await audit.GET('/v1/trail', {
        params: {
          query: {
            from: new Date(Date.now() - 3_600_000).toISOString(),
            to: new Date(Date.now() + 60_000).toISOString(),
            topic: deadLetterTopic,
            limit: 200,
          },
        },
      });
      return (data?.items.length ?? 0) > 0 ? true : undefined;
    }, 'the dead letter in the audit trail');
    return {
      deadLetterTopic,
      from: new Date(Date.now() - 7 * 86_400_000).toISOString(),
      to: new Date(Date.now() + 3_600_000).toISOString(),
    };
  };

  let shared: Promise<CompletedPayment> | undefined;
  let statement: Promise<MatchedStatement> | undefined;
  let deadLetter: Promise<DeadLetter> | undefined;
  return {
    platform,
    completedPayment: () => (shared ??= newCompletedPayment()),
    newCompletedPayment,
    newAccount,
    matchedStatement: () => (statement ??= matchStatement()),
    deadLetter: () => (deadLetter ??= poison()),
    stop: () => platform.stop(),
  };
}
