// The core of Ledgerline in one process for end-to-end tests and benchmarks: a ledger and a
// processor started from their real wiring over one test environment (same database, same
// topic prefix), talked to only through their generated HTTP clients and their Kafka topics.
import { randomUUID } from 'node:crypto';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { documentScopes } from '@ledgerline/platform/http/auth';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  testRoleUrl,
  type TestEnvironment,
} from '@ledgerline/platform/testing';
import { ledgerApiDocument } from '@ledgerline/generated/openapi/ledger.document';
import { processorApiDocument } from '@ledgerline/generated/openapi/processor.document';
import { allTopics } from '@ledgerline/generated/topics';
import { createLedgerClient, type LedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import {
  createProcessorClient,
  type ProcessorClient,
} from '@ledgerline/generated/openapi/processor.client';
import type { components as LedgerComponents } from '@ledgerline/generated/openapi/ledger.types';
import type { components as ProcessorComponents } from '@ledgerline/generated/openapi/processor.types';
import { LEDGER_APP_ROLE, startLedger, type RunningLedger } from '@ledgerline/ledger/service';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import { processorAppRole, processorConfigFromEnv } from '@ledgerline/processor/config';
import { startProcessor, type RunningProcessor } from '@ledgerline/processor/service';

export type Payment = ProcessorComponents['schemas']['Payment'];
export type PaymentStatus = ProcessorComponents['schemas']['PaymentStatus'];
export type Refund = ProcessorComponents['schemas']['Refund'];
export type Transaction = LedgerComponents['schemas']['Transaction'];
export type AccountEntry = LedgerComponents['schemas']['AccountEntry'];

/** Bound of every wait on the saga: a local stack answers in well under a second. */
export const SAGA_WAIT_MS_MAX = 30_000;

export interface E2ePlatform {
  readonly env: TestEnvironment;
  readonly ledger: RunningLedger;
  readonly processor: RunningProcessor;
  readonly ledgerApi: LedgerClient;
  readonly processorApi: ProcessorClient;
  /** The operator key the clients above use: every scope of the ledger and processor APIs. */
  readonly operatorKey: string;
  readonly serde: EventSerde;
  stop(): Promise<void>;
}

export async function startPlatform(name: string): Promise<E2ePlatform> {
  const env = await createTestEnvironment(name, allTopics);
  // The deploy step first, as the admin; each service gets only its own role's URL.
  await deployTestDatabase(env, SERVICE_DATABASES);
  const ledger = await startLedger({
    databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    autoRegisterSchemas: true,
  });
  let processor: RunningProcessor;
  try {
    processor = await startProcessor({
      ...processorConfigFromEnv({ ...process.env, LEDGERLINE_ENV: 'development' }),
      port: 0,
      databaseUrl: testRoleUrl(env, processorAppRole),
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      topicPrefix: env.topicPrefix,
      development: true,
      relayIdlePollMs: 20,
    });
  } catch (error) {
    await ledger.stop();
    await env.cleanup();
    throw error;
  }
  const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
  // The clients authenticate like a user's would: an API key with the scopes the tests need.
  const operatorKey = await createTestApiKey(env.databaseUrl, {
    name: 'e2e-operator',
    scopes: [
      ...new Set([...documentScopes(ledgerApiDocument), ...documentScopes(processorApiDocument)]),
    ],
  });
  return {
    env,
    ledger,
    processor,
    ledgerApi: createLedgerClient(ledger.url, { credential: operatorKey }),
    processorApi: createProcessorClient(processor.url, { credential: operatorKey }),
    operatorKey,
    serde,
    async stop() {
      await processor.stop();
      await ledger.stop();
      await env.cleanup();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Ledger API helpers (accounts, funding, balances)

export async function openCustomerAccount(
  api: LedgerClient,
  accountId: string,
  ownerRef: string,
  currency = 'EUR',
): Promise<void> {
  const { data, error, response } = await api.POST('/v1/accounts', {
    body: { accountId, type: 'LIABILITY', currency, ownerRef, balanceFloorMinor: 0 },
  });
  // 200: already open with the same attributes (a rerun); 201: opened now.
  if (error !== undefined || (response.status !== 200 && response.status !== 201)) {
    throw new Error(`open ${accountId}: ${response.status} ${JSON.stringify(error ?? data)}`);
  }
}

export async function fundAccount(
  api: LedgerClient,
  accountId: string,
  amountMinor: number,
  idempotencyKey: string,
  currency = 'EUR',
): Promise<string> {
  const { data, error, response } = await api.POST('/v1/accounts/{accountId}/adjustments', {
    params: { path: { accountId }, header: { 'Idempotency-Key': idempotencyKey } },
    body: {
      direction: 'CREDIT',
      amountMinor,
      currency,
      reference: `WIRE-${idempotencyKey}`.slice(0, 64),
      reason: 'funding',
    },
  });
  if (error !== undefined || data === undefined || response.status !== 201) {
    throw new Error(`fund ${accountId}: ${response.status} ${JSON.stringify(error ?? data)}`);
  }
  if (data.status !== 'POSTED' || data.transactionId === null) {
    throw new Error(`fund ${accountId}: ${data.status} ${data.rejectionReason ?? ''}`);
  }
  return data.transactionId;
}

export async function freezeAccount(api: LedgerClient, accountId: string): Promise<void> {
  const { data, error, response } = await api.POST('/v1/accounts/{accountId}/status', {
    params: { path: { accountId } },
    body: { action: 'FREEZE', reason: 'e2e: frozen payee' },
  });
  if (error !== undefined || response.status !== 200 || data === undefined) {
    throw new Error(`freeze ${accountId}: ${response.status} ${JSON.stringify(error ?? data)}`);
  }
  if (!('status' in data) || data.status !== 'FROZEN') {
    throw new Error(`freeze ${accountId}: account is ${JSON.stringify(data)}`);
  }
}

export async function balanceMinor(api: LedgerClient, accountId: string): Promise<number> {
  const { data, error, response } = await api.GET('/v1/accounts/{accountId}/balance', {
    params: { path: { accountId } },
  });
  if (error !== undefined || data === undefined) {
    throw new Error(`balance ${accountId}: ${response.status} ${JSON.stringify(error)}`);
  }
  return data.balanceMinor;
}

export async function clearingAccountId(api: LedgerClient, currency = 'EUR'): Promise<string> {
  const { data, error, response } = await api.GET('/v1/system-accounts', {
    params: { query: { currency } },
  });
  if (error !== undefined || data === undefined) {
    throw new Error(`system accounts: ${response.status} ${JSON.stringify(error)}`);
  }
  const clearing = data.items.find((a) => a.systemKind === 'CLEARING');
  if (clearing === undefined) throw new Error(`no ${currency} clearing account`);
  return clearing.id;
}

/** Every entry of the account, oldest first (all pages, bounded). */
export async function accountEntries(
  api: LedgerClient,
  accountId: string,
): Promise<AccountEntry[]> {
  const entries: AccountEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 1_000; page += 1) {
    const { data, error, response } = await api.GET('/v1/accounts/{accountId}/entries', {
      params: { path: { accountId }, query: { limit: 500, ...(cursor ? { cursor } : {}) } },
    });
    if (error !== undefined || data === undefined) {
      throw new Error(`entries ${accountId}: ${response.status} ${JSON.stringify(error)}`);
    }
    entries.push(...data.items);
    if (data.nextCursor === null) return entries;
    cursor = data.nextCursor;
  }
  throw new Error(`entries ${accountId}: more than 1000 pages`);
}

export async function getTransaction(
  api: LedgerClient,
  transactionId: string,
): Promise<Transaction> {
  const { data, error, response } = await api.GET('/v1/transactions/{transactionId}', {
    params: { path: { transactionId } },
  });
  if (error !== undefined || data === undefined) {
    throw new Error(`transaction ${transactionId}: ${response.status} ${JSON.stringify(error)}`);
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Processor API helpers

export interface PaymentRequest {
  payerAccountId: string;
  payeeAccountId: string;
  amountMinor: number;
  currency: string;
  description?: string;
}

export async function createPayment(
  api: ProcessorClient,
  request: PaymentRequest,
  idempotencyKey: string = randomUUID(),
): Promise<Payment> {
  const { data, error, response } = await api.POST('/v1/payments', {
    params: { header: { 'Idempotency-Key': idempotencyKey } },
    body: request,
  });
  if (error !== undefined || data === undefined || response.status !== 202) {
    throw new Error(`create payment: ${response.status} ${JSON.stringify(error ?? data)}`);
  }
  return data;
}

export async function getPayment(api: ProcessorClient, paymentId: string): Promise<Payment> {
  const { data, error, response } = await api.GET('/v1/payments/{paymentId}', {
    params: { path: { paymentId } },
  });
  if (error !== undefined || data === undefined) {
    throw new Error(`payment ${paymentId}: ${response.status} ${JSON.stringify(error)}`);
  }
  return data;
}

export async function createRefund(
  api: ProcessorClient,
  paymentId: string,
  amountMinor: number | undefined,
  idempotencyKey: string = randomUUID(),
): Promise<Refund> {
  const { data, error, response } = await api.POST('/v1/payments/{paymentId}/refunds', {
    params: { path: { paymentId }, header: { 'Idempotency-Key': idempotencyKey } },
    body: amountMinor === undefined ? { reason: 'e2e refund' } : { amountMinor, reason: 'e2e' },
  });
  if (error !== undefined || data === undefined || response.status !== 202) {
    throw new Error(`refund ${paymentId}: ${response.status} ${JSON.stringify(error ?? data)}`);
  }
  return data;
}

/** Polls the payment until `done` holds for it, bounded by `timeoutMs`. */
export async function waitForPayment(
  api: ProcessorClient,
  paymentId: string,
  done: (payment: Payment) => boolean,
  timeoutMs = SAGA_WAIT_MS_MAX,
): Promise<Payment> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const payment = await getPayment(api, paymentId);
    if (done(payment)) return payment;
    if (Date.now() > deadline) {
      throw new Error(
        `payment ${paymentId} still ${payment.status} after ${timeoutMs} ms: ${JSON.stringify(payment.steps)}`,
      );
    }
    await sleep(50);
  }
}

export const hasStatus =
  (...statuses: PaymentStatus[]) =>
  (payment: Payment): boolean =>
    statuses.includes(payment.status);

// ---------------------------------------------------------------------------------------------
// Kafka: a reader that decodes with the generated consumers

export { TopicReader } from '@ledgerline/platform/testing';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
