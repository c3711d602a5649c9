// Ledger process entry point: configuration from the environment, graceful SIGTERM.
import { runService } from '@ledgerline/platform/lifecycle';
import { createLogger } from '@ledgerline/platform/log';
import { ledgerConfigFromEnv } from './config.js';
import { startLedger } from './service.js';

const log = createLogger('ledger');
await runService(log, async () => startLedger({ ...ledgerConfigFromEnv(), log }));
