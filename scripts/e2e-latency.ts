// `npm run e2e:latency`: end-to-end latency of a payment on the real stack, from the start of
// `POST /v1/payments` to the arrival of its COMPLETED event on payments.status-changed. Starts
// a ledger and a processor in-process on a fresh test environment, sends paced payments
// between funded accounts, prints p50/p95/p99 and writes reports/e2e-latency.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { paymentsStatusChangedConsumer } from '@ledgerline/generated/topics';
import {
  createPayment,
  fundAccount,
  openCustomerAccount,
  sleep,
  startPlatform,
  TopicReader,
} from '@ledgerline/testkit/platform';

const env = process.env;
const PAYMENT_COUNT = Number(env['E2E_PAYMENTS'] ?? 1_000);
const RATE_PER_SECOND = Number(env['E2E_RATE_PER_SECOND'] ?? 50);
const ACCOUNT_PAIRS = 50;
const FUNDING_MINOR = 10_000_000;
/** Bound on waiting for the last COMPLETED events after the last POST. */
const DRAIN_MS_MAX = 60_000;
const REPORT_PATH = path.join(REPO_ROOT, 'reports', 'e2e-latency.json');

if (!Number.isSafeInteger(PAYMENT_COUNT) || PAYMENT_COUNT < 1 || PAYMENT_COUNT > 100_000) {
  throw new Error('E2E_PAYMENTS must be an integer in 1..100000');
}
if (!Number.isSafeInteger(RATE_PER_SECOND) || RATE_PER_SECOND < 1 || RATE_PER_SECOND > 5_000) {
  throw new Error('E2E_RATE_PER_SECOND must be an integer in 1..5000');
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

async function main(): Promise<void> {
  const platform = await startPlatform('e2e-latency');
  try {
    const { ledgerApi, processorApi } = platform;
    const completedAtMs = new Map<string, number>();
    // Where the time goes: the DEBITED event marks the end of the ledger's first step.
    const debitedAtMs = new Map<string, number>();
    const reader = await TopicReader.start(
      platform.env.kafkaBrokers,
      paymentsStatusChangedConsumer(platform.serde, { topicPrefix: platform.env.topicPrefix }),
      (record, arrivedAtMs) => {
        if (record.value.to === 'COMPLETED') completedAtMs.set(record.value.paymentId, arrivedAtMs);
        if (record.value.to === 'DEBITED') debitedAtMs.set(record.value.paymentId, arrivedAtMs);
      },
    );

    // Distinct accounts spread the payments over the command topic's partitions.
    const payers = Array.from({ length: ACCOUNT_PAIRS }, () => randomUUID());
    const payees = Array.from({ length: ACCOUNT_PAIRS }, () => randomUUID());
    for (const id of [...payers, ...payees]) {
      await openCustomerAccount(ledgerApi, id, `latency-${id.slice(0, 8)}`);
    }
    for (const id of payers) await fundAccount(ledgerApi, id, FUNDING_MINOR, `latency-${id}`);

    // Warm-up: one payment end to end, so connections and schema caches are not measured.
    const warmUp = await createPayment(processorApi, {
      payerAccountId: payers[0] as string,
      payeeAccountId: payees[0] as string,
      amountMinor: 1,
      currency: 'EUR',
    });
    const warmUpDeadline = Date.now() + 60_000;
    while (!completedAtMs.has(warmUp.id)) {
      if (Date.now() > warmUpDeadline) throw new Error('warm-up payment did not complete in 60 s');
      await sleep(20);
    }

    console.log(`sending ${PAYMENT_COUNT} payments at ${RATE_PER_SECOND}/s ...`);
    const postStartMs = new Map<string, number>();
    const failures: string[] = [];
    const intervalMs = 1_000 / RATE_PER_SECOND;
    const sendStartedMs = Date.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < PAYMENT_COUNT; i += 1) {
      // Open-loop pacing: payment i starts at its slot whatever the previous ones are doing.
      const slotMs = sendStartedMs + i * intervalMs;
      const waitMs = slotMs - Date.now();
      if (waitMs > 0) await sleep(waitMs);
      const startMs = Date.now();
      inFlight.push(
        createPayment(processorApi, {
          payerAccountId: payers[i % ACCOUNT_PAIRS] as string,
          payeeAccountId: payees[(i * 7) % ACCOUNT_PAIRS] as string,
          amountMinor: 100 + (i % 900),
          currency: 'EUR',
        }).then(
          (payment) => {
            postStartMs.set(payment.id, startMs);
          },
          (error: unknown) => {
            failures.push(String(error));
          },
        ),
      );
    }
    await Promise.all(inFlight);
    const sendSeconds = (Date.now() - sendStartedMs) / 1_000;

    const drainDeadline = Date.now() + DRAIN_MS_MAX;
    const pending = () => [...postStartMs.keys()].filter((id) => !completedAtMs.has(id));
    while (pending().length > 0 && Date.now() < drainDeadline) await sleep(50);
    const notCompleted = pending();
    await reader.stop();

    const since = (ends: Map<string, number>) =>
      [...postStartMs.entries()]
        .flatMap(([id, start]) => {
          const end = ends.get(id);
          return end === undefined ? [] : [end - start];
        })
        .sort((a, b) => a - b);
    const latenciesMs = since(completedAtMs);
    const debitedMs = since(debitedAtMs);
    const report = {
      at: new Date().toISOString(),
      payments: PAYMENT_COUNT,
      ratePerSecondTarget: RATE_PER_SECOND,
      ratePerSecondAchieved: Math.round(PAYMENT_COUNT / sendSeconds),
      accounts: ACCOUNT_PAIRS * 2,
      completed: latenciesMs.length,
      postFailures: failures.length,
      notCompleted: notCompleted.length,
      measure: 'POST /v1/payments start -> COMPLETED on payments.status-changed (read_committed)',
      latencyMs: {
        p50: percentile(latenciesMs, 50),
        p95: percentile(latenciesMs, 95),
        p99: percentile(latenciesMs, 99),
        max: latenciesMs.at(-1) ?? Number.NaN,
        mean: Math.round(latenciesMs.reduce((a, b) => a + b, 0) / Math.max(1, latenciesMs.length)),
      },
      postToDebitedMs: { p50: percentile(debitedMs, 50), p95: percentile(debitedMs, 95) },
      loadAverage1m: Number(os.loadavg()[0]?.toFixed(2)),
      cpus: os.cpus().length,
    };
    mkdirSync(path.dirname(REPORT_PATH), { recursive: true });
    writeFileSync(REPORT_PATH, `${JSON.stringify(report, null, 2)}\n`);
    console.log(
      `completed ${report.completed}/${PAYMENT_COUNT} at ${report.ratePerSecondAchieved}/s: ` +
        `p50 ${report.latencyMs.p50} ms, p95 ${report.latencyMs.p95} ms, ` +
        `p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms ` +
        `(POST -> DEBITED p50 ${report.postToDebitedMs.p50} ms; load ${report.loadAverage1m} on ${report.cpus} CPUs)`,
    );
    console.log(`wrote ${path.relative(REPO_ROOT, REPORT_PATH)}`);
    if (failures.length > 0) console.error(`POST failures: ${failures.slice(0, 3).join('; ')}`);
    if (notCompleted.length > 0 || failures.length > 0) {
      console.error(`${notCompleted.length} payments not COMPLETED within ${DRAIN_MS_MAX} ms`);
      process.exitCode = 1;
    }
  } finally {
    await platform.stop();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  },
);
