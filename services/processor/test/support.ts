// Shared by the processor's integration tests: a processor on the real stack in its own
// database and topic namespace, a superuser view of its tables, and a topic reader that
// decodes with the generated consumers.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { EventSerde } from '@ledgerline/platform/events/serde';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  eventually as pollUntil,
  scrapeMetrics,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/testkit/testing';
import {
  ledgerCommandsTopic,
  ledgerlineDeadLetterTopic,
  ledgerPostingRejectedTopic,
  ledgerStepPostedTopic,
  paymentsStatusChangedTopic,
} from '@ledgerline/generated/topics';
import { processorConfigFromEnv, type ProcessorConfig } from '../src/config.js';
import { PROCESSOR_APP_ROLE, processorDatabase } from '../src/database.js';

export const processorTopics = [
  ledgerCommandsTopic,
  ledgerStepPostedTopic,
  ledgerPostingRejectedTopic,
  paymentsStatusChangedTopic,
  ledgerlineDeadLetterTopic,
] as const;

export interface ProcessorTestBed {
  readonly env: TestEnvironment;
  readonly config: ProcessorConfig;
  readonly admin: pg.Pool;
  readonly serde: EventSerde;
  /** A merchant integration's key: pays, reads payments, refunds. postJson and authedFetch send it. */
  readonly apiKey: string;
  counts(): Promise<{ payments: number; refunds: number; keys: number; outbox: number }>;
  close(): Promise<void>;
}

export async function createTestBed(name: string): Promise<ProcessorTestBed> {
  const env = await createTestEnvironment(name, processorTopics);
  // The deploy step first, as the admin; the processor gets only processor_app's URL.
  await deployTestDatabase(env, [processorDatabase]);
  const config: ProcessorConfig = {
    ...processorConfigFromEnv({ ...process.env, LEDGERLINE_ENV: 'development' }),
    port: 0,
    databaseUrl: testRoleUrl(env, PROCESSOR_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    development: true,
  };
  const admin = new pg.Pool({ connectionString: env.adminDatabaseUrl, max: 2 });
  admin.on('error', () => undefined); // the database is dropped under idle connections at the end
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  const apiKey = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'processor-client',
    scopes: ['payments:read', 'payments:write', 'refunds:write'],
  });
  testCredential = apiKey;
  scraperCredential = await createTestApiKey(env.adminDatabaseUrl, {
    name: 'processor-scraper',
    scopes: ['metrics:read'],
  });
  return {
    env,
    config,
    admin,
    serde,
    apiKey,
    async counts() {
      const { rows } = await admin.query<{
        payments: number;
        refunds: number;
        keys: number;
        outbox: number;
      }>(
        `SELECT (SELECT count(*)::int FROM processor.payments) AS payments,
                (SELECT count(*)::int FROM processor.refunds) AS refunds,
                (SELECT count(*)::int FROM processor.idempotency_keys) AS keys,
                (SELECT count(*)::int FROM processor.outbox) AS outbox`,
      );
      const row = rows[0];
      if (row === undefined) throw new Error('no counts');
      return row;
    },
    async close() {
      await admin.end();
      await env.cleanup();
    },
  };
}

export { TopicReader } from '@ledgerline/testkit/testing';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value, bounded. */
export function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  return pollUntil(check, what, timeoutMs, 50);
}

export const validPayment = (): Record<string, unknown> => ({
  payerAccountId: randomUUID(),
  payeeAccountId: randomUUID(),
  amountMinor: 12_500,
  currency: 'EUR',
  description: 'Invoice 2026-0042',
  metadata: { invoice: '2026-0042' },
});

// The test bed's key: every request of a test file authenticates like the merchant would.
let testCredential: string | undefined;

function authorization(): Record<string, string> {
  if (testCredential === undefined) throw new Error('create the test bed first (it holds the key)');
  return { authorization: `Bearer ${testCredential}` };
}

// A scraper's key: /metrics needs metrics:read, which the merchant's key above does not carry.
let scraperCredential: string | undefined;

/** The processor's /metrics text, read with the test bed's scraper key. */
export function processorMetrics(processorUrl: string): Promise<string> {
  if (scraperCredential === undefined)
    throw new Error('create the test bed first (it holds the key)');
  return scrapeMetrics(processorUrl, scraperCredential);
}

/** fetch with the test bed's credential (headers given here win). */
export function authedFetch(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    ...init,
    headers: { ...authorization(), ...(init.headers as Record<string, string> | undefined) },
  });
}

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authorization(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  };
}
