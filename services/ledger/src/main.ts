// Ledger process entry point: configuration from the environment, graceful SIGTERM.
import { intSetting, isDevelopment, platformEndpoints } from '@ledgerline/platform/config';
import { runService } from '@ledgerline/platform/lifecycle';
import { createLogger } from '@ledgerline/platform/log';
import { startLedger } from './service.js';

const log = createLogger('ledger');
const endpoints = platformEndpoints();
const development = isDevelopment();
const appRolePassword = process.env['LEDGER_APP_PASSWORD'] ?? (development ? 'ledger_app_dev' : '');
if (appRolePassword === '') throw new Error('LEDGER_APP_PASSWORD is required outside development');

await runService(log, () =>
  startLedger({
    databaseUrl: endpoints.databaseUrl,
    kafkaBrokers: endpoints.kafkaBrokers,
    schemaRegistryUrl: endpoints.schemaRegistryUrl,
    topicPrefix: process.env['LEDGERLINE_TOPIC_PREFIX'] ?? '',
    port: intSetting(process.env, 'LEDGER_PORT', 8082, 0, 65_535),
    host: process.env['LEDGER_HOST'] ?? '127.0.0.1',
    appRolePassword,
    autoRegisterSchemas: development,
    log,
  }),
);
