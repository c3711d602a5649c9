// Ingest rate of the audit trail on the real stack: produce N events of a payment flow first,
// then start the audit service and time how long it takes to chain all of them.
//   cd /work/main && npx tsx services/audit/bench/ingest.ts [events]
import { randomUUID } from 'node:crypto';
import { createPool } from '@ledgerline/platform/db';
import { createTestApiKey, createTestEnvironment } from '@ledgerline/testkit/testing';
import { allTopics } from '@ledgerline/generated/topics';
import { createAuditClient } from '@ledgerline/generated/openapi/audit.client';
import { startAudit } from '../src/service.js';
import {
  eventProducers,
  ledgerCommand,
  newPayment,
  statusChanged,
  stepPosted,
  testConfig,
  deployAuditDatabase,
} from '../test/support.js';

const EVENTS = Number(process.argv[2] ?? 20_000);
const SEND_BATCH = 1_000;
const WAIT_MS_MAX = 600_000;

async function main(): Promise<void> {
  if (!Number.isSafeInteger(EVENTS) || EVENTS < 3)
    throw new Error('events must be an integer >= 3');
  const env = await createTestEnvironment('audit-bench', allTopics);
  await deployAuditDatabase(env);
  const producers = await eventProducers(env);
  const admin = createPool(env.adminDatabaseUrl, { max: 1 });
  try {
    // Three events per payment: the command, the posted step, the status change.
    const payments = Math.ceil(EVENTS / 3);
    let produced = 0;
    const producedAt = Date.now();
    for (let start = 0; start < payments; start += SEND_BATCH) {
      const batch = Array.from({ length: Math.min(SEND_BATCH, payments - start) }, () =>
        newPayment(1 + Math.floor(Math.random() * 100_000)),
      );
      const commands = batch.map((p) => ({
        key: p.payer,
        value: ledgerCommand(p, p.payer, {
          'ledgerline.payments.v1.PaymentRequested': {
            paymentId: p.paymentId,
            payerAccountId: p.payer,
            payeeAccountId: p.payee,
            amountMinor: p.amountMinor,
            currency: p.currency,
          },
        }),
      }));
      await producers.commands.send(commands);
      await producers.stepPosted.send(
        batch.map((p, i) => ({
          key: p.paymentId,
          value: stepPosted(p, 'DEBIT', p.payer, randomUUID(), commands[i]!.value.commandId),
        })),
      );
      await producers.statusChanged.send(
        batch.map((p) => ({ key: p.paymentId, value: statusChanged(p, 1, null, 'DEBITED') })),
      );
      produced += batch.length * 3;
    }
    console.log(`produced ${produced} events in ${Date.now() - producedAt} ms`);

    const startedAt = Date.now();
    const service = await startAudit(testConfig(env));
    let recorded = 0;
    try {
      while (recorded < produced) {
        if (Date.now() - startedAt > WAIT_MS_MAX) throw new Error(`only ${recorded} recorded`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        const { rows } = await admin.query<{ n: number }>(
          'SELECT coalesce(max(sequence), 0)::int AS n FROM audit.trail',
        );
        recorded = rows[0]?.n ?? 0;
      }
      const seconds = (Date.now() - startedAt) / 1000;
      console.log(
        `ingested ${recorded} events in ${seconds.toFixed(2)} s (service start included): ` +
          `${Math.round(recorded / seconds)} events/s`,
      );
      // Steady state: from the first record's transaction to the last one's, start-up excluded.
      const { rows: span } = await admin.query<{ ms: number }>(
        `SELECT (extract(epoch FROM max(recorded_at) - min(recorded_at)) * 1000)::int AS ms
         FROM audit.trail`,
      );
      const spanSeconds = Math.max(0.001, (span[0]?.ms ?? 0) / 1000);
      console.log(
        `steady state: first to last record in ${spanSeconds.toFixed(2)} s: ` +
          `${Math.round(recorded / spanSeconds)} events/s`,
      );
      // One recorded_at per consumer batch (one PostgreSQL transaction).
      const { rows: batches } = await admin.query<{ batches: number; size_max: number }>(
        `SELECT count(*)::int AS batches, max(n)::int AS size_max
         FROM (SELECT count(*) AS n FROM audit.trail GROUP BY recorded_at) b`,
      );
      console.log(
        `${batches[0]?.batches} batches, ${Math.round(recorded / (batches[0]?.batches ?? 1))} ` +
          `records on average, ${batches[0]?.size_max} at most`,
      );
      const verifyStartedAt = Date.now();
      const auditorKey = await createTestApiKey(env.adminDatabaseUrl, {
        name: 'bench-auditor',
        scopes: ['audit:verify'],
      });
      const { data } = await createAuditClient(service.url, { credential: auditorKey }).GET(
        '/v1/verify',
      );
      const verifySeconds = (Date.now() - verifyStartedAt) / 1000;
      console.log(
        `verified ${data?.recordsChecked} records in ${verifySeconds.toFixed(2)} s ` +
          `(valid: ${String(data?.valid)}): ${Math.round((data?.recordsChecked ?? 0) / verifySeconds)} records/s`,
      );
    } finally {
      await service.stop();
    }
  } finally {
    await producers.producer.disconnect();
    await admin.end();
    await env.cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
