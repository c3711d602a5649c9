// The one in-process launcher of Ledgerline for end-to-end tests, the SDK tests, benchmarks and
// load runs: the ledger and the processor (and, when asked, audit and reconciliation) started
// from their real wiring over one test environment (own database, own topic prefix, the deploy
// step first as the admin, each service with only its own role's URL), talked to only through
// their generated HTTP clients and their Kafka topics.
import { randomUUID } from 'node:crypto';
import { EventSerde } from '@ledgerline/platform/events/serde';
import { apiScopes } from '@ledgerline/generated/openapi/contracts';
import { allTopics } from '@ledgerline/generated/topics';
import { createLedgerClient, type LedgerClient } from '@ledgerline/generated/openapi/ledger.client';
import {
  createProcessorClient,
  type ProcessorClient,
} from '@ledgerline/generated/openapi/processor.client';
import type { components as LedgerComponents } from '@ledgerline/generated/openapi/ledger.types';
import type { components as ProcessorComponents } from '@ledgerline/generated/openapi/processor.types';
import {
  AUDIT_APP_ROLE,
  AUDIT_READER_ROLE,
  auditConfigFromEnv,
  startAudit,
  type AuditConfig,
  type AuditService,
} from '@ledgerline/audit/service';
import { LEDGER_APP_ROLE, startLedger, type RunningLedger } from '@ledgerline/ledger/service';
import { processorConfigFromEnv, type ProcessorConfig } from '@ledgerline/processor/config';
import {
  PROCESSOR_APP_ROLE,
  startProcessor,
  type RunningProcessor,
} from '@ledgerline/processor/service';
import {
  RECONCILIATION_APP_ROLE,
  reconciliationConfigFromEnv,
  startReconciliation,
  type ReconciliationConfig,
  type ReconciliationService,
} from '@ledgerline/reconciliation/service';
import { SERVICE_DATABASES } from '../../scripts/databases.js';
import {
  createTestApiKey,
  createTestEnvironment,
  deployTestDatabase,
  testRoleUrl,
  type TestEnvironment,
} from './testing.js';

export type Payment = ProcessorComponents['schemas']['Payment'];
export type PaymentStatus = ProcessorComponents['schemas']['PaymentStatus'];
export type Refund = ProcessorComponents['schemas']['Refund'];
export type Transaction = LedgerComponents['schemas']['Transaction'];
export type AccountEntry = LedgerComponents['schemas']['AccountEntry'];

/** Bound of every wait on the saga: a local stack answers in well under a second. */
export const SAGA_WAIT_MS_MAX = 30_000;

export interface PlatformOptions {
  /** Processor settings besides the development defaults (benchmarks: pool and batch sizes). */
  readonly processor?: Partial<ProcessorConfig>;
  /** Start the audit service too; an object overrides its development settings. */
  readonly audit?: boolean | Partial<AuditConfig>;
  /** Start reconciliation too (no continuous runs unless set); an object overrides settings. */
  readonly reconciliation?: boolean | Partial<ReconciliationConfig>;
}

export interface ServiceUrls {
  readonly ledger: string;
  readonly processor: string;
  readonly audit?: string;
  readonly reconciliation?: string;
}

export interface InProcessPlatform {
  readonly env: TestEnvironment;
  readonly ledger: RunningLedger;
  readonly processor: RunningProcessor;
  readonly audit: AuditService | undefined;
  readonly reconciliation: ReconciliationService | undefined;
  readonly urls: ServiceUrls;
  readonly ledgerApi: LedgerClient;
  readonly processorApi: ProcessorClient;
  /** The operator key the clients above use: every scope of every API contract. */
  readonly operatorKey: string;
  readonly serde: EventSerde;
  /** Stops the services in reverse order of start, then drops the test environment. */
  stop(): Promise<void>;
}

const overridesOf = <T>(option: boolean | Partial<T> | undefined): Partial<T> =>
  typeof option === 'object' ? option : {};

export async function startPlatform(
  name: string,
  options: PlatformOptions = {},
): Promise<InProcessPlatform> {
  const env = await createTestEnvironment(name, allTopics);
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    // Reverse order of start; the database and topics go last.
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
  };
  try {
    // The deploy step first, as the admin; each service gets only its own role's URL.
    await deployTestDatabase(env, SERVICE_DATABASES);
    const developmentEnv = { ...process.env, LEDGERLINE_ENV: 'development' };
    const endpoints = {
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      topicPrefix: env.topicPrefix,
      port: 0,
    };
    const ledger = await startLedger({
      ...endpoints,
      databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
      development: true,
    });
    stops.push(() => ledger.stop());
    const processor = await startProcessor({
      ...processorConfigFromEnv(developmentEnv),
      ...endpoints,
      databaseUrl: testRoleUrl(env, PROCESSOR_APP_ROLE),
      development: true,
      ...options.processor,
    });
    stops.push(() => processor.stop());
    let audit: AuditService | undefined;
    if (options.audit) {
      const started = await startAudit({
        ...auditConfigFromEnv(developmentEnv),
        ...endpoints,
        databaseUrl: testRoleUrl(env, AUDIT_APP_ROLE),
        readerDatabaseUrl: testRoleUrl(env, AUDIT_READER_ROLE),
        development: true,
        ...overridesOf<AuditConfig>(options.audit),
      });
      stops.push(() => started.stop());
      audit = started;
    }
    let reconciliation: ReconciliationService | undefined;
    if (options.reconciliation) {
      const started = await startReconciliation({
        ...reconciliationConfigFromEnv(developmentEnv),
        ...endpoints,
        databaseUrl: testRoleUrl(env, RECONCILIATION_APP_ROLE),
        development: true,
        // Runs only on demand: the test or scenario decides when.
        intervalMs: 0,
        ...overridesOf<ReconciliationConfig>(options.reconciliation),
      });
      stops.push(() => started.stop());
      reconciliation = started;
    }
    const serde = new EventSerde({ registryUrl: env.schemaRegistryUrl, autoRegister: true });
    // The clients authenticate like a user's would: an API key with every scope.
    const operatorKey = await createTestApiKey(env.databaseUrl, {
      name: `${name}-operator`,
      scopes: [...apiScopes],
    });
    return {
      env,
      ledger,
      processor,
      audit,
      reconciliation,
      urls: {
        ledger: ledger.url,
        processor: processor.url,
        ...(audit === undefined ? {} : { audit: audit.url }),
        ...(reconciliation === undefined ? {} : { reconciliation: reconciliation.url }),
      },
      ledgerApi: createLedgerClient(ledger.url, { credential: operatorKey }),
      processorApi: createProcessorClient(processor.url, { credential: operatorKey }),
      operatorKey,
      serde,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
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

/** A payer and a payee, new customer accounts (EUR), the payer funded with `fundedMinor`. */
export async function openPayerAndPayee(
  api: LedgerClient,
  fundedMinor: number,
  ownerPrefix: string,
): Promise<{ payer: string; payee: string }> {
  const payer = randomUUID();
  const payee = randomUUID();
  await openCustomerAccount(api, payer, `${ownerPrefix}-payer`);
  await openCustomerAccount(api, payee, `${ownerPrefix}-payee`);
  await fundAccount(api, payer, fundedMinor, randomUUID());
  return { payer, payee };
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

export { TopicReader } from './testing.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
