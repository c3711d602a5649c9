// The processor's settings, read once from the environment with bounds; everything else takes
// a ProcessorConfig value, so tests start the service with explicit settings. Outside
// development every secret must be its own (no development password, no admin URL), checked
// first, naming each one.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { AVRO_LONG_SAFE_MAX } from '@ledgerline/platform/avro';
import { roleDatabaseUrl } from '@ledgerline/platform/deploy';
import { assertProductionSecrets } from '@ledgerline/platform/secrets';
import type { ServiceConfig } from '@ledgerline/platform/service/define-service';
import { PROCESSOR_APP_ROLE } from './database.js';

export interface ProcessorConfig extends ServiceConfig {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /**
   * processor_app's URL (PROCESSOR_APP_DATABASE_URL): the only database credential the service
   * holds; migrations are the deploy step's (npm run migrate).
   */
  readonly databaseUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** '' in production; a unique prefix per test file. */
  readonly topicPrefix: string;
  /** Development only: register missing schemas and create missing topics on start. */
  readonly development: boolean;
  readonly amountMinorMax: number;
  readonly bodyLimitBytes: number;
  readonly dbPoolSizeMax: number;
  /** Longest a request waits for a concurrent request with the same Idempotency-Key. */
  readonly idempotencyWaitMsMax: number;
  readonly relayIdlePollMs: number;
  readonly relayBatchSizeMax: number;
  readonly consumerBatchSizeMax: number;
  /**
   * Payments still moving through their saga past which new payments and refunds get 503 with
   * Retry-After (0: no bound); counted every inFlightSampleMs across all instances. By Little's
   * law it bounds the saga's latency at this count ÷ the completion rate: size it as capacity ×
   * the saga latency you accept (500 is about half a second at this machine's ~1,000/s).
   */
  readonly paymentsInFlightMax: number;
  readonly inFlightSampleMs: number;
  /** Off only in tests that play a crash between commit and publish. */
  readonly relayEnabled: boolean;
  readonly consumerEnabled: boolean;
}

export const processorConsumerGroup = 'processor';

/** PROCESSOR_PAYMENTS_IN_FLIGHT_MAX (the bench reports the bound the processor ran with). */
export function paymentsInFlightMaxFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return intSetting(env, 'PROCESSOR_PAYMENTS_IN_FLIGHT_MAX', 500, 0, 1_000_000);
}

export function processorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ProcessorConfig {
  assertProductionSecrets(env, 'processor', [PROCESSOR_APP_ROLE]);
  const endpoints = platformEndpoints(env);
  const development = isDevelopment(env);
  return {
    host: env['PROCESSOR_HOST'] ?? '127.0.0.1',
    port: intSetting(env, 'PROCESSOR_PORT', 8081, 0, 65_535),
    databaseUrl: roleDatabaseUrl(env, PROCESSOR_APP_ROLE),
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    development,
    amountMinorMax: intSetting(
      env,
      'PROCESSOR_AMOUNT_MINOR_MAX',
      AVRO_LONG_SAFE_MAX,
      1,
      AVRO_LONG_SAFE_MAX,
    ),
    bodyLimitBytes: intSetting(env, 'PROCESSOR_BODY_LIMIT_BYTES', 16 * 1024, 1024, 1024 * 1024),
    dbPoolSizeMax: intSetting(env, 'PROCESSOR_DB_POOL_SIZE_MAX', 10, 2, 200),
    idempotencyWaitMsMax: intSetting(env, 'PROCESSOR_IDEMPOTENCY_WAIT_MS_MAX', 5_000, 100, 60_000),
    relayIdlePollMs: intSetting(env, 'PROCESSOR_RELAY_IDLE_POLL_MS', 1_000, 5, 60_000),
    relayBatchSizeMax: intSetting(env, 'PROCESSOR_RELAY_BATCH_SIZE_MAX', 1_000, 1, 10_000),
    consumerBatchSizeMax: intSetting(env, 'PROCESSOR_CONSUMER_BATCH_SIZE_MAX', 500, 1, 10_000),
    paymentsInFlightMax: paymentsInFlightMaxFromEnv(env),
    inFlightSampleMs: intSetting(env, 'PROCESSOR_IN_FLIGHT_SAMPLE_MS', 100, 10, 10_000),
    relayEnabled: true,
    consumerEnabled: true,
  };
}
