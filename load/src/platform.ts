// The platform a load run talks to: either the services at given URLs, or the real services
// started in this process over a fresh test environment (own database, own topic prefix) on
// the local stack, which is started first when it is not running.
import type { ServiceName } from '../../k6/scenarios.js';
import type { TestEnvironment } from '@ledgerline/platform/testing';

export type ServiceUrls = Partial<Record<ServiceName, string>>;

export interface LoadPlatform {
  readonly urls: ServiceUrls;
  /** The API key every request presents (an operator key with every scope the load uses). */
  readonly credential: string | undefined;
  /** Set when the services run in this process. */
  readonly env: TestEnvironment | null;
  /** Why a service that was asked for is not there (e.g. reconciliation not finished). */
  readonly unavailable: Partial<Record<ServiceName, string>>;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  readonly name: string;
  readonly audit: boolean;
  readonly reconciliation: boolean;
  /** Processor settings for benchmarks (pool size, batch sizes). */
  readonly processorOverrides?: Record<string, number>;
}

/** Sets KAFKA_BROKERS etc. from the local stack, starting it when it is down. */
export async function ensureLocalStack(): Promise<void> {
  if (process.env['KAFKA_BROKERS'] && process.env['DATABASE_URL']) return;
  const { startStack } = await import('@ledgerline/stack');
  const stack = await startStack({ log: (line) => process.stderr.write(`[stack] ${line}\n`) });
  process.env['KAFKA_BROKERS'] = stack.kafkaBrokers.join(',');
  process.env['SCHEMA_REGISTRY_URL'] = stack.schemaRegistryUrl;
  process.env['DATABASE_URL'] = stack.databaseUrl;
}

export async function startInProcessPlatform(options: InProcessOptions): Promise<LoadPlatform> {
  const { createTestEnvironment, deployTestDatabase, testRoleUrl } =
    await import('@ledgerline/platform/testing');
  const { SERVICE_DATABASES } = await import('../../scripts/databases.js');
  const { allTopics } = await import('@ledgerline/generated/topics');
  const { LEDGER_APP_ROLE, startLedger } = await import('@ledgerline/ledger/service');
  const { processorAppRole, processorConfigFromEnv } = await import('@ledgerline/processor/config');
  const { startProcessor } = await import('@ledgerline/processor/service');
  const env = await createTestEnvironment(options.name, allTopics);
  // The deploy step first, as the admin; each service gets only its own role's URL.
  await deployTestDatabase(env, SERVICE_DATABASES);
  const { createTestApiKey } = await import('@ledgerline/platform/testing');
  // The load authenticates like any client: one key with every scope of the four APIs.
  const credential = await createTestApiKey(env.databaseUrl, {
    name: `load-${options.name}`,
    scopes: await allApiScopes(),
  });
  const stops: (() => Promise<void>)[] = [];
  const urls: ServiceUrls = {};
  const unavailable: Partial<Record<ServiceName, string>> = {};
  const stop = async (): Promise<void> => {
    // Reverse order of start; the database goes last.
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await env.cleanup().catch(() => undefined);
  };
  try {
    const ledger = await startLedger({
      databaseUrl: testRoleUrl(env, LEDGER_APP_ROLE),
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      topicPrefix: env.topicPrefix,
      port: 0,
      autoRegisterSchemas: true,
    });
    stops.push(() => ledger.stop());
    urls.ledger = ledger.url;
    const processor = await startProcessor({
      ...processorConfigFromEnv({ ...process.env, LEDGERLINE_ENV: 'development' }),
      port: 0,
      databaseUrl: testRoleUrl(env, processorAppRole),
      kafkaBrokers: env.kafkaBrokers,
      schemaRegistryUrl: env.schemaRegistryUrl,
      topicPrefix: env.topicPrefix,
      development: true,
      relayIdlePollMs: 20,
      ...options.processorOverrides,
    });
    stops.push(() => processor.stop());
    urls.processor = processor.url;
    if (options.audit) {
      const { AUDIT_APP_ROLE, AUDIT_READER_ROLE, auditConfigFromEnv, startAudit } =
        await import('@ledgerline/audit/service');
      const audit = await startAudit({
        ...auditConfigFromEnv({ ...process.env, LEDGERLINE_ENV: 'development' }),
        databaseUrl: testRoleUrl(env, AUDIT_APP_ROLE),
        readerDatabaseUrl: testRoleUrl(env, AUDIT_READER_ROLE),
        kafkaBrokers: env.kafkaBrokers,
        schemaRegistryUrl: env.schemaRegistryUrl,
        topicPrefix: env.topicPrefix,
        port: 0,
        development: true,
      });
      stops.push(() => audit.stop());
      urls.audit = audit.url;
    }
    if (options.reconciliation) {
      try {
        const reconciliation = await startReconciliationService(
          env,
          testRoleUrl(env, 'reconciliation_app'),
        );
        stops.push(() => reconciliation.stop());
        urls.reconciliation = reconciliation.url;
      } catch (error) {
        unavailable.reconciliation = error instanceof Error ? error.message : String(error);
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls, credential, env, unavailable, stop };
}

/** Every scope the four APIs declare. */
export async function allApiScopes(): Promise<string[]> {
  const { documentScopes } = await import('@ledgerline/platform/http/auth');
  const documents = await Promise.all([
    import('@ledgerline/generated/openapi/ledger.document').then((m) => m.ledgerApiDocument),
    import('@ledgerline/generated/openapi/processor.document').then((m) => m.processorApiDocument),
    import('@ledgerline/generated/openapi/audit.document').then((m) => m.auditApiDocument),
    import('@ledgerline/generated/openapi/reconciliation.document').then(
      (m) => m.reconciliationApiDocument,
    ),
  ]);
  return [...new Set(documents.flatMap(documentScopes))].sort();
}

/**
 * The reconciliation service is being finished in parallel (services/reconciliation): load it
 * lazily and report its absence instead of failing every other scenario.
 */
async function startReconciliationService(
  env: TestEnvironment,
  /** reconciliation_app's URL into the test database (the deploy step made the role). */
  databaseUrl: string,
): Promise<{ url: string; stop(): Promise<void> }> {
  let module: Record<string, unknown>;
  // Not a literal: the type checker must not require the module before it is finished.
  const specifier = '@ledgerline/reconciliation/service';
  try {
    module = (await import(specifier)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(
      `services/reconciliation/src/service.ts cannot be loaded: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const start = module['startReconciliation'];
  const configFromEnv = module['reconciliationConfigFromEnv'];
  if (typeof start !== 'function' || typeof configFromEnv !== 'function') {
    throw new Error(
      'services/reconciliation/src/service.ts does not export startReconciliation and reconciliationConfigFromEnv yet',
    );
  }
  const base = configFromEnv({ ...process.env, LEDGERLINE_ENV: 'development' }) as object;
  return (await start({
    ...base,
    databaseUrl,
    kafkaBrokers: env.kafkaBrokers,
    schemaRegistryUrl: env.schemaRegistryUrl,
    topicPrefix: env.topicPrefix,
    port: 0,
    development: true,
    // Runs only on demand: the scenario decides when.
    intervalMs: 0,
  })) as { url: string; stop(): Promise<void> };
}

/** Services at given URLs (a compose stack, a staging environment). */
export function externalPlatform(urls: ServiceUrls, credential: string | undefined): LoadPlatform {
  return { urls, credential, env: null, unavailable: {}, stop: async () => undefined };
}
