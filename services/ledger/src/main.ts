// Ledger process entry point: configuration from the environment, graceful SIGTERM.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { createLogger } from '@ledgerline/platform/log';
import { startLedger } from './service.js';

const log = createLogger('ledger');
const endpoints = platformEndpoints();
const development = isDevelopment();
const appRolePassword = process.env['LEDGER_APP_PASSWORD'] ?? (development ? 'ledger_app_dev' : '');
if (appRolePassword === '') throw new Error('LEDGER_APP_PASSWORD is required outside development');

const ledger = await startLedger({
  databaseUrl: endpoints.databaseUrl,
  kafkaBrokers: endpoints.kafkaBrokers,
  schemaRegistryUrl: endpoints.schemaRegistryUrl,
  topicPrefix: process.env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
  port: intSetting(process.env, 'LEDGER_PORT', 8082, 0, 65_535),
  host: process.env['LEDGER_HOST'] ?? '127.0.0.1',
  appRolePassword,
  autoRegisterSchemas: development,
  log,
});

/** Bounded: a shutdown that hangs is cut short so the orchestrator is not kept waiting. */
const SHUTDOWN_MS_MAX = 20_000;

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error('shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_MS_MAX);
    timer.unref();
    ledger.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
