// The ledger's settings from the environment. Outside development every secret must be its own
// (no development password, no admin URL), checked first, naming each one.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { roleDatabaseUrl } from '@ledgerline/platform/deploy';
import { assertProductionSecrets } from '@ledgerline/platform/secrets';
import type { Logger } from '@ledgerline/platform/log';
import type { ServiceConfig } from '@ledgerline/platform/service/define-service';
import { LEDGER_APP_ROLE } from './database.js';
import {
  adjustmentControlFromEnv,
  type AdjustmentControlPolicy,
} from './domain/adjustment-control.js';

export interface LedgerConfig extends ServiceConfig {
  /** Approval threshold and per-key daily caps of adjustments; from the environment if absent. */
  readonly adjustmentControl?: AdjustmentControlPolicy;
  /** Records of one partition per consumer transaction (a coalesced one holds several partitions'). */
  readonly consumerBatchSizeMax?: number;
  readonly log?: Logger;
}

/** Dual control must be a decision wherever real money moves: named with the secrets. */
const ADJUSTMENT_CONTROL_SETTINGS = [
  'LEDGER_ADJUSTMENT_APPROVAL_ABOVE_MINOR',
  'LEDGER_ADJUSTMENT_DAILY_CAP_MINOR',
] as const;

export function ledgerConfigFromEnv(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  assertProductionSecrets(
    env,
    'ledger',
    [LEDGER_APP_ROLE],
    ADJUSTMENT_CONTROL_SETTINGS.filter((name) => (env[name] ?? '') === '').map(
      (name) => `${name} is missing (dual control of adjustments)`,
    ),
  );
  const endpoints = platformEndpoints(env);
  const development = isDevelopment(env);
  return {
    databaseUrl: roleDatabaseUrl(env, LEDGER_APP_ROLE),
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(env, 'LEDGER_PORT', 8082, 0, 65_535),
    consumerBatchSizeMax: intSetting(env, 'LEDGER_CONSUMER_BATCH_SIZE_MAX', 2_000, 1, 10_000),
    host: env['LEDGER_HOST'] ?? '127.0.0.1',
    development,
    // Before anything is started: without a threshold and a cap, production refuses to start.
    adjustmentControl: adjustmentControlFromEnv(env, development),
  };
}
