// The processor as a process: settings from the environment; the platform runner starts it and
// stops it gracefully on SIGTERM/SIGINT.
import { runServiceProcess } from '@ledgerline/platform/service/runner';
import { processorConfigFromEnv } from './config.js';
import { processor } from './service.js';

await runServiceProcess(processor, processorConfigFromEnv);
