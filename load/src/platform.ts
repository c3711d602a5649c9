// The platform a load run talks to: either the services at given URLs, or the real services
// started in this process (the testkit's launcher) over a fresh test environment (own database,
// own topic prefix) on the local stack, which is started first when it is not running.
import type { ServiceName } from '../../k6/scenarios.js';
import type { TestEnvironment } from '@ledgerline/testkit/testing';

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

/** The real services in this process: the testkit's one in-process launcher. */
export async function startInProcessPlatform(options: InProcessOptions): Promise<LoadPlatform> {
  // Loaded on demand: a run against external URLs needs none of the services' code.
  const { startPlatform } = await import('@ledgerline/testkit/platform');
  const platform = await startPlatform(options.name, {
    audit: options.audit,
    reconciliation: options.reconciliation,
  });
  return {
    urls: platform.urls,
    credential: platform.operatorKey,
    env: platform.env,
    unavailable: {},
    stop: () => platform.stop(),
  };
}

/** Services at given URLs (a compose stack, a staging environment). */
export function externalPlatform(urls: ServiceUrls, credential: string | undefined): LoadPlatform {
  return { urls, credential, env: null, unavailable: {}, stop: async () => undefined };
}
