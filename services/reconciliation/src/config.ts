// The reconciliation service's settings: environment first, then the platform's endpoints.
// Outside development every secret must be its own (no development password, no admin URL),
// checked first, naming each one.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { roleDatabaseUrl } from '@ledgerline/platform/deploy';
import { assertProductionSecrets } from '@ledgerline/platform/secrets';
import type { ServiceConfig } from '@ledgerline/platform/service/define-service';
import { RECONCILIATION_APP_ROLE } from './database.js';

export interface ReconciliationConfig extends ServiceConfig {
  /**
   * reconciliation_app's URL (RECONCILIATION_APP_DATABASE_URL): its own schema, and SELECT on the
   * ledger through ledger_reader; migrations are the deploy step's (npm run migrate).
   */
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** '' in production; a unique `t-...` prefix per test run. */
  topicPrefix: string;
  port: number;
  host: string;
  /** Development registers missing schemas and creates missing topics on start. */
  development: boolean;
  /** Continuous runs every this many ms; 0 = no continuous runs. */
  intervalMs: number;
  /** How long a payment or command may take to reach its outcome before it is a discrepancy. */
  outcomeTimeoutMs: number;
  /** Statement matching by amount: value date within this many days of the posting day. */
  dateWindowDays: number;
  /** Rows per page of every paged read. */
  pageSize: number;
  /** Most messages applied in one PostgreSQL transaction by the consumer. */
  batchSizeMax: number;
}

export function reconciliationConfigFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): ReconciliationConfig {
  assertProductionSecrets(env, 'reconciliation', [RECONCILIATION_APP_ROLE]);
  const endpoints = platformEndpoints(env);
  return {
    databaseUrl: roleDatabaseUrl(env, RECONCILIATION_APP_ROLE),
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(env, 'RECONCILIATION_PORT', 8083, 0, 65_535),
    host: env['RECONCILIATION_HOST'] ?? '127.0.0.1',
    development: isDevelopment(env),
    intervalMs: intSetting(env, 'RECONCILIATION_INTERVAL_MS', 60_000, 0, 86_400_000),
    outcomeTimeoutMs: intSetting(env, 'RECONCILIATION_OUTCOME_TIMEOUT_MS', 300_000, 0, 86_400_000),
    dateWindowDays: intSetting(env, 'RECONCILIATION_DATE_WINDOW_DAYS', 2, 0, 31),
    pageSize: intSetting(env, 'RECONCILIATION_PAGE_SIZE', 5_000, 1, 100_000),
    batchSizeMax: intSetting(env, 'RECONCILIATION_BATCH_SIZE_MAX', 2_000, 1, 10_000),
  };
}
