// The audit service's settings: environment first, then the platform's endpoints.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';

export interface AuditConfig {
  /** Owner (superuser) URL: runs the migrations; the service itself uses the two roles below. */
  databaseUrl: string;
  kafkaBrokers: string[];
  schemaRegistryUrl: string;
  /** '' in production; a unique `t-...` prefix per test run. */
  topicPrefix: string;
  port: number;
  host: string;
  /** Password of audit_app, the consumer's writer role. */
  appPassword: string;
  /** Password of audit_reader, the API's SELECT-only role. */
  readerPassword: string;
  /** Development registers missing schemas and creates missing topics on start. */
  development: boolean;
  /** A checkpoint of the chain head every this many records. */
  checkpointEvery: number;
  /** Most messages appended in one PostgreSQL transaction. */
  batchSizeMax: number;
}

export function auditConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AuditConfig {
  const endpoints = platformEndpoints(env);
  return {
    ...endpoints,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(env, 'AUDIT_PORT', 8084, 0, 65_535),
    host: env['AUDIT_HOST'] ?? '127.0.0.1',
    appPassword: env['AUDIT_APP_PASSWORD'] ?? 'audit_app_dev',
    readerPassword: env['AUDIT_READER_PASSWORD'] ?? 'audit_reader_dev',
    development: isDevelopment(env),
    checkpointEvery: intSetting(env, 'AUDIT_CHECKPOINT_EVERY', 1_000, 1, 1_000_000),
    batchSizeMax: intSetting(env, 'AUDIT_BATCH_SIZE_MAX', 2_000, 1, 10_000),
  };
}
