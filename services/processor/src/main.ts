// The processor as a process: settings from the environment, graceful stop on SIGTERM/SIGINT.
import { runService } from '@ledgerline/platform/lifecycle';
import { createLogger } from '@ledgerline/platform/log';
import { processorConfigFromEnv } from './config.js';
import { startProcessor } from './service.js';

const log = createLogger('processor');
await runService(log, () => startProcessor(processorConfigFromEnv(), log), 30_000);
