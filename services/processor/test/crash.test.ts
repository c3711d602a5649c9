// Crashes between the commit and the publish: the payment's command sits in the outbox, and
// the next start publishes it exactly once (one commandId on ledger.commands).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '@ledgerline/platform/config';
import { ledgerCommandsConsumer, type LedgerCommandsTopic } from '@ledgerline/generated/topics';
import type { components } from '@ledgerline/generated/openapi/processor.types';
import { startProcessor } from '../src/service.js';
import {
  createTestBed,
  postJson,
  sleep,
  TopicReader,
  validPayment,
  type ProcessorTestBed,
} from './support.js';

type Payment = components['schemas']['Payment'];

function paymentRequestedIds(reader: TopicReader<LedgerCommandsTopic>, paymentId: string) {
  return reader.records
    .filter((r) => {
      const inner = r.value.command;
      return (
        'ledgerline.payments.v1.PaymentRequested' in inner &&
        inner['ledgerline.payments.v1.PaymentRequested'].paymentId === paymentId
      );
    })
    .map((r) => r.value.commandId);
}

/** The processor's main.ts in a child process; resolves once it listens. */
async function spawnProcessor(
  bed: ProcessorTestBed,
): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'services/processor/src/main.ts')],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        LOG_LEVEL: 'info',
        LEDGERLINE_ENV: 'development',
        // Its role's URL only: the admin's DATABASE_URL is the deploy step's, never a service's.
        DATABASE_URL: '',
        PROCESSOR_APP_DATABASE_URL: bed.config.databaseUrl,
        KAFKA_BROKERS: bed.env.kafkaBrokers.join(','),
        SCHEMA_REGISTRY_URL: bed.env.schemaRegistryUrl,
        LEDGERLINE_TOPIC_PREFIX: bed.env.topicPrefix,
        PROCESSOR_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`processor did not start: ${stderr}`)), 30_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'processor started' && entry.url !== undefined) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    void exited.then((code) => reject(new Error(`processor exited (${code}): ${stderr}`)));
  });
  return { child, url, exited };
}

describe('processor crash between commit and publish', () => {
  let bed: ProcessorTestBed;
  let reader: TopicReader<LedgerCommandsTopic>;

  beforeAll(async () => {
    bed = await createTestBed('processor-crash');
    reader = await TopicReader.start(
      bed.env.kafkaBrokers,
      ledgerCommandsConsumer(bed.serde, { topicPrefix: bed.env.topicPrefix }),
    );
  });

  afterAll(async () => {
    await reader?.stop();
    await bed?.close();
  });

  it('a payment committed while the relay is down is published exactly once after a restart', async () => {
    const down = await startProcessor({ ...bed.config, relayEnabled: false });
    const response = await postJson(`${down.url}/v1/payments`, validPayment(), {
      'idempotency-key': randomUUID(),
    });
    expect(response.status).toBe(202);
    const paymentId = (response.body as unknown as Payment).id;
    await sleep(1_000);
    expect(paymentRequestedIds(reader, paymentId)).toEqual([]);
    expect((await bed.counts()).outbox).toBe(2); // PaymentRequested + status PENDING
    await down.stop();

    const up = await startProcessor(bed.config);
    try {
      await reader.waitFor(() => paymentRequestedIds(reader, paymentId).length > 0);
      await sleep(1_000);
      expect(paymentRequestedIds(reader, paymentId)).toHaveLength(1);
      expect((await bed.counts()).outbox).toBe(0);
    } finally {
      await up.stop();
    }
  });

  it('SIGKILL right after the 202: the restarted process publishes the command, one commandId', async () => {
    const first = await spawnProcessor(bed);
    const paymentsBefore = (await bed.counts()).payments;
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        postJson(`${first.url}/v1/payments`, validPayment(), { 'idempotency-key': randomUUID() }),
      ),
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    const paymentIds = responses.map((r) => (r.body as unknown as Payment).id);

    const second = await spawnProcessor(bed);
    try {
      await reader.waitFor(() =>
        paymentIds.every((id) => paymentRequestedIds(reader, id).length > 0),
      );
      await sleep(1_000);
      for (const id of paymentIds) {
        // A relay killed between Kafka's ack and its DELETE re-sends the same bytes: the
        // records may repeat, the command (its commandId) never does.
        expect(new Set(paymentRequestedIds(reader, id)).size).toBe(1);
      }
      expect((await bed.counts()).outbox).toBe(0);
      expect((await bed.counts()).payments).toBe(paymentsBefore + 5);
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });
});
