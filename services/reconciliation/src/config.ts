// The reconciliation service's settings: environment first, then the platform's endpoints.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';

export interface ReconciliationConfig {
  /** Owner (superuser) URL: runs the migrations; the service itself runs as reconciliation_app. */
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** '' in production; a unique `t-...` prefix per test run. */
  topicPrefix: string;
  port: number;
  host: string;
  /** Password of reconciliation_app (own schema + SELECT on the ledger via ledger_reader). */
  appPassword: string;
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
  return {
    ...platformEndpoints(env),
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(env, 'RECONCILIATION_PORT', 8083, 0, 65_535),
    host: env['RECONCILIATION_HOST'] ?? '127.0.0.1',
    appPassword: env['RECONCILIATION_APP_PASSWORD'] ?? 'reconciliation_app_dev',
    development: isDevelopment(env),
    intervalMs: intSetting(env, 'RECONCILIATION_INTERVAL_MS', 60_000, 0, 86_400_000),
    outcomeTimeoutMs: intSetting(env, 'RECONCILIATION_OUTCOME_TIMEOUT_MS', 300_000, 0, 86_400_000),
    dateWindowDays: intSetting(env, 'RECONCILIATION_DATE_WINDOW_DAYS', 2, 0, 31),
    pageSize: intSetting(env, 'RECONCILIATION_PAGE_SIZE', 5_000, 1, 100_000),
    batchSizeMax: intSetting(env, 'RECONCILIATION_BATCH_SIZE_MAX', 2_000, 1, 10_000),
  };
}
